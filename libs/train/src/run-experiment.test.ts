import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, formatDiagnostic } from '@dlexp/core';
import { openExperiment } from './experiment';
import { createRegistries } from './registries';
import { evaluateRun, runExperiment } from './run-experiment';
import type { RunSink, RunSummary } from './sinks/sink';

const folder = mkdtempSync(join(tmpdir(), 'run-experiment-'));

/** A small MNIST MLP with a validation split, dropout, keepBest and no model.input (its shape comes from the data). */
const EXPERIMENT = `name: engine-test
seed: 5
backend: cpu
data:
  type: mnist
  flatten: true
  limit: {train: 600, test: 200}
  validationSplit: 0.2
model:
  type: sequential
  layers:
    - {type: dense, name: hidden, units: 24, activation: relu}
    - {type: dropout, name: drop, rate: 0.2}
    - {type: dense, name: logits, units: 10}
  loss: {type: softmaxCrossEntropy}
  metrics: [{type: accuracy}]
train:
  optimizer: {type: adam, learningRate: 0.003}
  batchSize: 40
  epochs: 3
  logEvery: 5
  checkpointEvery: 7
  keepBest: {metric: validation.accuracy, goal: maximize, restore: true}
`;

const file = join(folder, 'engine-test.yaml');
writeFileSync(file, EXPERIMENT);

function rowsWithoutTime(dir: string): Record<string, number>[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const { timeMs: _time, ...rest } = JSON.parse(l) as Record<string, number>;
      return rest;
    });
}

function summaryOf(dir: string): RunSummary {
  return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
}

