/** The Adam kernel: the bits of the same TF.js operations kernel by kernel, on any size. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXTRA_KERNELS } from '@dlexp/core';
import { nativeSkipReason, seeded, setUpNative, valuesOn } from '../testing/setup-native';

let tensorsBefore = 0;
beforeAll(async () => {
  await setUpNative();
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

const ATTRS = { beta1: 0.9, beta2: 0.999, scale: Math.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3), epsilon: 1e-7 * Math.sqrt(1 - 0.999 ** 3) };

/** The step as separate TF.js operations (libs/optim's scaleByAdam without the kernel). */
function composed(g: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor[] {
  const { beta1, beta2, scale, epsilon } = ATTRS;
  const nextM = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
  const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
  return [nextM, nextV, tf.div(tf.mul(nextM, scale), tf.add(tf.sqrt(nextV), epsilon))];
}

describe.skipIf(nativeSkipReason !== undefined)('Adam in one pass', () => {
  it.each([[[7]], [[300, 401]], [[784, 500]], [[3, 1, 5]]])('shape %j: the bits of the operations one by one', async (shape) => {
    const [g, m, v] = [1, 2, 3].map((seed) => seeded(shape, seed));
    const inputs = () => [tf.tensor(g!.values, shape), tf.tensor(m!.values, shape), tf.abs(tf.tensor(v!.values, shape))] as const;
    const kernel = () => {
      const [gt, mt, vt] = inputs();
      return tf.engine().runKernel(EXTRA_KERNELS.adam, { gradient: gt, m: mt, v: vt }, ATTRS) as tf.Tensor[];
    };
    const expected = await valuesOn('native', () => composed(...inputs()));
    const actual = await valuesOn('native', kernel);
    // Counted, not diffed: a diff of arrays this long takes minutes to print.
    const differing = actual.map((values, i) => values.filter((x, j) => !Object.is(x, expected[i]![j])).length);
    expect(differing).toEqual([0, 0, 0]);
    const onCpu = await valuesOn('cpu', () => composed(...inputs()));
    const worst = onCpu.map((values, i) => values.reduce((w, x, j) => Math.max(w, Math.abs(actual[i]![j]! - x) / Math.max(1, Math.abs(x))), 0));
    worst.forEach((w) => expect(w).toBeLessThanOrEqual(1e-6));
  });

  it('names the kernel when the inputs do not fit', async () => {
    await tf.setBackend('native');
    const [a, b] = [tf.zeros([2, 3]), tf.zeros([3, 2])];
    expect(() => tf.engine().runKernel(EXTRA_KERNELS.adam, { gradient: a, m: a, v: b }, ATTRS)).toThrow(
      /DlexpAdam: gradient, m and v must be float32 tensors of one shape, got \[2,3\], \[2,3\], \[3,2\]/,
    );
    expect(() => tf.engine().runKernel(EXTRA_KERNELS.adam, { gradient: a, m: a, v: a }, { ...ATTRS, scale: Number.NaN })).toThrow(/attribute scale must be a finite number/);
    tf.dispose([a, b]);
    await tf.setBackend('cpu');
  });
});
