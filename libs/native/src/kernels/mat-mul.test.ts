/** BatchMatMul and _FusedMatMul on native against the cpu backend. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nativeSkipReason, relativeError, seeded, setUpNative, valuesOn } from '../testing/setup-native';

const TOLERANCE = 2e-5;
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

function operands(aShape: number[], bShape: number[]) {
  const a = seeded(aShape, 11);
  const b = seeded(bShape, 12);
  return () => [tf.tensor(a.values, aShape), tf.tensor(b.values, bShape)] as const;
}

interface MatMulCase {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

/** m, k, n and a batch, laid out for every transpose combination. */
function cases(name: string, m: number, k: number, n: number, batchA: number[], batchB: number[]): MatMulCase[] {
  const out: MatMulCase[] = [];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      out.push({
        name: `${name}, transposeA ${transposeA}, transposeB ${transposeB}`,
        a: [...batchA, ...(transposeA ? [k, m] : [m, k])],
        b: [...batchB, ...(transposeB ? [n, k] : [k, n])],
        transposeA,
        transposeB,
      });
    }
  }
  return out;
}

const CASES: MatMulCase[] = [
  ...cases('the course dense layer (long sums): 100x3136 by 3136x70', 100, 3136, 70, [], []),
  ...cases('odd sizes 7x13 by 13x5', 7, 13, 5, [], []),
  ...cases('a row vector', 1, 9, 6, [], []),
  ...cases('a column result', 6, 9, 1, [], []),
  ...cases('k = 1 (an outer product)', 5, 1, 4, [], []),
  ...cases('batches of 3', 4, 6, 5, [3], [3]),
  ...cases('batches [2, 3]', 3, 4, 2, [2, 3], [2, 3]),
  ...cases('one b for every a', 4, 7, 3, [5], []),
  ...cases('one a for every b', 4, 7, 3, [], [5]),
  ...cases('a broadcast batch of 1', 2, 3, 4, [1], [6]),
  ...cases('many small entries', 8, 8, 8, [64], [64]),
];

describe.skipIf(nativeSkipReason !== undefined)('native BatchMatMul', () => {
  it.each(CASES)('$name: as on cpu', async (c) => {
    const make = operands(c.a, c.b);
    const error = await compare(() => {
      const [a, b] = make();
      return tf.matMul(a, b, c.transposeA, c.transposeB);
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it('an empty inner dimension gives zeros', async () => {
    const [values] = await valuesOn('native', () => tf.matMul(tf.zeros([2, 0]), tf.zeros([0, 3])));
    expect(Array.from(values!)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('its gradients (the transposed products) are as on cpu', async () => {
    const make = operands([3, 20, 30], [3, 30, 10]);
    const dy = seeded([3, 20, 10], 13);
    const error = await compare(() => {
      const [a, b] = make();
      return tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y))([a, b], tf.tensor(dy.values, [3, 20, 10]));
    });
    expect(error).toBeLessThan(TOLERANCE);
  });
});

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'] as const;

describe.skipIf(nativeSkipReason !== undefined)('native _FusedMatMul', () => {
  it.each(ACTIVATIONS)('a bias per column and %s: as on cpu', async (activation) => {
    const make = operands([17, 33], [33, 9]);
    const bias = seeded([9], 14);
    const alphas = seeded([9], 15);
    const error = await compare(() => {
      const [a, b] = make();
      return tf.fused.matMul({
        a,
        b,
        bias: tf.tensor1d(bias.values),
        activation,
        preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alphas.values) : undefined,
        leakyreluAlpha: 0.15,
      });
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it.each([
    { name: 'a scalar bias, transposed b', bias: [1], transposeB: true, batch: [] as number[] },
    { name: 'a [1, n] bias, batched', bias: [1, 6], transposeB: false, batch: [4] },
    { name: 'an [m, n] bias (the wasm kernel takes rank 1 only)', bias: [5, 6], transposeB: false, batch: [4] },
  ])('$name: as on cpu', async (c) => {
    const make = operands([...c.batch, 5, 8], c.transposeB ? [...c.batch, 6, 8] : [...c.batch, 8, 6]);
    const bias = seeded(c.bias, 16);
    const error = await compare(() => {
      const [a, b] = make();
      return tf.fused.matMul({ a, b, transposeB: c.transposeB, bias: tf.tensor(bias.values, c.bias), activation: 'relu' });
    });
    expect(error).toBeLessThan(TOLERANCE);
  });
});
