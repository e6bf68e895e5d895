import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Run and sweep folders as the runner writes them, small enough to read at a glance. */

export function temporaryFolder(name: string): string {
  return mkdtempSync(join(tmpdir(), `dlexp-dashboard-${name}-`));
}

export const LAYERS_GRAPH = {
  node: [
    { name: 'input', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '784' }] } } } },
    { name: 'dense_0/kernel', op: 'VariableV2', attr: { shape: { shape: { dim: [{ size: '784' }, { size: '10' }] } } } },
    { name: 'dense_0/bias', op: 'VariableV2', attr: { shape: { shape: { dim: [{ size: '10' }] } } } },
    { name: 'dense_0/Dense', op: 'Dense', attr: { _output_shapes: { shape: { dim: [{ size: '-1' }, { size: '10' }] } } } },
  ],
};

export const LAYERS_MODEL_JSON = {
  modelTopology: {
    config: {
      layers: [
        { name: 'input', class_name: 'InputLayer', config: { batch_input_shape: [null, 784] } },
        { name: 'dense_0', class_name: 'Dense', config: { units: 10, activation: 'softmax' } },
      ],
    },
  },
  weightsManifest: [],
};

export const OPS_GRAPH = {
  node: [
    { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '1' }] } } } },
    { name: 'k', op: 'VariableV2', attr: { shape: { shape: {} } } },
    { name: 'b', op: 'VariableV2', attr: { shape: { shape: {} } } },
    { name: 'prediction', op: 'AddV2', attr: {} },
  ],
};

export interface RunFixture {
  name?: string;
  status?: string;
  /** Leave out summary.json: a run still going. */
  running?: boolean;
  rows?: Record<string, number>[];
  metrics?: Record<string, number>;
  graph?: unknown;
  modelJson?: unknown;
  config?: string;
}

export function writeRun(dir: string, fixture: RunFixture = {}): string {
  mkdirSync(dir, { recursive: true });
  const name = fixture.name ?? 'fixture';
  const rows = fixture.rows ?? [
    { step: 1, epoch: 1, 'train.loss': 0.5, k: 0.05, timeMs: 1 },
    { step: 2, epoch: 2, 'train.loss': 0.25, k: 0.08, timeMs: 2 },
  ];
  writeFileSync(join(dir, 'config.resolved.yaml'), fixture.config ?? `name: ${name}\nseed: 3\ntrain:\n  optimizer: {type: sgd, learningRate: 0.2}\n  steps: 2\n`);
  writeFileSync(join(dir, 'metrics.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  writeFileSync(join(dir, 'graph.json'), JSON.stringify(fixture.graph ?? OPS_GRAPH));
  writeFileSync(join(dir, 'invocation.json'), JSON.stringify({ file: '/experiments/fixture.yaml', set: [], quick: false }));
  if (fixture.modelJson !== undefined) {
    mkdirSync(join(dir, 'model'), { recursive: true });
    writeFileSync(join(dir, 'model', 'model.json'), JSON.stringify(fixture.modelJson));
  }
  if (fixture.running !== true) writeSummary(dir, fixture);
  return dir;
}

export function writeSummary(dir: string, fixture: RunFixture = {}): void {
  const summary = {
    name: fixture.name ?? 'fixture',
    status: fixture.status ?? 'completed',
    seed: 3,
    backend: { name: 'cpu', tfBackend: 'cpu' },
    metrics: fixture.metrics ?? { 'train.loss': 0.25, k: 0.08 },
    timing: { startedAt: '2026-12-01T10:00:00.000Z', totalMs: 10 },
    expectations: [{ metric: 'k', min: 0.05, max: 0.1, actual: 0.08, met: true }],
  };
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
}

/** A finished grid sweep over the learning rate, with two trials. */
export function writeSweep(dir: string): string {
  const trials = [
    { id: 'trial-001', parameters: { 'train.optimizer.learningRate': 0.1 }, status: 'completed', metrics: { 'train.loss': 0.3 }, runDirectory: 'trials/trial-001' },
    { id: 'trial-002', parameters: { 'train.optimizer.learningRate': 0.2 }, status: 'completed', metrics: { 'train.loss': 0.2 }, runDirectory: 'trials/trial-002' },
  ];
  for (const [index, trial] of trials.entries()) {
    writeRun(join(dir, 'trials', trial.id), { name: 'sweep-fixture', metrics: trial.metrics, config: `name: sweep-fixture\ntrain:\n  optimizer: {type: sgd, learningRate: ${0.1 * (index + 1)}}\n` });
  }
  const summary = {
    name: 'sweep-fixture',
    status: 'completed',
    sweep: { method: 'grid', metric: 'train.loss', goal: 'minimize', parameters: { 'train.optimizer.learningRate': { values: [0.1, 0.2] } } },
    trials,
    best: { id: 'trial-002', 'train.loss': 0.2 },
  };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
  return dir;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One HTTP request with the path sent exactly as given (fetch would normalize `..` away), for the
 * tests that try to leave the log folder.
 */
export function rawRequest(port: number, path: string, options: { method?: string; headers?: Record<string, string>; body?: string; host?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: options.host ?? '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {} }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
