import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runner, temporaryFolder } from './helpers';

function readRun(dir: string) {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
  return { summary, metrics };
}

describe('linear regression (the course: y = 0.1x + 0.2)', () => {
  it('learns k ≈ 0.1 and b ≈ 0.2 and reports them in summary.json', async () => {
    const out = join(temporaryFolder('linear-'), 'run');
    const result = await runner(['experiments/linear-regression.yaml', '--out', out]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`run directory: ${out}`);
    const { summary, metrics } = readRun(out);
    expect(summary).toMatchObject({ name: 'linear-regression', status: 'completed', seed: 1, backend: { name: 'cpu' } });
    expect(summary.metrics.k).toBeCloseTo(0.1, 2);
    expect(summary.metrics.b).toBeCloseTo(0.2, 2);
    expect(Math.abs(summary.metrics.k - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(summary.metrics.b - 0.2)).toBeLessThan(0.01);
    expect(summary.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.versions).toMatchObject({ tfjs: '4.22.0' });
    expect(Object.keys(summary.metrics).sort()).toEqual(['b', 'k', 'train.loss']);
    // logged every 20 steps, plus the first and the last
    expect(metrics.map((m) => m['step'])).toEqual([1, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 201]);
    for (const row of metrics) expect(Object.keys(row).sort()).toEqual(['b', 'epoch', 'k', 'learningRate', 'step', 'timeMs', 'train.loss']);
    expect(readFileSync(join(out, 'config.resolved.yaml'), 'utf8')).toContain('learningRate: 0.2');
    // the graph, as a TensorFlow GraphDef
    const graph = JSON.parse(readFileSync(join(out, 'graph.json'), 'utf8')) as { node: { name: string; op: string; input?: string[] }[] };
    const node = (name: string) => graph.node.find((n) => n.name === name);
    expect(node('k')).toMatchObject({ op: 'VariableV2' });
    expect(node('x')).toMatchObject({ op: 'Placeholder' });
    expect(node('prediction')).toMatchObject({ op: 'AddV2' });
    expect(node('loss')).toMatchObject({ op: 'Mean' });
  });

  it('is reproducible: the same seed gives the same metrics.jsonl apart from timeMs', async () => {
    const runs: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const out = join(temporaryFolder('linear-repeat-'), 'run');
      expect((await runner(['experiments/linear-regression.yaml', '--out', out, '--set', 'data.noiseStddev=0.05', '--set', 'expect={}'])).status).toBe(0);
      runs.push(readRun(out).metrics.map(({ timeMs: _t, ...rest }) => rest));
    }
    expect(runs[0]).toEqual(runs[1]);
  });

  it('fails with exit 1 and a table when an expectation is not met', async () => {
    const out = join(temporaryFolder('linear-unmet-'), 'run');
    const result = await runner(['experiments/linear-regression.yaml', '--out', out, '--set', 'train.steps=1']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/2 of 2 expectations not met/);
    expect(result.stdout).toMatch(/│ k\s+│ ≥ 0\.09 and ≤ 0\.11\s+│ [0-9.]+\s+│ FAILED/);
    expect(readRun(out).summary.status).toBe('completed');
  });

  it('runs its --quick variant and checks quick.expect', async () => {
    const out = join(temporaryFolder('linear-quick-'), 'run');
    const result = await runner(['experiments/linear-regression.yaml', '--quick', '--out', out]);
    expect(result.status).toBe(0);
    const { summary, metrics } = readRun(out);
    expect(summary.timing.steps).toBe(50);
    expect(summary.expectations.map((e: { metric: string }) => e.metric)).toEqual(['train.loss']);
    expect(metrics.at(-1)!['step']).toBe(50);
  });
});

