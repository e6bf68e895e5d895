import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildModel, loadData } from '../build';
import { loadExperiment } from '../experiment';
import { buildOptimizer } from '../optimizer';
import { createRegistries } from '../registries';
import { combineSinks } from '../sinks/sink';
import { trainModel } from './train-loop';

const experimentFile = fileURLToPath(new URL('../../../../experiments/mnist-softmax.yaml', import.meta.url));

describe('the train loop', () => {
  it('keeps tf.memory().numTensors the same at the end of every epoch, and frees everything after', async () => {
    await tf.setBackend('cpu');
    const registries = createRegistries();
    const experiment = loadExperiment(experimentFile, registries, {
      quick: true,
      set: ['data.limit={train: 300, test: 200}', 'train.epochs=4', 'train.batchSize=50', 'train.optimizer={type: adam}'],
    });
    const before = tf.memory().numTensors;
    const dataset = await loadData(experiment, registries);
    const splits = dataset.splits;
    const model = await buildModel(experiment, registries, splits.train!, () => undefined);
    const optimizer = buildOptimizer(experiment.resolved.train, registries);
    const atEpochEnd: number[] = [];
    const result = await trainModel({
      model,
      optimizer,
      train: experiment.resolved.train,
      splits,
      seed: 1,
      sink: combineSinks([{ row: () => void atEpochEnd.push(tf.memory().numTensors) }]),
    });
    expect(result.status).toBe('completed');
    // the first row is logged after step 1, before the optimizer's slots all exist; then one per epoch
    const perEpoch = atEpochEnd.slice(1);
    expect(perEpoch).toHaveLength(4);
    expect(new Set(perEpoch).size).toBe(1);
    optimizer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
