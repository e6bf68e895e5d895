/** Elementwise kernels, Sum, Identity and Cast on native against the cpu backend. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nativeSkipReason, relativeError, seeded, setUpNative, valuesOn } from '../testing/setup-native';

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

async function compare(body: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const expected = await valuesOn('cpu', body);
  const actual = await valuesOn('native', body);
  expect(actual.map((a) => a.length)).toEqual(expected.map((e) => e.length));
  return Math.max(...actual.map((a, i) => relativeError(a, expected[i]!)));
}

const SHAPE_PAIRS: { name: string; a: number[]; b: number[] }[] = [
  { name: 'same shapes', a: [4, 5, 6], b: [4, 5, 6] },
  { name: 'a scalar on the right', a: [7, 9], b: [] },
  { name: 'a scalar on the left', a: [], b: [7, 9] },
  { name: 'a bias row', a: [6, 10], b: [10] },
  { name: 'a column', a: [6, 10], b: [6, 1] },
  { name: 'both broadcast', a: [3, 1, 5], b: [1, 4, 5] },
  { name: 'an inner broadcast', a: [2, 3, 4, 5], b: [2, 1, 4, 5] },
  { name: 'large, split across threads', a: [300, 400], b: [400] },
];

const BINARY: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  Add: tf.add,
  Sub: tf.sub,
  Multiply: tf.mul,
  RealDiv: tf.div,
  Maximum: tf.maximum,
  Minimum: tf.minimum,
  SquaredDifference: tf.squaredDifference,
};

const COMPARISONS: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  Greater: tf.greater,
  GreaterEqual: tf.greaterEqual,
  Less: tf.less,
  LessEqual: tf.lessEqual,
  Equal: tf.equal,
  NotEqual: tf.notEqual,
};

describe.skipIf(nativeSkipReason !== undefined)('native binary kernels', () => {
  for (const [name, op] of Object.entries(BINARY)) {
    it.each(SHAPE_PAIRS)(`${name}, $name: as on cpu`, async ({ a, b }) => {
      const x = seeded(a, 31);
      const y = seeded(b, 32);
      const error = await compare(() => op(tf.tensor(x.values, a), tf.tensor(y.values, b)));
      expect(error).toBeLessThan(1e-6);
    });
  }

  it.each(Object.keys(COMPARISONS))('%s with ties, broadcasting and NaN: as on cpu', async (name) => {
    const x = Float32Array.from([1, 2, NaN, 4, 5, 2, 0, -1]);
    const y = Float32Array.from([2, 2]);
    const error = await compare(() => tf.cast(COMPARISONS[name]!(tf.tensor(x, [4, 2]), tf.tensor(y, [2])), 'float32'));
    expect(error).toBe(0);
  });

  it.each(['LogicalAnd', 'LogicalOr'])('%s of bool tensors, broadcasting: as on cpu', async (name) => {
    const op = name === 'LogicalAnd' ? tf.logicalAnd : tf.logicalOr;
    const x = [true, false, true, true, false, false];
    const error = await compare(() => tf.cast(op(tf.tensor2d(x, [3, 2], 'bool'), tf.tensor1d([true, false], 'bool')), 'float32'));
    expect(error).toBe(0);
  });

  it('Select (tf.where) with a condition of the same shape, and a broadcast one', async () => {
    const t = seeded([4, 5], 36);
    const e = seeded([4, 5], 37);
    const error = await compare(() => {
      const a = tf.tensor(t.values, [4, 5]);
      const b = tf.tensor(e.values, [4, 5]);
      return [tf.where(tf.greater(a, b), a, b), tf.where(tf.tensor1d([true, false, true, false, true], 'bool'), a, b)];
    });
    expect(error).toBe(0);
  });

  it('the gradient of clipByValue (GreaterEqual, LessEqual, LogicalAnd, Select): as on cpu', async () => {
    const x = seeded([30, 40], 38);
    const error = await compare(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(t, -0.5, 0.7), 3)))(tf.tensor(x.values, [30, 40])));
    expect(error).toBe(0);
  });

  it('Maximum and Minimum pass NaN on, as on cpu', async () => {
    const x = tf.tensor1d([NaN, 1, 3]);
    const [max, min] = await valuesOn('native', () => [tf.maximum(x, tf.tensor1d([0, NaN, 2])), tf.minimum(x, tf.tensor1d([0, NaN, 2]))]);
    x.dispose();
    expect(Array.from(max!)).toEqual([NaN, NaN, 3]);
    expect(Array.from(min!)).toEqual([NaN, NaN, 2]);
  });

  it('int32 operands go to the wasm kernels', async () => {
    const [sum] = await valuesOn('native', () => tf.add(tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3, 4], 'int32')));
    expect(Array.from(sum!)).toEqual([4, 6]);
  });
});

const UNARY: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  Relu: tf.relu,
  Relu6: tf.relu6,
  Step: (x) => tf.step(x, 0.25),
  Neg: tf.neg,
  Abs: tf.abs,
  Square: tf.square,
  Sqrt: (x) => tf.sqrt(tf.abs(x)),
  Rsqrt: (x) => tf.rsqrt(tf.abs(x)),
  Reciprocal: tf.reciprocal,
  Exp: tf.exp,
  Log: (x) => tf.log(tf.abs(x)),
  Tanh: tf.tanh,
  Sigmoid: tf.sigmoid,
  LeakyRelu: (x) => tf.leakyRelu(x, 0.3),
  Elu: tf.elu,
  ClipByValue: (x) => tf.clipByValue(x, -0.5, 0.75),
};

describe.skipIf(nativeSkipReason !== undefined)('native unary kernels', () => {
  it.each(Object.keys(UNARY))('%s: as on cpu, small and large', async (name) => {
    for (const shape of [[3, 7], [400, 300]]) {
      const x = seeded(shape, 33);
      const error = await compare(() => UNARY[name]!(tf.tensor(x.values, shape)));
      // Transcendental functions in float32 differ from JavaScript's double ones in the last bit.
      expect(error).toBeLessThan(1e-6);
    }
  });

  it('NaN passes through Relu, Step and ClipByValue as on cpu', async () => {
    const values = Float32Array.from([NaN, -1, 2]);
    const error = await compare(() => {
      const x = tf.tensor1d(values);
      return [tf.relu(x), tf.step(x), tf.clipByValue(x, 0, 1)];
    });
    expect(error).toBe(0);
  });

  it('gradients of a tanh/sigmoid/relu chain: as on cpu', async () => {
    const x = seeded([50, 40], 34);
    const error = await compare(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tanh(t), tf.sigmoid(tf.relu(t)))))(tf.tensor(x.values, [50, 40])));
    expect(error).toBeLessThan(1e-6);
  });
});

describe.skipIf(nativeSkipReason !== undefined)('native Sum', () => {
  it.each([
    { name: 'over the batch (a bias gradient)', shape: [100, 28, 28, 8], axis: [0, 1, 2], keepDims: false },
    { name: 'over the last axis', shape: [60, 70], axis: [1], keepDims: true },
    { name: 'over a middle axis', shape: [5, 6, 7], axis: [1], keepDims: false },
    { name: 'over everything', shape: [9, 11, 13], axis: [0, 1, 2], keepDims: false },
    { name: 'negative axes', shape: [4, 5, 6], axis: [-1, -2], keepDims: true },
    { name: 'non-adjacent axes (the wasm kernel)', shape: [4, 5, 6], axis: [0, 2], keepDims: false },
  ])('$name: as on cpu', async ({ shape, axis, keepDims }) => {
    const x = seeded(shape, 35);
    const error = await compare(() => tf.sum(tf.tensor(x.values, shape), axis, keepDims));
    expect(error).toBeLessThan(1e-6);
  });
});

describe.skipIf(nativeSkipReason !== undefined)('native Identity and Cast', () => {
  it('share the input memory instead of copying, and free it once both are gone', async () => {
    await tf.setBackend('native');
    try {
      const before = tf.memory().numDataBuffers;
      const x = tf.tensor1d([1, 2, 3]);
      const copy = tf.clone(x);
      const same = tf.cast(x, 'float32');
      expect(tf.memory().numDataBuffers - before).toBe(1);
      x.dispose();
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3]);
      copy.dispose();
      expect(Array.from(same.dataSync())).toEqual([1, 2, 3]);
      same.dispose();
      expect(tf.memory().numDataBuffers).toBe(before);
      const ints = tf.tensor1d([1.5, -2.5]);
      const converted = tf.cast(ints, 'int32');
      expect(Array.from(converted.dataSync())).toEqual([1, -2]);
      tf.dispose([ints, converted]);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
