import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { fillDefaults } from '@dlexp/core';
import { allCorrect, createMetricRegistry, MetricAccumulator } from './index';

const registry = createMetricRegistry();
const create = (name: string, params: Record<string, unknown> = {}) => {
  const entry = registry.get(name);
  return entry.create(fillDefaults(entry.params, params, () => undefined), {});
};

interface Case {
  params?: Record<string, unknown>;
  labels: number[] | number[][];
  predictions: number[][];
  sum: number;
  count: number;
}

const scores = [
  [0.1, 0.7, 0.2],
  [0.5, 0.3, 0.2],
  [0.2, 0.3, 0.5],
  [0.4, 0.35, 0.25],
];

const cases: Record<string, Case[]> = {
  accuracy: [
    // Integer ids; rows 0 and 2 are right.
    { labels: [1, 1, 2, 2], predictions: scores, sum: 2, count: 4 },
    // One-hot labels, the same answers.
    { labels: [[0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], predictions: scores, sum: 2, count: 4 },
    // Logits rank like probabilities.
    { labels: [0, 2], predictions: [[3, -1, 0], [-2, 0, 5]], sum: 2, count: 2 },
    // One output column: thresholded; 0 for logits.
    { labels: [[1], [0], [1]], predictions: [[0.8], [0.6], [0.4]], sum: 1, count: 3 },
    { params: { threshold: 0 }, labels: [[1], [0], [1]], predictions: [[1.5], [-0.2], [-3]], sum: 2, count: 3 },
  ],
  topKAccuracy: [
    { params: { k: 2 }, labels: [1, 1, 2, 2], predictions: scores, sum: 3, count: 4 },
    { params: { k: 1 }, labels: [1, 1, 2, 2], predictions: scores, sum: 2, count: 4 },
  ],
  meanSquaredError: [{ labels: [[1, 2], [3, 0]], predictions: [[0, 4], [3, 1]], sum: 5 / 2 + 1 / 2, count: 2 }],
  meanAbsoluteError: [{ labels: [[1, 2], [3, 0]], predictions: [[0, 4], [3, 1]], sum: 3 / 2 + 1 / 2, count: 2 }],
};

it('every metric has hand-computed cases', () => {
  expect(Object.keys(cases).sort()).toEqual(registry.names().sort());
});

describe.each(registry.names())('metric %s', (name) => {
  it.each(cases[name]!.map((c, i) => [i, c] as const))('case %i gives the right sum and count and leaks nothing', (_i, c) => {
    const before = tf.memory().numTensors;
    const labels = tf.tensor(c.labels);
    const predictions = tf.tensor2d(c.predictions);
    const batch = create(name, c.params)(labels, predictions);
    expect(batch.sum.dataSync()[0]).toBeCloseTo(c.sum, 6);
    expect(batch.count).toBe(c.count);
    tf.dispose([labels, predictions, batch.sum]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('MetricAccumulator', () => {
  it('gives the exact epoch value over unequal batches, not the mean of batch means', () => {
    const before = tf.memory().numTensors;
    const accuracy = create('accuracy');
    const acc = new MetricAccumulator();
    // Batch 1: 3 of 3 right; batch 2: 0 of 1 right. Exact: 3/4; mean of means would be 1/2.
    const batches = [
      { labels: [0, 1, 2], predictions: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] },
      { labels: [0], predictions: [[0, 1, 0]] },
    ];
    for (const b of batches) {
      // Inside tidy, as a train loop would call it: the accumulator keeps what it needs.
      tf.tidy(() => acc.add(accuracy(tf.tensor1d(b.labels, 'int32'), tf.tensor2d(b.predictions))));
    }
    expect(acc.result()).toBe(3 / 4);
    expect(acc.count).toBe(4);
    acc.reset();
    expect(acc.result()).toBeNaN();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches the metric on the whole data set across many batches (flushing on the way)', () => {
    const before = tf.memory().numTensors;
    const mse = create('meanSquaredError');
    const acc = new MetricAccumulator();
    const n = 203;
    const labels = Array.from({ length: n }, (_, i) => [Math.sin(i), Math.cos(i)]);
    const predictions = labels.map(([a, b], i) => [a! + (i % 7) / 10, b! - (i % 3) / 10]);
    for (let start = 0; start < n; start += 2) {
      tf.tidy(() => acc.add(mse(tf.tensor2d(labels.slice(start, start + 2)), tf.tensor2d(predictions.slice(start, start + 2)))));
    }
    const whole = tf.tidy(() => {
      const b = mse(tf.tensor2d(labels), tf.tensor2d(predictions));
      return b.sum.dataSync()[0]! / b.count;
    });
    expect(acc.result()).toBeCloseTo(whole, 5);
    acc.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('allCorrect', () => {
  it('counts the examples on which every output is right, with id and one-hot labels alike', () => {
    const before = tf.memory().numTensors;
    const first = { labels: tf.tensor1d([0, 1, 1], 'int32'), predictions: tf.tensor2d([[2, 1], [0, 3], [4, 0]]) };
    const second = { labels: tf.tensor2d([[1, 0, 0], [0, 0, 1], [0, 1, 0]]), predictions: tf.tensor2d([[5, 0, 0], [0, 1, 2], [0, 9, 0]]) };
    // Example 0: both right; 1: both right; 2: the first wrong.
    const batch = allCorrect([first, second]);
    expect(batch.sum.dataSync()[0]).toBe(2);
    expect(batch.count).toBe(3);
    batch.sum.dispose();
    tf.dispose([first.labels, first.predictions, second.labels, second.predictions]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
