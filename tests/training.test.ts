import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerSerializables } from '@dlexp/layers';
import { ROOT, RUNNER_BIN, runner, runnerEnvironment, temporaryFolder } from './helpers';

const SOFTMAX = 'experiments/mnist-softmax.yaml';

function metricsWithoutTime(dir: string): Record<string, number>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { timeMs: _t, ...rest } = JSON.parse(line) as Record<string, number>;
      return rest;
    });
}

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

/** Starts a run in the background and stops it with `signal` once it has written `checkpoints` checkpoints. */
async function startAndStop(args: string[], out: string, signal: NodeJS.Signals, checkpoints: number): Promise<number | null> {
  const child = spawn(RUNNER_BIN, [...args, '--out', out], { cwd: ROOT, stdio: 'ignore', env: runnerEnvironment() });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const folder = join(out, 'checkpoints');
    if (existsSync(folder) && readdirSync(folder).filter((n) => n.startsWith('step-')).length >= checkpoints) break;
  }
  child.kill(signal);
  return exited;
}

describe.each(['cpu', 'wasm', 'native'])('training on %s', (backend) => {
  // Twelve epochs leave a wide window between the second checkpoint (step 6) and the end of the
  // run, so the kill below always lands mid-run, whatever the machine's speed.
  const args = [SOFTMAX, '--quick', '--backend', backend, '--set', 'train.checkpointEvery=3', '--set', 'train.epochs=12'];

  it('is reproducible: the same config, seed and backend give the same metrics.jsonl apart from timeMs', async () => {
    const [a, b] = [join(temporaryFolder('repeat-'), 'run'), join(temporaryFolder('repeat-'), 'run')];
    for (const out of [a, b]) expect((await runner([...args, '--out', out])).status).toBe(0);
    expect(metricsWithoutTime(a!)).toEqual(metricsWithoutTime(b!));
    expect(summaryOf(a!).metrics).toEqual(summaryOf(b!).metrics);
  });

  it('resumes a run killed with SIGKILL mid-epoch to exactly the metrics and weights of an uninterrupted run', async () => {
    const whole = join(temporaryFolder('whole-'), 'run');
    expect((await runner([...args, '--out', whole])).status).toBe(0);
    const killed = join(temporaryFolder('killed-'), 'run');
    await startAndStop(args, killed, 'SIGKILL', 2);
    expect(existsSync(join(killed, 'summary.json'))).toBe(false);
    const resumed = await runner(['resume', killed]);
    expect(resumed.stdout).toMatch(/resuming from step \d+/);
    expect(resumed.status).toBe(0);
    expect(metricsWithoutTime(killed)).toEqual(metricsWithoutTime(whole));
    expect(summaryOf(killed).metrics).toEqual(summaryOf(whole).metrics);
    expect(readFileSync(join(killed, 'model', 'weights.bin')).equals(readFileSync(join(whole, 'model', 'weights.bin')))).toBe(true);
  });
});

describe('across backends', () => {
  it('cpu and wasm reach the same results within float tolerance', async () => {
    const runs: Record<string, number>[] = [];
    for (const backend of ['cpu', 'wasm']) {
      const out = join(temporaryFolder(`across-${backend}-`), 'run');
      expect((await runner([SOFTMAX, '--quick', '--backend', backend, '--out', out])).status).toBe(0);
      runs.push(summaryOf(out).metrics as Record<string, number>);
    }
    for (const key of Object.keys(runs[0]!)) expect(runs[1]![key]).toBeCloseTo(runs[0]![key]!, 3);
  });
});

// WebGPU runs on any Vulkan adapter; CI installs Mesa's software one and sets DLEXP_REQUIRE_WEBGPU=1
// so that these run there. Elsewhere they run when an adapter exists, and say why when not.
const webgpuProbe = await runner(['experiments/linear-regression.yaml', '--quick', '--backend', 'webgpu', '--out', join(temporaryFolder('webgpu-probe-'), 'run')]);
const noWebgpu = process.env['DLEXP_REQUIRE_WEBGPU'] === '1' || webgpuProbe.status === 0 ? undefined : webgpuProbe.stderr.trim();
if (noWebgpu !== undefined) console.warn(`webgpu training tests skipped: ${noWebgpu}`);

