import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { fillEntry } from '@dlexp/core';
import { createRegistries } from '../registries';
import { ModelConfigError } from './trainable-model';

const registries = createRegistries();
const features = { x: { dtype: 'float32' as const, shape: [4] }, y: { dtype: 'int32' as const, shape: [] }, parity: { dtype: 'int32' as const, shape: [] } };
const context = { seed: 1, modelRegistries: registries.modelRegistries, features, print: () => undefined };

function create(config: Record<string, unknown>) {
  const filled = fillEntry('model', config, (kind, name) => {
    const kinds: Record<string, { get(n: string): { params: unknown } }> = { model: registries.models, layer: registries.modelRegistries.layers, loss: registries.modelRegistries.losses, metric: registries.modelRegistries.metrics };
    return kinds[kind]?.get(name).params as never;
  }) as Record<string, unknown>;
  return registries.models.get(String(config['type'])).create(filled, context);
}

const twoHeads = {
  type: 'graph',
  inputs: { x: { shape: [4] } },
  nodes: [
    { type: 'dense', name: 'trunk', units: 8, activation: 'relu', inputs: ['x'] },
    { type: 'dense', name: 'digitLogits', units: 3, inputs: ['trunk'] },
    { type: 'dense', name: 'parityLogits', units: 2, inputs: ['trunk'] },
  ],
  outputs: { digit: 'digitLogits', parity: 'parityLogits' },
  heads: {
    digit: { loss: { type: 'softmaxCrossEntropy' }, metrics: [{ type: 'accuracy' }], target: 'y' },
    parity: { loss: { type: 'softmaxCrossEntropy' }, weight: 0.5, metrics: [{ type: 'accuracy' }] },
  },
};

describe('graph models with several heads', () => {
  it('report each head\'s loss and metrics and the weighted total, and train every weight', async () => {
    const before = tf.memory().numTensors;
    const model = create(twoHeads);
    const batch = { x: tf.randomNormal([6, 4], 0, 1, 'float32', 1), y: tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), parity: tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32') };
    const sums = await model.evaluateBatch(batch);
    expect(Object.keys(sums).sort()).toEqual(['digit.accuracy', 'digit.loss', 'loss', 'parity.accuracy', 'parity.loss']);
    const mean = (k: string) => sums[k]!.sum / sums[k]!.count;
    expect(mean('loss')).toBeCloseTo(mean('digit.loss') + 0.5 * mean('parity.loss'), 5);
    const { loss, grads } = model.lossAndGradients(batch, 0);
    expect(loss.dataSync()[0]).toBeCloseTo(mean('loss'), 5);
    expect([...grads.keys()].sort()).toEqual([...model.trainableVariables().keys()].sort());
    tf.dispose([loss, ...grads.values(), ...Object.values(batch)]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('name a missing head, an unknown target and a mismatched input as config problems', () => {
    const messages = (config: Record<string, unknown>) => {
      try {
        create(config).dispose();
      } catch (error) {
        if (error instanceof ModelConfigError) return error.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
        throw error;
      }
      return [];
    };
    expect(messages({ ...twoHeads, heads: { digit: twoHeads.heads.digit } })).toEqual(["heads: output 'parity' has no head (give it a loss)"]);
    expect(messages({ ...twoHeads, heads: { ...twoHeads.heads, parity: { loss: { type: 'softmaxCrossEntropy' }, target: 'label' } } })).toEqual([
      "heads.parity.target: the data has no feature 'label' for the labels (it has: x, y, parity)",
    ]);
    expect(messages({ ...twoHeads, inputs: { x: { shape: [5] } } })).toEqual(["inputs.x: input 'x' has shape [5] but the data's 'x' has shape [4] per example"]);
  });
});
