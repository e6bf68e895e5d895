/** MaxPool, AvgPool and their gradients on native against the cpu backend. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nativeSkipReason, relativeError, seeded, setUpNative, valuesOn } from '../testing/setup-native';

const TOLERANCE = 1e-6;
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

interface PoolCase {
  name: string;
  x: [number, number, number, number];
  filter: number | [number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const CASES: PoolCase[] = [
  { name: 'the course pooling: 2x2, stride 2 over 28x28x32', x: [4, 28, 28, 32], filter: 2, strides: 2, pad: 'valid' },
  { name: '2x2 stride 2 over an odd 7x7', x: [2, 7, 7, 3], filter: 2, strides: 2, pad: 'valid' },
  { name: '2x2 stride 2 same over 7x7', x: [2, 7, 7, 3], filter: 2, strides: 2, pad: 'same' },
  { name: '3x3 stride 1 same (overlapping windows)', x: [2, 6, 5, 4], filter: 3, strides: 1, pad: 'same' },
  { name: '3x3 stride 2 valid over 9x11', x: [1, 9, 11, 5], filter: 3, strides: 2, pad: 'valid' },
  { name: '[2, 3] windows, strides [1, 2]', x: [3, 8, 9, 2], filter: [2, 3], strides: [1, 2], pad: 'same' },
  { name: 'explicit padding 1 with ceil rounding', x: [1, 8, 8, 3], filter: 3, strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'one channel, window as large as the input', x: [2, 4, 4, 1], filter: 4, strides: 1, pad: 'valid' },
];

async function compare(body: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const expected = await valuesOn('cpu', body);
  const actual = await valuesOn('native', body);
  expect(actual.map((a) => a.length)).toEqual(expected.map((e) => e.length));
  return Math.max(...actual.map((a, i) => relativeError(a, expected[i]!)));
}

describe.skipIf(nativeSkipReason !== undefined)('native pooling', () => {
  it.each(CASES)('$name: max and average as on cpu', async (c) => {
    const x = seeded(c.x, 21);
    const error = await compare(() => {
      const input = tf.tensor4d(x.values, c.x);
      return [tf.maxPool(input, c.filter, c.strides, c.pad, c.dimRoundingMode), tf.avgPool(input, c.filter, c.strides, c.pad, c.dimRoundingMode)];
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it.each(CASES.filter((c) => c.dimRoundingMode === undefined))('$name: both gradients as on cpu', async (c) => {
    const x = seeded(c.x, 22);
    const dyShape = tf.tidy(() => tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.filter, c.strides, c.pad).shape);
    const dy = seeded(dyShape, 23);
    const error = await compare(() => {
      const input = tf.tensor4d(x.values, c.x);
      const upstream = tf.tensor(dy.values, dyShape);
      const maxGrad = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.filter, c.strides, c.pad))(input, upstream);
      const avgGrad = tf.grad((t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, c.filter, c.strides, c.pad))(input, upstream);
      return [maxGrad, avgGrad];
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it('ties: the gradient goes to the first maximum of each window, as on cpu', async () => {
    const values = Float32Array.from({ length: 2 * 6 * 6 * 2 }, (_, i) => Math.floor(i / 5) % 2);
    const error = await compare(() =>
      tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 3, 1, 'same'))(tf.tensor4d(values, [2, 6, 6, 2]), tf.ones([2, 6, 6, 2])),
    );
    expect(error).toBe(0);
  });

  it('NaN never wins a window, as on cpu', async () => {
    const values = Float32Array.from([NaN, 1, 2, NaN, 3, NaN, NaN, 0]);
    const [native] = await valuesOn('native', () => tf.maxPool(tf.tensor4d(values, [1, 2, 4, 1]), 2, 2, 'valid'));
    const [cpu] = await valuesOn('cpu', () => tf.maxPool(tf.tensor4d(values, [1, 2, 4, 1]), 2, 2, 'valid'));
    expect(Array.from(native!)).toEqual(Array.from(cpu!));
  });
});