describe('nonlinear regression (the course: 1-10-1 tanh on y = x² + noise)', () => {
  it('reaches MSE ≤ 0.0015 in 2000 steps and saves its predictions', async () => {
    const out = join(temporaryFolder('nonlinear-'), 'run');
    const result = await runner(['experiments/nonlinear-regression.yaml', '--out', out]);
    expect(result.status).toBe(0);
    const { summary } = readRun(out);
    expect(summary.status).toBe('completed');
    expect(summary.metrics['train.loss']).toBeLessThanOrEqual(0.0015);
    expect(summary.timing.steps).toBe(2000);
    const csv = readFileSync(join(out, 'predictions.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('x,y,prediction');
    expect(csv).toHaveLength(201);
    const rows = csv.slice(1).map((line) => line.split(',').map(Number));
    const mse = rows.reduce((s, [, y, p]) => s + (y! - p!) ** 2, 0) / rows.length;
    expect(mse).toBeCloseTo(summary.metrics['train.loss'], 6);
  });
});

describe('bad input', () => {
  it('an invalid config exits 2 with file:line:col diagnostics, no stack trace and no run directory', async () => {
    const root = temporaryFolder('invalid-');
    const result = await runner([join(ROOT, 'experiments/linear-regression.yaml'), '--set', 'train.optimizer.type=adma', '--set', 'seed=-1'], { cwd: root });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--set:1:22: train.optimizer.type: unknown optimizer 'adma'; did you mean 'adam'?");
    expect(result.stderr).toContain('--set:1:6: seed: -1 is out of range: must be at least 0');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(root, 'runs'))).toBe(false);
  });
  it('a config error found only when loading data or building the model is reported at its YAML position', async () => {
    const folder = temporaryFolder('runtime-config-');
    const file = join(folder, 'exp.yaml');
    writeFileSync(
      file,
      `name: runtime
backend: cpu
data:
  type: idx
  train: {x: missing-images.idx, y: missing-labels.idx}
  classes: 10
model:
  type: sequential
  input: {shape: [784]}
  layers: [{type: dense, units: 10}]
  loss: {type: softmaxCrossEntropy}
train: {optimizer: {type: sgd}, steps: 1}
`,
    );
    const missing = await runner([file], { cwd: folder });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^exp\.yaml:4:3: data: .*missing-images\.idx/m);
    expect(existsSync(join(folder, 'runs'))).toBe(false);
    writeFileSync(
      file,
      `name: runtime
backend: cpu
data: {type: mnist, flatten: true, limit: {train: 10, test: 10}}
model:
  type: graph
  inputs: {x: {shape: [784]}}
  nodes:
    - {type: dense, name: trunk, units: 8, inputs: [x]}
    - {type: dense, name: logits, units: 10, inputs: [trunc]}
  outputs: {digit: logits}
  heads: {digit: {loss: {type: softmaxCrossEntropy}, target: y}}
train: {optimizer: {type: sgd}, steps: 1}
`,
    );
    const unknownInput = await runner([file], { cwd: folder });
    expect(unknownInput.status).toBe(2);
    expect(unknownInput.stderr).toMatch(/^exp\.yaml:9:\d+: model\.nodes\.1.*'trunc'.*did you mean 'trunk'/m);
    expect(existsSync(join(folder, 'runs'))).toBe(false);
  });

  it('shape problems in an op graph are config errors found before training, at the node', async () => {
    const folder = temporaryFolder('shapes-');
    const placeholder = await runner(['experiments/linear-regression.yaml', '--set', 'model.placeholders.x.shape=[null, 2]', '--out', join(folder, 'a')]);
    expect(placeholder.status).toBe(2);
    expect(placeholder.stderr).toMatch(/^experiments\/linear-regression\.yaml:\d+:\d+: model\.placeholders\.x: placeholder 'x' expects shape \[\?, 2\], was fed \[2, 1\]$/m);
    const notScalar = await runner(['experiments/linear-regression.yaml', '--set', 'model.nodes.loss=square(y - prediction)', '--out', join(folder, 'b')]);
    expect(notScalar.status).toBe(2);
    expect(notScalar.stderr).toMatch(/model\.nodes\.loss: the loss 'loss' must be a scalar/);
    expect(existsSync(join(folder, 'a'))).toBe(false);
    expect(existsSync(join(folder, 'b'))).toBe(false);
  });

  it('a backend named explicitly that cannot load is an error that says what to install (exit 2)', async () => {
    const result = await runner(['experiments/linear-regression.yaml', '--backend', 'cuda']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/cuda/);
    expect(result.stderr).toMatch(/npm install @tensorflow\/tfjs-node-gpu/);
  });

  it('a NaN loss fails the run with exit 1, naming the step and the last finite loss', async () => {
    const out = join(temporaryFolder('nan-'), 'run');
    const result = await runner(['experiments/nonlinear-regression.yaml', '--out', out, '--set', 'model.nodes.loss=reduceMean(square(y - prediction)) / (reduceMean(x) - reduceMean(x))']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/run failed: the loss became (NaN|Infinity) at step 1 \(it was never finite\)/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/at step 1/);
  });
  it('refuses to write into a folder that already holds a run', async () => {
    const out = join(temporaryFolder('twice-'), 'run');
    expect((await runner(['experiments/linear-regression.yaml', '--quick', '--out', out])).status).toBe(0);
    const again = await runner(['experiments/linear-regression.yaml', '--quick', '--out', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/the folder is not empty/);
    expect(readdirSync(out).sort()).toEqual(['checkpoints', 'config.resolved.yaml', 'graph.json', 'invocation.json', 'metrics.jsonl', 'model', 'plots', 'summary.json', 'tensorboard']);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).status).toBe('completed');
  });
});
