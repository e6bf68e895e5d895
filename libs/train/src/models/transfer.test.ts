import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, formatDiagnostic } from '@dlexp/core';
import { buildModel, loadData } from '../build';
import { openExperiment } from '../experiment';
import { createRegistries } from '../registries';
import { runExperiment } from '../run-experiment';
import { prepareTransfer, type TransferOptions } from './transfer';

const folder = mkdtempSync(join(tmpdir(), 'transfer-'));
const registries = createRegistries();

/** The source: a small MNIST network with named layers, trained for a few steps. */
const SOURCE = `name: source
seed: 4
backend: cpu
data: {type: mnist, flatten: true, limit: {train: 200, test: 50}}
model:
  type: sequential
  layers:
    - {type: dense, name: hidden1, units: 16, activation: relu}
    - {type: dense, name: hidden2, units: 12, activation: relu}
    - {type: dense, name: logits, units: 10}
  loss: {type: softmaxCrossEntropy}
  metrics: [{type: accuracy}]
train: {optimizer: {type: adam, learningRate: 0.01}, batchSize: 50, steps: 8}
tensorboard: false
plots: false
`;
writeFileSync(join(folder, 'source.yaml'), SOURCE);

/** A target written in a file of its own, so problems are reported at its lines. */
function target(name: string, model: string, data = 'data: {type: mnist, flatten: true, limit: {train: 100, test: 50}}', loss = '  loss: {type: softmaxCrossEntropy}\n'): string {
  const file = join(folder, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
seed: 9
backend: cpu
${data}
model:
${model}
${loss}train: {optimizer: {type: adam}, batchSize: 50, steps: 2}
tensorboard: false
plots: false
`,
  );
  return file;
}

function options(cache: string, trained: string[] = []): TransferOptions {
  return {
    quick: false,
    cacheDirectory: cache,
    pollMs: 50,
    say: () => undefined,
    open: (file, open) => openExperiment(file, registries, open),
    train: async (source, out) => {
      trained.push(out);
      return runExperiment(source, registries, { out, root: folder, argv: [] });
    },
  };
}

async function problems(file: string, cache = join(folder, 'cache')): Promise<string[]> {
  const experiment = await openExperiment(file, registries, { displayName: 'target.yaml' });
  try {
    const prepared = await prepareTransfer(experiment, options(cache));
    if (prepared !== undefined) {
      const data = await loadData(prepared.experiment, registries);
      const model = await buildModel(prepared.experiment, registries, data.splits.train!, () => undefined);
      try {
        prepared.initialize(model);
      } finally {
        model.dispose();
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  return [];
}

let sourceRun: string;
beforeAll(async () => {
  sourceRun = join(folder, 'source-run');
  const outcome = await runExperiment(await openExperiment(join(folder, 'source.yaml'), registries), registries, { out: sourceRun, root: folder, argv: [] });
  expect(outcome.status).toBe('completed');
});

describe('model.from', () => {
  it('splices the kept layers under the new ones and starts them from the saved weights', async () => {
    const before = tf.memory().numTensors;
    const file = target('splice', `  type: sequential\n  from: source-run\n  keep: [hidden1, hidden2]\n  layers: [{type: dense, name: head, units: 10}]\n  transfer: {freeze: [hidden1]}`);
    const experiment = await openExperiment(file, registries);
    const prepared = (await prepareTransfer(experiment, options(join(folder, 'cache'))))!;
    const layers = (prepared.experiment.resolved.model['layers'] as { name: string }[]).map((l) => l.name);
    expect(layers).toEqual(['hidden1', 'hidden2', 'head']);
    expect(prepared.description).toMatch(/keeps hidden1, hidden2 with their saved weights/);
    const data = await loadData(prepared.experiment, registries);
    const model = await buildModel(prepared.experiment, registries, data.splits.train!, () => undefined);
    prepared.initialize(model);
    const saved = JSON.parse(readFileSync(join(sourceRun, 'model', 'model.json'), 'utf8'));
    const specs = saved.weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
    const savedWeights = tf.io.decodeWeights(new Uint8Array(readFileSync(join(sourceRun, 'model', 'weights.bin'))).buffer, specs);
    const state = model.state();
    for (const name of ['hidden1/kernel', 'hidden2/bias']) expect(Array.from(state.get(name)!.dataSync())).toEqual(Array.from(savedWeights[name]!.dataSync()));
    // The frozen layer has no trainable variables; the new head starts from its own seeded values.
    expect([...model.trainableVariables().keys()].sort()).toEqual(['head/bias', 'head/kernel', 'hidden2/bias', 'hidden2/kernel']);
    tf.dispose(Object.values(savedWeights));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('wires a graph model\'s new nodes to kept layers by name, from the saved model.json', async () => {
    const file = target(
      'graph',
      `  type: graph\n  from: source-run/model/model.json\n  keep: [hidden1]\n  inputs: {x: {}}\n  nodes:\n    - {type: dense, name: a, units: 10, inputs: [hidden1]}\n    - {type: dense, name: b, units: 10, inputs: [hidden1]}\n  outputs: {a: a, b: b}\n  heads: {a: {loss: {type: softmaxCrossEntropy}, target: y}, b: {loss: {type: softmaxCrossEntropy}, target: y}}`,
      undefined,
      '',
    );
    const experiment = await openExperiment(file, registries);
    const prepared = (await prepareTransfer(experiment, options(join(folder, 'cache'))))!;
    expect(prepared.experiment.resolved.model['nodes']).toEqual([
      expect.objectContaining({ name: 'hidden1', inputs: ['x'], type: 'dense', units: 16 }),
      expect.objectContaining({ name: 'a', inputs: ['hidden1'] }),
      expect.objectContaining({ name: 'b', inputs: ['hidden1'] }),
    ]);
  });

  it('trains an experiment it names once, even for runs that start together, and reuses it', async () => {
    const cache = join(folder, 'experiment-cache');
    const trained: string[] = [];
    const file = target('from-experiment', `  type: sequential\n  from: source.yaml\n  layers: [{type: dense, name: head, units: 10}]`);
    const experiment = await openExperiment(file, registries);
    const both = await Promise.all([prepareTransfer(experiment, options(cache, trained)), prepareTransfer(experiment, options(cache, trained))]);
    expect(trained).toHaveLength(1);
    expect(both.every((p) => p !== undefined && /keeps hidden1, hidden2 with their saved weights/.test(p.description))).toBe(true);
    expect(readdirSync(cache).filter((f) => !f.startsWith('source-'))).toEqual([]);
    await prepareTransfer(experiment, options(cache, trained));
    expect(trained).toHaveLength(1);
    // From scratch (weights: random) needs only the experiment's config: nothing is trained.
    const scratchCache = join(folder, 'scratch-cache');
    const scratch = target('scratch', `  type: sequential\n  from: source.yaml\n  layers: [{type: dense, name: head, units: 10}]\n  transfer: {weights: random}`);
    const prepared = await prepareTransfer(await openExperiment(scratch, registries), options(scratchCache, trained));
    expect(trained).toHaveLength(1);
    expect(prepared!.description).toMatch(/fresh weights/);
  });

  it('reports what it cannot use at its line and column', async () => {
    const head = '  layers: [{type: dense, name: head, units: 10}]';
    expect(await problems(target('missing', `  type: sequential\n  from: nowhere\n${head}`))).toEqual([expect.stringMatching(/^target\.yaml:7:9: model\.from: no file or folder nowhere/)]);
    expect(await problems(target('unknown', `  type: sequential\n  from: source-run\n  keep: [hidden1, hiden2]\n${head}`))).toEqual([
      "target.yaml:8:19: model.keep.1: the saved model has no layer 'hiden2'; did you mean 'hidden2'? (layers: hidden1, hidden2, logits)",
    ]);
    expect(await problems(target('gap', `  type: sequential\n  from: source-run\n  keep: [hidden2]\n${head}`))).toEqual([
      "target.yaml:8:10: model.keep.0: 'hidden2' takes the output of 'hidden1', which is not kept; keep 'hidden1' too",
    ]);
    expect(await problems(target('freeze', `  type: sequential\n  from: source-run\n${head}\n  transfer: {freeze: [conv], learningRateMultipliers: {hidden: 0.1, fc: 0.5}}`))).toEqual([
      expect.stringMatching(/^target\.yaml:9:23: model\.transfer\.freeze\.0: no layer is named 'conv' or starts with it/),
      expect.stringMatching(/^target\.yaml:9:73: model\.transfer\.learningRateMultipliers\.fc: no layer is named 'fc' or starts with it/),
    ]);
    expect(await problems(target('keep-alone', `  type: sequential\n  keep: [hidden1]\n${head}`))).toEqual(['target.yaml:7:9: model.keep: keep selects layers of the model named in model.from; give from too']);
    // One value per example where the saved model took 784: the kept layer's kernel no longer fits.
    expect(await problems(target('shape', `  type: sequential\n  from: source-run\n  keep: [hidden1, hidden2]\n${head}`, 'data: {type: synthetic, function: linear, samples: 20}'))).toEqual([
      "target.yaml:8:10: model.keep.0: layer 'hidden1' no longer fits: its weight 'hidden1/kernel' is [784, 16] in the saved model but [1, 16] here (what feeds it has changed shape)",
    ]);
  });
});
