/** Slice, SplitV, Unpack and Concat on native: exactly the cpu backend's values. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

async function same(body: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const expected = await valuesOn('cpu', body);
  const actual = await valuesOn('native', body);
  expect(actual).toEqual(expected);
}

const x = seeded([4, 5, 6, 7], 41);
const input = () => tf.tensor4d(x.values, [4, 5, 6, 7]);

describe.skipIf(nativeSkipReason !== undefined)('native data movement', () => {
  it.each([
    { begin: [0, 0, 0, 0], size: [4, 5, 6, 7] },
    { begin: [1, 0, 0, 0], size: [2, -1, -1, -1] },
    { begin: [0, 2, 1, 3], size: [4, 2, 4, 3] },
    { begin: [3, 4, 5, 6], size: [1, 1, 1, 1] },
    { begin: [1, 1, 0, 0], size: [2, 3, 6, 7] },
  ])('Slice from $begin of $size', async ({ begin, size }) => {
    await same(() => tf.slice(input(), begin, size));
  });

  it('Slice of rank 6 with every dim cut (the wasm kernel)', async () => {
    const values = seeded([2, 3, 2, 3, 2, 3], 42).values;
    await same(() => tf.slice(tf.tensor(values, [2, 3, 2, 3, 2, 3]), [1, 1, 1, 1, 1, 1], [1, 2, 1, 2, 1, 2]));
  });

  it('Slice of int32 and bool tensors', async () => {
    await same(() => tf.cast(tf.slice(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), [0, 1], [2, 2]), 'float32'));
    await same(() => tf.cast(tf.slice(tf.tensor1d([true, false, true, true], 'bool'), [1], [3]), 'float32'));
  });

  it.each([0, 1, 2, 3])('SplitV into uneven pieces along axis %i, and into equal ones', async (axis) => {
    const extent = [4, 5, 6, 7][axis]!;
    await same(() => tf.split(input(), [1, extent - 1], axis));
    await same(() => tf.split(input(), extent, axis));
  });

  it.each([0, 1, 2, 3])('Unpack along axis %i', async (axis) => {
    await same(() => tf.unstack(input(), axis));
  });

  it.each([0, 1, 2, 3])('Concat along axis %i, with an empty tensor among them', async (axis) => {
    await same(() => {
      const a = input();
      const shape = [...a.shape];
      shape[axis] = 0;
      return tf.concat([a, tf.zeros(shape), tf.mul(a, 2), a], axis);
    });
  });

  it('Concat of int32 tensors, and the gradients of split and concat', async () => {
    await same(() => tf.cast(tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')]), 'float32'));
    await same(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.concat(tf.split(t, [2, 3], 1).reverse(), 1), tf.range(0, 5 * 4 * 6 * 7).reshape([4, 5, 6, 7]))))(input()));
  });
});
