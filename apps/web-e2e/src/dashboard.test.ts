import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BROWSER_REQUIRED,
  CHROMIUM,
  EXPERIMENTS,
  HAVE_CHROMIUM,
  finished,
  launchChromium,
  openPage,
  rawGet,
  runner,
  screenshot,
  startDashboardCli,
  startRunner,
  temporaryFolder,
} from './harness';

/**
 * The dashboard end to end: real runs made by the runner CLI, `runner ui` serving them, and the
 * web app in headless Chromium — the run list, a run's charts, a run followed while it trains, the
 * editor's errors at their line, linear regression trained in the page, the page and the CLI
 * agreeing on wasm, and starting a run on this machine.
 */

const logdir = join(temporaryFolder('logdir'), 'runs');

/** Where Debian's dataset-fashion-mnist puts the files (the dataset's default dir). */
const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

const CSV_EXPERIMENT = `name: csv-line
seed: 1
data: {type: csv, train: points.csv, features: [x], labels: [y]}
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables: {k: {initializer: {type: zeros}}, b: {initializer: {type: zeros}}}
  nodes: {prediction: k * x + b, loss: reduceMean(square(y - prediction))}
  loss: loss
  fetch: [k, b]
train: {optimizer: {type: sgd, learningRate: 0.5}, steps: 600, logEvery: 50}
`;

const FASHION_EXPERIMENT = `name: fashion-softmax
seed: 1
data: {type: fashion-mnist, flatten: true, limit: {train: 1000, test: 200}}
model:
  type: sequential
  input: {shape: [784]}
  layers: [{type: dense, units: 10}]
  loss: {type: softmaxCrossEntropy}
  metrics: [{type: accuracy}]
train: {optimizer: {type: sgd, learningRate: 0.2}, batchSize: 100, epochs: 1}
`;
let dashboard: Awaited<ReturnType<typeof startDashboardCli>>;
let browser: Browser;
const pageErrors: string[] = [];

function summaryMetrics(runDir: string): Record<string, number> {
  return (JSON.parse(readFileSync(join(logdir, runDir, 'summary.json'), 'utf8')) as { metrics: Record<string, number> }).metrics;
}

/** The final metrics the page shows after a run in the browser, with every digit. */
async function pageMetrics(page: Page): Promise<Record<string, number>> {
  const cells = await page.$$eval('#page-metrics [data-metric]', (els) => els.map((e) => [e.getAttribute('data-metric')!, e.getAttribute('data-value')!] as const));
  return Object.fromEntries(cells.map(([k, v]) => [k, Number(v)]));
}

