import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, fillDefaults } from '@dlexp/core';
import { createLossRegistry } from './index';

const registry = createLossRegistry();
const create = (name: string, params: Record<string, unknown> = {}) => {
  const entry = registry.get(name);
  return entry.create(fillDefaults(entry.params, params, () => undefined), {});
};

const logits = [
  [2, 1, 0],
  [0, 0, 3],
];
const probs = [
  [0.7, 0.2, 0.1],
  [0.1, 0.3, 0.6],
];
const logSoftmax = (row: number[]) => {
  const log = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
  return row.map((v) => v - log);
};
// Class 0 for the first row, class 2 for the second.
const ceLogits = -(logSoftmax(logits[0]!)[0]! + logSoftmax(logits[1]!)[2]!) / 2;
const ceProbs = -(Math.log(0.7) + Math.log(0.6)) / 2;
const oneHot = [
  [1, 0, 0],
  [0, 0, 1],
];
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const bce = (z: number, p: number) => -(z * Math.log(p) + (1 - z) * Math.log(1 - p));

interface Case {
  loss: string;
  params?: Record<string, unknown>;
  labels: tf.TensorLike;
  labelShape?: number[];
  predictions: number[][];
  expected: number;
}

const cases: Record<string, Case[]> = {
  meanSquaredError: [
    // ((1-0)² + (2-4)² + (3-3)² + (0-1)²) / 4
    { loss: 'meanSquaredError', labels: [[1, 2], [3, 0]], predictions: [[0, 4], [3, 1]], expected: 6 / 4 },
  ],
  softmaxCrossEntropy: [
    { loss: 'softmaxCrossEntropy', labels: oneHot, predictions: logits, expected: ceLogits },
    { loss: 'softmaxCrossEntropy', labels: [0, 2], predictions: logits, expected: ceLogits },
    { loss: 'softmaxCrossEntropy', labels: [[0], [2]], predictions: logits, expected: ceLogits },
  ],
  sigmoidCrossEntropy: [
    {
      loss: 'sigmoidCrossEntropy',
      labels: [[1], [0]],
      predictions: [[2], [-1]],
      expected: (bce(1, sigmoid(2)) + bce(0, sigmoid(-1))) / 2,
    },
    // Large logits stay finite: the loss of a confident wrong answer is about the logit itself.
    { loss: 'sigmoidCrossEntropy', labels: [[0]], predictions: [[200]], expected: 200 },
  ],
  categoricalCrossentropy: [
    { loss: 'categoricalCrossentropy', labels: oneHot, predictions: probs, expected: ceProbs },
    { loss: 'categoricalCrossentropy', params: { fromLogits: true }, labels: oneHot, predictions: logits, expected: ceLogits },
  ],
  sparseCategoricalCrossentropy: [
    { loss: 'sparseCategoricalCrossentropy', labels: [0, 2], predictions: probs, expected: ceProbs },
    { loss: 'sparseCategoricalCrossentropy', labels: [[0], [2]], predictions: probs, expected: ceProbs },
    { loss: 'sparseCategoricalCrossentropy', params: { fromLogits: true }, labels: [0, 2], predictions: logits, expected: ceLogits },
  ],
  binaryCrossentropy: [
    { loss: 'binaryCrossentropy', labels: [[1, 0]], predictions: [[0.9, 0.2]], expected: (bce(1, 0.9) + bce(0, 0.2)) / 2 },
  ],
};

it('every loss has hand-computed cases', () => {
  expect(Object.keys(cases).sort()).toEqual(registry.names().sort());
});

describe.each(registry.names())('loss %s', (name) => {
  it.each(cases[name]!.map((c, i) => [i, c] as const))('case %i matches the hand-computed value and leaks nothing', (_i, c) => {
    const before = tf.memory().numTensors;
    const labels = tf.tensor(c.labels as number[]);
    const predictions = tf.tensor2d(c.predictions);
    const loss = create(c.loss, c.params)(labels, predictions);
    expect(loss.shape).toEqual([]);
    expect(loss.dataSync()[0]).toBeCloseTo(c.expected, 5);
    tf.dispose([labels, predictions, loss]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('losses', () => {
  it('give gradients to the predictions', () => {
    const before = tf.memory().numTensors;
    const labels = tf.tensor1d([0, 2], 'int32');
    const predictions = tf.tensor2d(logits);
    const grad = tf.grad((p: tf.Tensor) => create('softmaxCrossEntropy')(labels, p))(predictions);
    // d/dlogits = (softmax - onehot) / batch
    const softmax0 = Math.exp(logSoftmax(logits[0]!)[0]!);
    expect(grad.dataSync()[0]).toBeCloseTo((softmax0 - 1) / 2, 5);
    tf.dispose([labels, predictions, grad]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('report labels that do not fit the predictions as a ConfigError with both shapes', () => {
    const before = tf.memory().numTensors;
    const labels = tf.zeros([2, 4]);
    const predictions = tf.zeros([2, 3]);
    expect(() => create('softmaxCrossEntropy')(labels, predictions)).toThrow(ConfigError);
    expect(() => create('meanSquaredError')(labels, predictions)).toThrow(/\[2, 4\].*\[2, 3\]/);
    tf.dispose([labels, predictions]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
