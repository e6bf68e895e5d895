import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Run and sweep folders for the tests, written file by file in the formats the runner leaves
 * behind (README "What a run leaves behind"), so the tests need no training.
 */

export function temporaryFolder(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dlexp-plots-${prefix}-`));
}

export interface RunFixture {
  name?: string;
  status?: string;
  seed?: number;
  startedAt?: string;
  metrics?: Record<string, number>;
  rows?: Record<string, number>[];
  config?: Record<string, unknown>;
  predictions?: { columns: string[]; rows: number[][] };
  expectations?: { metric: string; min?: number; max?: number; actual?: number; met: boolean }[];
  error?: string;
  /** Leave summary.json out: a run still going. */
  withoutSummary?: boolean;
}

/** A classifier's log: train.loss every 5 steps, validation and test metrics at each epoch's end (20 steps per epoch). */
export function classifierRows(epochs = 3, stepsPerEpoch = 20): Record<string, number>[] {
  const rows: Record<string, number>[] = [];
  for (let step = 1; step <= epochs * stepsPerEpoch; step++) {
    const epoch = step / stepsPerEpoch;
    const atEpochEnd = step % stepsPerEpoch === 0;
    if (step % 5 !== 0 && step !== 1 && !atEpochEnd) continue;
    const row: Record<string, number> = { step, epoch, 'train.loss': 2.3 * Math.exp(-step / 25) + 0.1 };
    if (atEpochEnd) {
      row['validation.accuracy'] = 0.6 + 0.1 * epoch;
      row['test.accuracy'] = 0.58 + 0.1 * epoch;
      row['test.loss'] = 1.2 / epoch;
    }
    row['timeMs'] = step * 10;
    rows.push(row);
  }
  return rows;
}

export function defaultConfig(name: string, learningRate = 0.1, seed = 1): Record<string, unknown> {
  return {
    name,
    seed,
    backend: 'cpu',
    data: { type: 'mnist', flatten: true, limit: { train: 2000, test: 1000 } },
    model: { type: 'sequential', input: { shape: [784] }, layers: [{ type: 'dense', units: 10, name: 'logits' }], loss: { type: 'categoricalCrossentropy' } },
    train: { optimizer: { type: 'sgd', learningRate }, batchSize: 100, epochs: 3 },
    expect: { 'test.accuracy': { min: 0.5 } },
  };
}

export function writeRunFixture(dir: string, fixture: RunFixture = {}): string {
  mkdirSync(dir, { recursive: true });
  const configName = typeof fixture.config?.['name'] === 'string' ? fixture.config['name'] : undefined;
  const name = fixture.name ?? configName ?? 'fixture-classifier';
  const config = fixture.config ?? defaultConfig(name, 0.1, fixture.seed ?? 1);
  writeFileSync(join(dir, 'config.resolved.yaml'), `# ${name}: resolved from experiments/${name}.yaml\n# config hash 0123abcd\n${stringify(config)}`);
  const rows = fixture.rows ?? classifierRows();
  writeFileSync(join(dir, 'metrics.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  if (fixture.predictions !== undefined) {
    const lines = [fixture.predictions.columns.join(','), ...fixture.predictions.rows.map((r) => r.join(','))];
    writeFileSync(join(dir, 'predictions.csv'), `${lines.join('\n')}\n`);
  }
  if (fixture.withoutSummary !== true) {
    const summary = {
      name,
      status: fixture.status ?? 'completed',
      seed: fixture.seed ?? 1,
      backend: { name: 'cpu', tfBackend: 'cpu', device: 'test machine' },
      metrics: fixture.metrics ?? { 'train.loss': 0.31, 'train.accuracy': 0.91, 'test.loss': 0.35, 'test.accuracy': 0.88 },
      timing: { startedAt: fixture.startedAt ?? '2026-11-27T12:00:00.000Z', totalMs: 1234, trainMs: 1000, steps: 60, epochs: 3, msPerStep: 16.7 },
      configHash: '0123abcd',
      versions: { dlexp: '0.1.0', node: '20.19.0', tfjs: '4.22.0' },
      ...(fixture.expectations !== undefined ? { expectations: fixture.expectations } : {}),
      ...(fixture.error !== undefined ? { error: fixture.error } : {}),
    };
    writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
  return dir;
}

/** The nonlinear regression's predictions.csv: x, y and the prediction node's column. */
export function regressionPredictions(count = 41): { columns: string[]; rows: number[][] } {
  return {
    columns: ['x', 'y', 'prediction'],
    rows: Array.from({ length: count }, (_, i) => {
      const x = -0.5 + i / (count - 1);
      return [x, x * x + 0.01 * Math.sin(13 * i), 0.95 * x * x];
    }),
  };
}

export interface TrialFixture {
  id: string;
  parameters: Record<string, unknown>;
  status?: string;
  metrics?: Record<string, number>;
  run?: RunFixture;
  /** Leave the trial's folder out (a trial that never started). */
  withoutFolder?: boolean;
  repeats?: { seed: number; metrics: Record<string, number>; status?: string }[];
}

export function writeSweepFixture(
  dir: string,
  sweep: { name?: string; metric?: string; goal?: 'maximize' | 'minimize'; parameters: Record<string, unknown[]>; trials: TrialFixture[]; bestId?: string; withoutSummary?: boolean },
): string {
  const name = sweep.name ?? 'fixture-sweep';
  mkdirSync(join(dir, 'trials'), { recursive: true });
  for (const trial of sweep.trials) {
    if (trial.withoutFolder === true) continue;
    const runDir = join(dir, 'trials', trial.id);
    const learningRate = typeof trial.parameters['train.optimizer.learningRate'] === 'number' ? trial.parameters['train.optimizer.learningRate'] : 0.1;
    writeRunFixture(runDir, { name, config: defaultConfig(name, learningRate), ...(trial.metrics !== undefined ? { metrics: trial.metrics } : {}), ...(trial.status !== undefined ? { status: trial.status } : {}), ...trial.run });
    writeFileSync(join(runDir, 'invocation.json'), JSON.stringify({ file: `experiments/${name}.yaml`, set: [], quick: true, trial: trial.parameters }));
  }
  if (sweep.withoutSummary !== true) {
    const summary = {
      name,
      status: 'completed',
      sweep: { method: 'grid', metric: sweep.metric ?? 'test.accuracy', goal: sweep.goal ?? 'maximize', parameters: Object.fromEntries(Object.entries(sweep.parameters).map(([k, values]) => [k, { values }])) },
      trials: sweep.trials.map((t) => ({
        id: t.id,
        parameters: t.parameters,
        status: t.status ?? 'completed',
        metrics: t.metrics ?? {},
        expectationsMet: true,
        runDirectory: `trials/${t.id}`,
        ...(t.repeats !== undefined ? { repeats: t.repeats.map((r, i) => ({ ...r, runDirectory: `trials/${t.id}/repeat-${i + 1}` })) } : {}),
      })),
      best: sweep.bestId === undefined ? null : { id: sweep.bestId },
    };
    writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
  return dir;
}

/** A 2 × 2 grid over learning rate and loss, as the runner's grid sweep would leave it. */
export function gridSweepFixture(dir: string): string {
  const trials: TrialFixture[] = [];
  let index = 0;
  for (const learningRate of [0.01, 1]) {
    for (const loss of ['meanSquaredError', 'categoricalCrossentropy']) {
      index++;
      const accuracy = 0.6 + (learningRate === 1 ? 0.2 : 0) + (loss === 'categoricalCrossentropy' ? 0.1 : 0);
      const metrics = { 'test.accuracy': accuracy, 'test.loss': 1 - accuracy, 'train.loss': 0.9 - accuracy / 2 };
      trials.push({ id: `trial-00${index}`, parameters: { 'train.optimizer.learningRate': learningRate, 'model.loss.type': loss }, metrics });
    }
  }
  return writeSweepFixture(dir, { parameters: { 'train.optimizer.learningRate': [0.01, 1], 'model.loss.type': ['meanSquaredError', 'categoricalCrossentropy'] }, trials, bestId: 'trial-004' });
}

/** Every `<text>` element's content in an SVG document, entities decoded. */
export function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'),
  );
}

/** How many marks of a kind (`line`, `symbol`, `rule`, `rect`, `text`) an SVG from Vega draws. */
export function markGroups(svg: string, kind: string): number {
  return svg.split(`class="mark-${kind} role-mark`).length - 1;
}

/**
 * A sweep summary in the sweep library's richer form: each configuration run with two seeds as
 * trials of their own (values by name, parameters by path), configurations with mean ± std, and
 * the best configuration instead of a best trial.
 */
export function repeatedSweepFixture(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const trials = [0.01, 0.1].flatMap((rate, configuration) =>
    [0, 1].map((repeat) => {
      const index = configuration * 2 + repeat;
      const id = `trial-00${index + 1}`;
      const accuracy = 0.7 + 0.1 * configuration + 0.02 * repeat;
      writeRunFixture(join(dir, 'trials', id), { name: 'repeated', seed: 1 + repeat, config: defaultConfig('repeated', rate, 1 + repeat), metrics: { 'validation.accuracy': accuracy, 'test.accuracy': accuracy - 0.01 } });
      return { id, index, configuration, repeat, seed: 1 + repeat, values: { rate }, parameters: { 'train.optimizer.learningRate': rate }, status: 'completed', metrics: { 'validation.accuracy': accuracy, 'test.accuracy': accuracy - 0.01 }, runDirectory: `trials/${id}` };
    }),
  );
  const configurations = [0.01, 0.1].map((rate, configuration) => ({
    configuration,
    values: { rate },
    parameters: { 'train.optimizer.learningRate': rate },
    trialIds: [`trial-00${configuration * 2 + 1}`, `trial-00${configuration * 2 + 2}`],
    status: 'completed',
    metric: { mean: [0.71, 0.81][configuration]!, std: 0.01, count: 2 },
    metrics: {},
  }));
  const summary = {
    name: 'repeated',
    status: 'completed',
    sweep: { method: 'grid', metric: 'validation.accuracy', goal: 'maximize', repeats: 2, parameters: { rate: { paths: ['train.optimizer.learningRate'], values: [0.01, 0.1] } } },
    trials,
    configurations,
    ranking: [1, 0],
    best: configurations[1],
  };
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return dir;
}