describe('runExperiment', () => {
  const registries = createRegistries();
  const common = { root: folder, argv: [] };
  let full: string;

  beforeAll(async () => {
    const experiment = await openExperiment(file, registries);
    full = join(folder, 'full');
    const outcome = await runExperiment(experiment, registries, { ...common, out: full });
    expect(outcome.status).toBe('completed');
  });

  it('takes the input shape from the data when model.input is left out, and records the backend threads', () => {
    const summary = summaryOf(full);
    expect(summary.backend).toMatchObject({ name: 'cpu', threads: 1 });
    const graph = readFileSync(join(full, 'graph.json'), 'utf8');
    expect(graph).toContain('"input"');
    expect(summary.metrics['test.accuracy']).toBeGreaterThan(0.5);
  });

  it('stops on an AbortSignal between steps with a checkpoint, and resumes to identical rows, metrics and best checkpoint', async () => {
    const experiment = await openExperiment(file, registries);
    const interrupted = join(folder, 'interrupted');
    const controller = new AbortController();
    const tensorsBefore = tf.memory().numTensors;
    const stopAt17: RunSink = { progress: (step) => (step === 17 ? controller.abort() : undefined) };
    const first = await runExperiment(experiment, registries, { ...common, out: interrupted, sinks: [stopAt17], signal: controller.signal });
    expect(first.status).toBe('interrupted');
    expect(summaryOf(interrupted).status).toBe('interrupted');
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    const messages: string[] = [];
    const resumed = await runExperiment(experiment, registries, { ...common, resume: interrupted, sinks: [{ message: (m) => void messages.push(m) }] });
    expect(resumed.status).toBe('completed');
    expect(messages).toContain('resuming from step 17');
    expect(rowsWithoutTime(interrupted)).toEqual(rowsWithoutTime(full));
    const [a, b] = [summaryOf(full), summaryOf(interrupted)];
    expect(b.metrics).toEqual(a.metrics);
    expect(b.best).toEqual(a.best);
    expect(readFileSync(join(interrupted, 'model', 'weights.bin'))).toEqual(readFileSync(join(full, 'model', 'weights.bin')));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('keeps the best checkpoint; with restore, the final metrics and the saved model are the best epoch, and evaluate measures both', async () => {
    const summary = summaryOf(full);
    expect(summary.best).toMatchObject({ metric: 'validation.accuracy' });
    const rows = rowsWithoutTime(full).filter((r) => r['validation.accuracy'] !== undefined);
    expect(summary.best!.value).toBe(Math.max(...rows.map((r) => r['validation.accuracy']!)));
    const experiment = await openExperiment(file, registries);
    const best = await evaluateRun(experiment, registries, full, { split: 'validation', checkpoint: 'best' });
    const last = await evaluateRun(experiment, registries, full, { split: 'validation', checkpoint: 'last' });
    expect(best['validation.accuracy']).toBe(summary.best!.value);
    // restore: true saved the best epoch's model as the run's model.
    expect(last['validation.accuracy']).toBe(summary.metrics['validation.accuracy']);
    expect(summary.metrics['validation.accuracy']).toBe(summary.best!.value);
  });

  it('refuses a non-empty --out before loading any data', async () => {
    const broken = join(folder, 'broken-data.yaml');
    writeFileSync(broken, EXPERIMENT.replace('  type: mnist\n  flatten: true', '  type: idx\n  flatten: true\n  train: {x: nowhere-images.idx, y: nowhere-labels.idx}'));
    const experiment = await openExperiment(broken, registries).catch((error: unknown) => error);
    // The idx dataset checks its files when loading, not when validating: the --out check comes first.
    expect(experiment).not.toBeInstanceOf(Error);
    const error = await runExperiment(experiment as Awaited<ReturnType<typeof openExperiment>>, registries, { ...common, out: full }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/--out .*full: the folder is not empty/);
  });
});

describe('plugins', () => {
  const pluginFile = join(folder, 'half-mse.ts');
  writeFileSync(
    pluginFile,
    `import * as tf from '@tensorflow/tfjs';
export function register(registries) {
  registries.losses.register({
    name: 'halfMeanSquaredError',
    description: 'Half the mean squared error.',
    params: {},
    create: () => (labels, predictions) => tf.tidy(() => tf.mul(tf.mean(tf.squaredDifference(labels, predictions)), 0.5)),
  });
}
`,
  );
  const withPlugin = EXPERIMENT.replace('name: engine-test', 'name: engine-test\nplugins: [./half-mse.ts]')
    .replace('{type: softmaxCrossEntropy}', '{type: halfMeanSquaredError}')
    .replace('  validationSplit: 0.2', '  validationSplit: 0.2\n  oneHot: true')
    .replace('  keepBest: {metric: validation.accuracy, goal: maximize, restore: true}\n', '');

  it('registers entries before validation, so an experiment can use them', async () => {
    const registries = createRegistries();
    const experimentFile = join(folder, 'with-plugin.yaml');
    writeFileSync(experimentFile, withPlugin.replace('epochs: 3', 'epochs: 1'));
    const experiment = await openExperiment(experimentFile, registries);
    const outcome = await runExperiment(experiment, registries, { root: folder, argv: [], out: join(folder, 'plugin-run') });
    expect(outcome.status).toBe('completed');
    expect(registries.modelRegistries.losses.names()).toContain('halfMeanSquaredError');
  });

  it('a plugin that registers a name twice or throws is a config error naming the plugin, at its position', async () => {
    const duplicate = join(folder, 'duplicate.ts');
    writeFileSync(duplicate, `export default function (registries) { registries.losses.register({ name: 'meanSquaredError', description: 'again', params: {}, create: () => () => 0 }); }\n`);
    const throwing = join(folder, 'throwing.ts');
    writeFileSync(throwing, `export function register() { throw new Error('no GPU here'); }\n`);
    for (const [plugin, message] of [
      ['./duplicate.ts', /^dup\.yaml:2:11: plugins\.0: plugin \.\/duplicate\.ts failed while registering: .*meanSquaredError/],
      ['./throwing.ts', /^dup\.yaml:2:11: plugins\.0: plugin \.\/throwing\.ts failed while registering: no GPU here$/],
      ['./missing.ts', /^dup\.yaml:2:11: plugins\.0: plugin \.\/missing\.ts: no such file/],
    ] as const) {
      const experimentFile = join(folder, 'dup.yaml');
      writeFileSync(experimentFile, withPlugin.replace('./half-mse.ts', plugin));
      const error = await openExperiment(experimentFile, createRegistries(), { displayName: 'dup.yaml' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).diagnostics.map(formatDiagnostic)[0]).toMatch(message);
    }
  });
});