describe.skipIf(noWebgpu !== undefined)('training on webgpu', () => {
  it('trains, checkpoints and evaluates (every tensor read back asynchronously)', async () => {
    expect(webgpuProbe.status).toBe(0);
    const out = join(temporaryFolder('webgpu-'), 'run');
    const result = await runner([SOFTMAX, '--quick', '--backend', 'webgpu', '--out', out]);
    expect(result.status).toBe(0);
    const summary = summaryOf(out);
    expect(summary.backend).toMatchObject({ name: 'webgpu', tfBackend: 'webgpu' });
    expect(typeof summary.backend.adapter).toBe('string');
    expect(readdirSync(join(out, 'checkpoints')).length).toBeGreaterThan(0);
    expect((await runner(['evaluate', out])).status).toBe(0);
  });
});

describe('interrupting and restoring', () => {
  it('SIGINT saves a checkpoint, marks the run interrupted, and resume completes it', async () => {
    const out = join(temporaryFolder('sigint-'), 'run');
    const code = await startAndStop([SOFTMAX, '--quick', '--backend', 'cpu', '--set', 'train.epochs=30', '--set', 'train.checkpointEvery=2'], out, 'SIGINT', 1);
    expect(code).toBe(130);
    const summary = summaryOf(out);
    expect(summary.status).toBe('interrupted');
    expect((await runner(['resume', out])).status).toBe(0);
    expect(summaryOf(out).status).toBe('completed');
    expect((await runner(['resume', out])).stderr).toMatch(/already completed/);
  });

  it('evaluate restores the saved model (TF.js Layers format) and reproduces its test metrics', async () => {
    const out = join(temporaryFolder('evaluate-'), 'run');
    expect((await runner([SOFTMAX, '--quick', '--backend', 'cpu', '--out', out])).status).toBe(0);
    const model = JSON.parse(readFileSync(join(out, 'model', 'model.json'), 'utf8'));
    expect(model.format).toBe('layers-model');
    expect(model.weightsManifest[0].paths).toEqual(['weights.bin']);
    const result = await runner(['evaluate', out, '--split', 'test']);
    expect(result.status).toBe(0);
    const accuracy = summaryOf(out).metrics['test.accuracy'] as number;
    expect(result.stdout).toMatch(new RegExp(`test\\.accuracy\\s+│ ${accuracy.toPrecision(4).replace(/0+$/, '').replace('.', '\\.')}`));
    expect((await runner(['evaluate', out, '--split', 'nope'])).status).toBe(2);
  });

  it('the saved model loads with tf.loadLayersModel once the layers library\'s classes are registered', async () => {
    const out = join(temporaryFolder('load-'), 'run');
    expect((await runner(['experiments/mnist-cnn.yaml', '--quick', '--backend', 'wasm', '--set', 'data.limit={train: 100, test: 50}', '--set', 'quick.expect={}', '--out', out])).status).toBe(0);
    registerSerializables();
    const json = JSON.parse(readFileSync(join(out, 'model', 'model.json'), 'utf8'));
    const weights = readFileSync(join(out, 'model', 'weights.bin'));
    const model = await tf.loadLayersModel({
      load: async () => ({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: new Uint8Array(weights).buffer,
      }),
    });
    const logits = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    expect(logits.shape).toEqual([2, 10]);
    expect(model.layers.map((l) => l.name)).toContain('conv1');
    tf.dispose(logits);
    model.dispose();
  });
});

describe('early stopping', () => {
  it('stops when the watched metric stops improving, and says so in summary.json', async () => {
    const out = join(temporaryFolder('early-'), 'run');
    const result = await runner([SOFTMAX, '--quick', '--backend', 'cpu', '--out', out, '--set', 'train.epochs=30', '--set', 'train.earlyStopping={metric: test.loss, patience: 2, minDelta: 0.01}']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/early stopping: test\.loss did not improve for 2 epochs; stopped after epoch \d+/);
    const summary = summaryOf(out);
    expect(summary.stoppedEarlyAtEpoch).toBeLessThan(30);
    expect(summary.timing.epochs).toBe(summary.stoppedEarlyAtEpoch);
  });
  it('a watched metric that is never measured is a config error before training', async () => {
    const out = join(temporaryFolder('early-bad-'), 'run');
    const result = await runner([SOFTMAX, '--quick', '--backend', 'cpu', '--out', out, '--set', 'train.earlyStopping={metric: validation.loss}']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/train\.earlyStopping\.metric: 'validation\.loss' is not measured at epoch ends/);
    expect(existsSync(out)).toBe(false);
  });
});
