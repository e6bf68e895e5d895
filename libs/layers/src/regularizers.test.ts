import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { fillDefaults } from '@dlexp/core';
import { createRegularizerRegistry } from './index';

const registry = createRegularizerRegistry();
// w = [1, -2, 3]: sum|w| = 6, sum w² = 14; the defaults are 0.01 each.
const w = [1, -2, 3];
const expected: Record<string, { value: number; grad: number[] }> = {
  l1: { value: 0.06, grad: w.map((x) => 0.01 * Math.sign(x)) },
  l2: { value: 0.14, grad: w.map((x) => 0.02 * x) },
  l1l2: { value: 0.2, grad: w.map((x) => 0.01 * Math.sign(x) + 0.02 * x) },
};

it('every regularizer has an expected value', () => {
  expect(Object.keys(expected).sort()).toEqual(registry.names().sort());
});

describe.each(registry.names())('regularizer %s', (name) => {
  it('builds from defaults, gives the expected penalty and gradient, and leaks nothing', () => {
    const entry = registry.get(name);
    const penalty = entry.create(fillDefaults(entry.params, {}, () => undefined), {});
    const before = tf.memory().numTensors;
    const initial = tf.tensor1d(w);
    const v = tf.variable(initial, true, `regularizer_test_${name}`);
    initial.dispose();
    const { value, grads } = tf.variableGrads(() => penalty(v), [v]);
    expect(value.dataSync()[0]).toBeCloseTo(expected[name]!.value, 6);
    const grad = Array.from(grads[v.name]!.dataSync());
    expected[name]!.grad.forEach((g, i) => expect(grad[i]).toBeCloseTo(g, 6));
    tf.dispose([v, value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
