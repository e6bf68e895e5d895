/**
 * The course CNN (experiments/mnist-cnn.yaml) trained in headless Chromium on each backend the
 * browser offers here: milliseconds per training step (batch 100), through the dashboard's editor
 * exactly as a person would run it. Run by hand, not in CI:
 *
 *   npx tsx apps/web-e2e/bench/cnn-step-time.ts [--steps 30] [--backends webgpu,webgl,wasm,cpu]
 *
 * Prints one line per backend: the mean over all steps (first steps include compiling shaders and
 * kernels) and the steady time between the first and the last logged step.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXPERIMENTS, finished, launchChromium, startDashboardCli, temporaryFolder } from '../src/harness';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '30' }, backends: { type: 'string', default: 'webgpu,webgl,wasm,cpu' } } });
const steps = Number(values.steps);
const wanted = values.backends.split(',');

// The experiment as written, with a budget in steps and enough training data that no epoch ends
// (an epoch end evaluates the test split, which is not a training step).
// The quick block goes: its epochs would clash with the steps.
const text = readFileSync(join(EXPERIMENTS, 'mnist-cnn.yaml'), 'utf8')
  .replace(/^quick:[\s\S]*$/m, '')
  .replace(/^(\s+)epochs: 2\b.*$/m, `$1steps: ${steps}\n$1logEvery: 5`)
  .replace(/^(\s+)type: mnist\b.*$/m, `$1type: mnist\n$1limit: {train: ${(steps + 1) * 100}, test: 100}`);

const dashboard = await startDashboardCli(join(temporaryFolder('bench'), 'runs'));
const browser = await launchChromium();
const page = await (await browser.newContext()).newPage();
try {
  await page.goto(`${dashboard.url}#/editor`);
  await page.waitForSelector('.cm-content');
  await page.click('.cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
  await page.waitForSelector('#problems[data-current="true"]', { timeout: 60_000 });
  if ((await page.getAttribute('#problems', 'data-count')) !== '0') throw new Error(`the edited experiment has problems: ${await page.textContent('#problems')}`);
  const offered = await page.$$eval('#backend option', (options) => options.map((o) => ({ value: (o as HTMLOptionElement).value, disabled: (o as HTMLOptionElement).disabled, text: o.textContent })));
  for (const backend of wanted) {
    const option = offered.find((o) => o.value === backend);
    if (option === undefined || option.disabled) {
      process.stdout.write(`${backend}: not offered by this browser\n`);
      continue;
    }
    await page.selectOption('#backend', backend);
    await page.click('#run-here');
    await page.waitForFunction(() => !['idle', 'running'].includes(document.querySelector('#run-panel')?.getAttribute('data-state') ?? 'idle'), null, { timeout: 1_800_000 });
    const state = await page.getAttribute('#run-panel', 'data-state');
    if (state !== 'completed') {
      process.stdout.write(`${backend}: ${state}: ${await page.textContent('#run-problems').catch(() => '')}\n`);
      continue;
    }
    const mean = Number(await page.getAttribute('#ms-per-step', 'data-value'));
    const steady = Number(await page.getAttribute('#ms-per-step', 'data-steady'));
    const device = (await page.textContent('#messages'))?.match(/backend \w+ \(([^)]*)\)/)?.[1] ?? '';
    process.stdout.write(`${backend}: ${mean.toFixed(0)} ms/step over ${steps} steps, ${steady.toFixed(0)} ms/step steady (${device})\n`);
  }
} finally {
  await browser.close();
  dashboard.child.kill('SIGTERM');
  await finished(dashboard.child, 30_000);
}
