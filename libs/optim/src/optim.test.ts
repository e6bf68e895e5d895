import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fillDefaults } from '@dlexp/core';
import { clipByGlobalNorm, createOptimizer, createOptimizerRegistry, createScheduleRegistry } from './index';

const optimizers = createOptimizerRegistry();
const schedules = createScheduleRegistry();
const context = { schedules };

let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

/** f(w) = Σ (w - target)², started at w = 0. */
function minimizeQuadratic(config: { type: string; [k: string]: unknown }, steps: number): number {
  const target = tf.tensor1d([1, -2, 3]);
  const w = tf.tidy(() => tf.variable(tf.zeros([3])));
  const vars = new Map([['w', w]]);
  const optimizer = createOptimizer(optimizers, config, context);
  const loss = () => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar;
  for (let step = 0; step < steps; step++) {
    const { value, grads } = tf.variableGrads(loss, [w]);
    optimizer.apply(new Map([['w', grads[w.name]!]]), vars, step);
    tf.dispose([value, ...Object.values(grads)]);
  }
  const final = tf.tidy(() => loss().dataSync()[0]!);
  optimizer.dispose();
  tf.dispose([target, w]);
  return final;
}

describe.each(optimizers.names())('optimizer %s', (name) => {
  it('builds from defaults and lowers a quadratic', () => {
    const entry = optimizers.get(name);
    const params = fillDefaults(entry.params, {}, () => undefined);
    expect(params['learningRate']).toBeGreaterThan(0);
    const start = 14; // Σ target² at w = 0
    // Adadelta starts with steps of about sqrt(epsilon) and needs longer to get going.
    const steps = name === 'adadelta' ? 1000 : 100;
    const lr = name === 'adadelta' ? 1 : 0.05;
    expect(minimizeQuadratic({ type: name, learningRate: lr }, steps)).toBeLessThan(start * 0.5);
  });
});

describe('optimizers match TF.js reference implementations', () => {
  const compare = (config: { type: string; [k: string]: unknown }, reference: () => tf.Optimizer) => {
    const init = [0.5, -1, 2];
    const f = (w: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(tf.square(w), tf.tensor1d([1, 2, 3]))) as tf.Scalar);
    const a = tf.tidy(() => tf.variable(tf.tensor1d(init)));
    const ours = createOptimizer(optimizers, config, context);
    for (let step = 0; step < 5; step++) {
      const { value, grads } = tf.variableGrads(() => f(a), [a]);
      ours.apply(new Map([['a', grads[a.name]!]]), new Map([['a', a]]), step);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const oursFinal = Array.from(a.dataSync());
    ours.dispose();
    a.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // TF.js' own optimizers keep a few scalars alive after dispose(), so they run outside the leak check.
    const b = tf.tidy(() => tf.variable(tf.tensor1d(init)));
    const theirs = reference();
    for (let step = 0; step < 5; step++) theirs.minimize(() => f(b), false, [b]);
    expect(oursFinal).toEqual(Array.from(b.dataSync()).map((x) => expect.closeTo(x, 5)));
    theirs.dispose();
    b.dispose();
    before = tf.memory().numTensors;
  };
  it('sgd', () => compare({ type: 'sgd', learningRate: 0.1 }, () => tf.train.sgd(0.1)));
  it('momentum', () => compare({ type: 'momentum', learningRate: 0.1, momentum: 0.9 }, () => tf.train.momentum(0.1, 0.9)));
  it('nesterov', () => compare({ type: 'nesterov', learningRate: 0.1, momentum: 0.9 }, () => tf.train.momentum(0.1, 0.9, true)));
  it('adam', () => compare({ type: 'adam', learningRate: 0.1, epsilon: 1e-7 }, () => tf.train.adam(0.1, 0.9, 0.999, 1e-7)));
  it('rmsprop', () => compare({ type: 'rmsprop', learningRate: 0.01, epsilon: 1e-7 }, () => tf.train.rmsprop(0.01, 0.9, 0, 1e-7)));
  it('adadelta (first step by hand: sqrt(ε) / sqrt((1 - ρ)g² + ε) · g)', () => {
    const w = tf.tidy(() => tf.variable(tf.tensor1d([0.5])));
    const optimizer = createOptimizer(optimizers, { type: 'adadelta', learningRate: 1, rho: 0.95, epsilon: 1e-6 }, context);
    const g = tf.tensor1d([1]);
    optimizer.apply(new Map([['w', g]]), new Map([['w', w]]), 0);
    expect(w.dataSync()[0]).toBeCloseTo(0.5 - Math.sqrt(1e-6) / Math.sqrt(0.05 + 1e-6), 6);
    optimizer.dispose();
    tf.dispose([w, g]);
  });
});

describe('clipByGlobalNorm', () => {
  it('rescales only when the global norm exceeds the limit', () => {
    const clip = clipByGlobalNorm(5);
    const [big, small] = tf.tidy(() => {
      const out1 = clip.update(new Map([['a', tf.tensor1d([3, 4])], ['b', tf.tensor1d([0, 5 * Math.sqrt(3)])]]), new Map(), 0);
      const out2 = clip.update(new Map([['a', tf.tensor1d([0.3, 0.4])]]), new Map(), 0);
      return [tf.concat([out1.get('a')!, out1.get('b')!]), out2.get('a')!];
    });
    expect(Array.from(big!.dataSync()).map((x) => Number(x.toFixed(4)))).toEqual([1.5, 2, 0, 4.3301]);
    expect(Array.from(small!.dataSync()).map((x) => Number(x.toFixed(4)))).toEqual([0.3, 0.4]);
    tf.dispose([big!, small!]);
  });
});