/** Replaces the editor's whole text, as typing would. */
async function setEditorText(page: Page, text: string): Promise<void> {
  await page.click('.cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(text);
  await page.keyboard.press('Escape');
}

async function openEditor(page: Page, experiment: string): Promise<void> {
  await page.goto(`${dashboard.url}#/editor?experiment=${experiment}`);
  await page.waitForSelector('.cm-content');
  await page.waitForFunction((name) => document.querySelector('.cm-content')?.textContent?.includes(`name: ${name}`), experiment.replace(/\.yaml$/, ''));
}

async function runInPage(page: Page, options: { backend: string; quick?: boolean }): Promise<void> {
  await page.selectOption('#backend', options.backend);
  if (options.quick === true) await page.check('#quick');
  await page.click('#run-here');
  await page.waitForFunction(() => !['idle', 'running'].includes(document.querySelector('#run-panel')?.getAttribute('data-state') ?? 'idle'), null, { timeout: 300_000 });
  const state = await page.getAttribute('#run-panel', 'data-state');
  expect(state, (await page.textContent('#run-panel')) ?? '').toBe('completed');
}

describe.skipIf(!HAVE_CHROMIUM && !BROWSER_REQUIRED)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`DLEXP_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    // Real runs: the CLI on wasm (the page's reference), a small MNIST run and a sweep.
    for (const args of [
      [join(EXPERIMENTS, 'linear-regression.yaml'), '--backend', 'wasm', '--out', join(logdir, 'linear-regression', 'cli-wasm')],
      [join(EXPERIMENTS, 'mnist-softmax.yaml'), '--quick', '--backend', 'wasm', '--out', join(logdir, 'mnist-softmax', 'quick-wasm')],
      [join(EXPERIMENTS, 'mnist-loss-comparison.yaml'), '--quick', '--backend', 'wasm', '--out', join(logdir, 'mnist-loss-comparison', 'sweep-quick')],
    ]) {
      const result = await runner(args);
      expect(result.code, result.output).toBe(0);
    }
    dashboard = await startDashboardCli(logdir, ['--allow-runs']);
    browser = await launchChromium();
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    if (dashboard !== undefined) {
      dashboard.child.kill('SIGTERM');
      const stopped = await finished(dashboard.child, 30_000);
      expect(stopped.code, stopped.output).toBe(0);
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('lists every run and sweep from one request, and draws a run\'s charts', async () => {
    const page = await openPage(browser, pageErrors);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.goto(dashboard.url);
    await page.waitForSelector('#runs-table');
    const paths = await page.$$eval('#runs-table tbody tr', (rows) => rows.map((r) => r.getAttribute('data-path')));
    expect(paths).toEqual(expect.arrayContaining(['linear-regression/cli-wasm', 'mnist-softmax/quick-wasm', 'mnist-loss-comparison/sweep-quick', 'mnist-loss-comparison/sweep-quick/trials/trial-001']));
    expect(requests.filter((p) => p.startsWith('/api/'))).toEqual(['/api/runs']);
    expect(await page.textContent('tr[data-path="mnist-softmax/quick-wasm"] [data-metric="test.accuracy"]')).toBe(String(summaryMetrics('mnist-softmax/quick-wasm')['test.accuracy']));
    await screenshot(page, 'runs');

    await page.click('tr[data-path="mnist-softmax/quick-wasm"] td.name a');
    await page.waitForSelector('figure[data-chart="loss"] [data-rendered="true"]');
    await page.waitForSelector('figure[data-chart="accuracy"] [data-rendered="true"]');
    // The loss chart has its lines, a legend with the splits, and its title.
    const loss = page.locator('figure[data-chart="loss"]');
    expect(await loss.locator('svg .mark-line path').count()).toBeGreaterThan(0);
    expect(await loss.textContent()).toContain('loss per split');
    expect(await page.textContent('#model')).toContain('7,850');
    expect(await page.textContent('#expectations')).toContain('1 of 1 met');
    expect(await page.textContent('#config')).toContain('softmaxCrossEntropy');
    await screenshot(page, 'run');
    await page.context().close();
  });

  it('shows a sweep\'s trials and figures, and compares runs', async () => {
    const page = await openPage(browser, pageErrors);
    await page.goto(`${dashboard.url}#/sweep/mnist-loss-comparison/sweep-quick`);
    await page.waitForSelector('#trials-table');
    expect(await page.locator('#trials-table tbody tr').count()).toBe(2);
    await page.waitForSelector('figure[data-chart="parallel-coordinates"] [data-rendered="true"]');
    // The metric against each hyperparameter: `sweep-<the sweep's metric>`.
    await page.waitForSelector('figure[data-chart^="sweep-"] [data-rendered="true"]');
    await screenshot(page, 'sweep');

    await page.goto(dashboard.url);
    await page.waitForSelector('#runs-table');
    await page.check('tr[data-path="mnist-loss-comparison/sweep-quick/trials/trial-001"] input[type="checkbox"]');
    await page.check('tr[data-path="mnist-softmax/quick-wasm"] input[type="checkbox"]');
    await page.click('#compare-selected');
    await page.waitForSelector('#comparison-table');
    const differing = await page.$$eval('#comparison-table tr.config-key th', (ths) => ths.map((t) => t.textContent));
    expect(differing).toEqual(expect.arrayContaining(['name', 'model.loss.type']));
    await page.waitForSelector('figure[data-chart="curves-train.loss"] [data-rendered="true"]');
    expect(await page.locator('figure[data-chart="curves-train.loss"] svg .mark-line path').count()).toBe(2);
    await screenshot(page, 'compare');
    await page.context().close();
  });

  it('follows a run that is still training: new rows arrive on the chart', async () => {
    const live = startRunner([join(EXPERIMENTS, 'linear-regression.yaml'), '--backend', 'cpu', '--set', 'train.steps=2000000', '--set', 'train.logEvery=250', '--out', join(logdir, 'linear-regression', 'live')]);
    try {
      const metrics = join(logdir, 'linear-regression', 'live', 'metrics.jsonl');
      for (let i = 0; i < 600 && !(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 2); i++) await new Promise((r) => setTimeout(r, 100));
      const page = await openPage(browser, pageErrors);
      await page.goto(`${dashboard.url}#/run/linear-regression/live`);
      await page.waitForSelector('#live-indicator');
      await page.waitForSelector('figure[data-chart="loss"] [data-rendered="true"]');
      const rowsNow = async () => Number(await page.getAttribute('#row-count', 'data-rows'));
      const lineLength = async () => (await page.getAttribute('figure[data-chart="values"] svg .mark-line path', 'd'))?.length ?? 0;
      const [rows, drawn] = [await rowsNow(), await lineLength()];
      await page.waitForFunction((before) => Number(document.querySelector('#row-count')?.getAttribute('data-rows')) >= before + 3, rows, { timeout: 60_000 });
      await page.waitForFunction((before) => (document.querySelector('figure[data-chart="values"] svg .mark-line path')?.getAttribute('d')?.length ?? 0) > before, drawn, { timeout: 30_000 });
      expect(await rowsNow()).toBeGreaterThan(rows);
      expect(await lineLength()).toBeGreaterThan(drawn);
      await screenshot(page, 'run-live');
      // Interrupted, the run writes its summary: the page shows it ended without a reload.
      live.kill('SIGTERM');
      await page.waitForSelector('main.run-page[data-status="interrupted"]', { timeout: 60_000 });
      expect(await page.locator('#live-indicator').count()).toBe(0);
      await page.context().close();
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('marks a broken experiment at its line, as the CLI reports it', async () => {
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'linear-regression.yaml');
    await page.waitForSelector('#problems[data-count="0"][data-current="true"]');
    const text = readFileSync(join(EXPERIMENTS, 'linear-regression.yaml'), 'utf8');
    const lines = text.split('\n');
    const optimizerLine = lines.findIndex((l) => l.includes('learningRate: 0.2')) + 1;
    const stepsLine = lines.findIndex((l) => /^\s+steps: 201/.test(l)) + 1;
    const broken = text.replace('learningRate: 0.2', 'learningRate: fast').replace(/^(\s+)steps: 201/m, '$1stepz: 201');
    await setEditorText(page, broken);
    await page.waitForSelector('#problems li[data-line]', { timeout: 30_000 });
    const problems = await page.$$eval('#problems li', (items) => items.map((li) => ({ line: Number(li.getAttribute('data-line')), text: li.textContent ?? '' })));
    expect(problems.find((p) => p.line === optimizerLine)?.text).toMatch(new RegExp(`^linear-regression\\.yaml:${optimizerLine}:\\d+: train\\.optimizer\\.learningRate: `));
    expect(problems.find((p) => p.line === stepsLine)?.text).toContain("did you mean 'steps'");
    // The editor marks the same line.
    const marked = await page.$$eval('.cm-lintRange-error', (ranges) => ranges.map((r) => r.closest('.cm-line')?.textContent ?? ''));
    expect(marked.some((line) => line.includes('learningRate: fast'))).toBe(true);
    await screenshot(page, 'editor-error');

    // The same file through `runner validate` names the same lines.
    const folder = temporaryFolder('broken');
    const file = join(folder, 'linear-regression.yaml');
    writeFileSync(file, broken);
    const validated = await runner(['validate', file]);
    expect(validated.code).toBe(2);
    expect(validated.output).toContain(`:${optimizerLine}:`);
    expect(validated.output).toContain(`:${stepsLine}:`);
    await page.context().close();
  });

  it('completes keys and registry names from the schema', async () => {
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'linear-regression.yaml');
    await setEditorText(page, 'name: typed\ntrain:\n  optimizer:\n    type: ');
    await page.keyboard.type('ad');
    await page.waitForSelector('.cm-tooltip-autocomplete');
    const names = await page.$$eval('.cm-tooltip-autocomplete li', (items) => items.map((i) => i.textContent ?? ''));
    expect(names.some((n) => n.startsWith('adam'))).toBe(true);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await page.keyboard.type('lear');
    await page.waitForSelector('.cm-tooltip-autocomplete li:has-text("learningRate")');
    await screenshot(page, 'editor-completion');
    await page.keyboard.press('Enter');
    expect(await page.textContent('.cm-content')).toContain('learningRate: ');
    await page.context().close();
  });

  it('trains linear-regression.yaml in the page: k and b fitted, and the same numbers as the CLI on wasm', async () => {
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'linear-regression.yaml');
    await runInPage(page, { backend: 'wasm' });
    const metrics = await pageMetrics(page);
    expect(metrics['k']).toBeCloseTo(0.1, 3);
    expect(metrics['b']).toBeCloseTo(0.2, 3);
    expect(await page.textContent('#page-expectations')).toContain('2 of 2 met');
    await page.waitForSelector('figure[data-chart="values"] [data-rendered="true"]');
    const cli = summaryMetrics('linear-regression/cli-wasm');
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(cli).sort());
    for (const [key, value] of Object.entries(cli)) expect(Math.abs(metrics[key]! - value), key).toBeLessThan(1e-3);
    await screenshot(page, 'editor-run');
    await page.context().close();
  });

  it('trains MNIST softmax (--quick) in the page on wasm with the CLI\'s final metrics', async () => {
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'mnist-softmax.yaml');
    await runInPage(page, { backend: 'wasm', quick: true });
    const metrics = await pageMetrics(page);
    const cli = summaryMetrics('mnist-softmax/quick-wasm');
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(cli).sort());
    for (const [key, value] of Object.entries(cli)) expect(Math.abs(metrics[key]! - value), key).toBeLessThan(1e-3);
    await screenshot(page, 'editor-mnist');
    await page.context().close();
  });

  it('trains on a CSV file dropped on the page', async () => {
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'linear-regression.yaml');
    await setEditorText(page, CSV_EXPERIMENT);
    await page.waitForSelector('#problems[data-count="0"][data-current="true"]');
    // Without the file, the run stops at the data and names it.
    await page.selectOption('#backend', 'wasm');
    await page.click('#run-here');
    await page.waitForSelector('#run-panel[data-state="error"]');
    expect(await page.textContent('#run-problems')).toContain('points.csv');
    const rows = Array.from({ length: 40 }, (_, i) => `${(i / 40).toFixed(3)},${(0.5 * (i / 40) + 0.3).toFixed(4)}`);
    await page.setInputFiles('input[type="file"]', { name: 'points.csv', mimeType: 'text/csv', buffer: Buffer.from(`x,y\n${rows.join('\n')}\n`) });
    await page.waitForSelector('#page-files');
    await runInPage(page, { backend: 'wasm' });
    const metrics = await pageMetrics(page);
    expect(metrics['k']).toBeCloseTo(0.5, 2);
    expect(metrics['b']).toBeCloseTo(0.3, 2);
    await page.context().close();
  });

  it.skipIf(!existsSync(FASHION_MNIST))('trains on Fashion-MNIST (gzip files from the server) with the CLI\'s numbers', async () => {
    const folder = temporaryFolder('fashion');
    writeFileSync(join(folder, 'fashion.yaml'), FASHION_EXPERIMENT);
    const cli = await runner([join(folder, 'fashion.yaml'), '--backend', 'wasm', '--out', join(logdir, 'fashion', 'cli-wasm')]);
    expect(cli.code, cli.output).toBe(0);
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'linear-regression.yaml');
    await setEditorText(page, FASHION_EXPERIMENT);
    await page.waitForSelector('#problems[data-count="0"][data-current="true"]');
    await runInPage(page, { backend: 'wasm' });
    const metrics = await pageMetrics(page);
    expect(metrics['test.accuracy']).toBeGreaterThan(0.5);
    for (const [key, value] of Object.entries(summaryMetrics('fashion/cli-wasm'))) expect(Math.abs(metrics[key]! - value), key).toBeLessThan(1e-3);
    await page.context().close();
  });

  it('starts a run on this machine that appears in the list', async () => {
    const page = await openPage(browser, pageErrors);
    await openEditor(page, 'linear-regression.yaml');
    await page.check('#quick');
    await page.click('#run-machine');
    await page.waitForSelector('#launch[data-state]', { timeout: 120_000 });
    const link = page.locator('#launch a');
    const path = (await link.textContent())!;
    expect(path).toMatch(/^linear-regression\/\d{8}-\d{6}-web$/);
    await link.click();
    await page.waitForSelector('main.run-page[data-status="completed"]', { timeout: 120_000 });
    await page.goto(dashboard.url);
    await page.waitForSelector(`tr[data-path="${path}"][data-status="completed"]`);
    await page.context().close();
  });

  it('binds to loopback and serves nothing outside the log folder', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    if (external !== undefined) await expect(rawGet(dashboard.port, '/api/runs', external.address)).rejects.toThrow(/ECONNREFUSED/);
    for (const path of ['/api/run?path=../../etc', '/api/run?path=%2Fetc', '/..%2F..%2F..%2Fetc%2Fpasswd', '/../package.json', '/api/experiments/..%2Fpackage.json']) {
      const response = await rawGet(dashboard.port, path);
      expect([400, 403, 404], path).toContain(response.status);
      expect(response.body).not.toContain('root:');
    }
  });
});

