import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { fillDefaults } from '@dlexp/core';
import { createInitializerRegistry } from './index';

const registry = createInitializerRegistry();

describe.each(registry.names())('initializer %s', (name) => {
  it('builds from defaults, gives the requested shape, is seeded and leaks nothing', () => {
    const entry = registry.get(name);
    const params = fillDefaults(entry.params, {}, () => undefined);
    const before = tf.memory().numTensors;
    const make = (seed: number) => entry.create(params, { seed, purpose: 'w' })([3, 4]);
    const a = make(1);
    const b = make(1);
    expect(a.shape).toEqual([3, 4]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('randomNormal', () => {
  it('draws different values for different purposes and matches its stddev', () => {
    const entry = registry.get('randomNormal');
    const w1 = entry.create({ mean: 0, stddev: 1 }, { seed: 1, purpose: 'w1' })([100, 100]);
    const w2 = entry.create({ mean: 0, stddev: 1 }, { seed: 1, purpose: 'w2' })([100, 100]);
    const [std] = tf.moments(w1).variance.sqrt().dataSync();
    expect(std).toBeGreaterThan(0.95);
    expect(std).toBeLessThan(1.05);
    expect(w1.dataSync()[0]).not.toBe(w2.dataSync()[0]);
    tf.dispose([w1, w2]);
  });
});

describe('orthogonal', () => {
  it.each([
    [6, 4],
    [4, 6],
  ])('gives a %i x %i matrix with orthonormal columns or rows', (rows, cols) => {
    const before = tf.memory().numTensors;
    const w = registry.get('orthogonal').create({ gain: 1 }, { seed: 3, purpose: 'rk' })([rows, cols]);
    const error = tf.tidy(() => {
      const gram = rows >= cols ? tf.matMul(w, w, true, false) : tf.matMul(w, w, false, true);
      return tf.max(tf.abs(tf.sub(gram, tf.eye(Math.min(rows, cols))))).dataSync()[0]!;
    });
    expect(error).toBeLessThan(1e-5);
    w.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
