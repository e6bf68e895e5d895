/** Conv2D, FusedConv2D and both convolution gradients on native against the cpu backend. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nativeSkipReason, relativeError, seeded, setUpNative, valuesOn } from '../testing/setup-native';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const CASES: ConvCase[] = [
  { name: 'the course conv2: 5x5 same, 32 to 64 channels', x: [2, 14, 14, 32], filter: [5, 5, 32, 64], strides: 1, pad: 'same' },
  { name: 'one input channel (a first layer)', x: [3, 28, 28, 1], filter: [5, 5, 1, 32], strides: 1, pad: 'same' },
  { name: 'odd sizes, valid', x: [1, 9, 11, 5], filter: [3, 4, 5, 7], strides: 1, pad: 'valid' },
  { name: 'stride 2, same (asymmetric padding)', x: [2, 10, 9, 3], filter: [3, 3, 3, 8], strides: 2, pad: 'same' },
  { name: 'stride 3 valid with unused rows', x: [2, 11, 10, 4], filter: [2, 2, 4, 5], strides: 3, pad: 'valid' },
  { name: 'mixed strides', x: [1, 12, 13, 6], filter: [3, 5, 6, 17], strides: [1, 2], pad: 'same' },
  { name: 'explicit numeric padding', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 2 },
  {
    name: 'explicit asymmetric padding',
    x: [2, 7, 9, 3],
    filter: [3, 2, 3, 5],
    strides: [2, 1],
    pad: [[0, 0], [1, 2], [0, 3], [0, 0]],
  },
  { name: 'padding with ceil rounding', x: [1, 8, 8, 2], filter: [3, 3, 2, 3], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'padding with round rounding', x: [1, 9, 9, 2], filter: [2, 2, 2, 3], strides: 2, pad: 0, dimRoundingMode: 'round' },
  { name: '1x1 filter, 17 channels to 33', x: [4, 5, 5, 17], filter: [1, 1, 17, 33], strides: 1, pad: 'valid' },
  { name: 'a filter as large as the input', x: [2, 4, 4, 3], filter: [4, 4, 3, 2], strides: 1, pad: 'valid' },
];

const DILATED: ConvCase[] = [
  { name: 'dilation 2, same', x: [2, 11, 11, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same', dilations: 2 },
  { name: 'dilations [2, 3], valid', x: [1, 12, 14, 2], filter: [3, 2, 2, 5], strides: 1, pad: 'valid', dilations: [2, 3] },
];

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

function inputs(c: ConvCase) {
  const x = seeded(c.x, 1);
  const w = seeded(c.filter, 2);
  return () => [tf.tensor4d(x.values, c.x), tf.tensor4d(w.values, c.filter)] as const;
}

async function onBoth(body: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const expected = await valuesOn('cpu', body);
  const actual = await valuesOn('native', body);
  expect(actual.map((a) => a.length)).toEqual(expected.map((e) => e.length));
  return Math.max(...actual.map((a, i) => relativeError(a, expected[i]!)));
}

describe.skipIf(nativeSkipReason !== undefined)('native Conv2D', () => {
  it.each([...CASES, ...DILATED])('$name: as on cpu', async (c) => {
    const make = inputs(c);
    const error = await onBoth(() => {
      const [x, w] = make();
      return tf.conv2d(x, w, c.strides, c.pad, 'NHWC', c.dilations ?? 1, c.dimRoundingMode);
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it.each(['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'] as const)(
    'FusedConv2D with a bias and %s: as on cpu (prelu through the wasm kernel)',
    async (activation) => {
      const c = CASES[3]!;
      const make = inputs(c);
      const bias = seeded([c.filter[3]], 3);
      const alphas = seeded([c.filter[3]], 4);
      const error = await onBoth(() => {
        const [x, w] = make();
        return tf.fused.conv2d({
          x,
          filter: w,
          strides: c.strides,
          pad: c.pad as 'same',
          bias: tf.tensor1d(bias.values),
          activation,
          preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alphas.values) : undefined,
          leakyreluAlpha: 0.3,
        });
      });
      expect(error).toBeLessThan(TOLERANCE);
    },
  );
});

// TF.js's conv2d gradient drops dimRoundingMode (it computes the gradients' geometry with floor
// rounding whatever the forward used), so those cases have no meaningful reference.
const GRADIENT_CASES = CASES.filter((c) => c.dimRoundingMode === undefined);

describe.skipIf(nativeSkipReason !== undefined)('native convolution gradients', () => {
  it.each(GRADIENT_CASES)('$name: dx and dW as on cpu', async (c) => {
    const make = inputs(c);
    const dyShape = tf.tidy(() => {
      const [x, w] = make();
      return tf.conv2d(x, w, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode).shape;
    });
    const dy = seeded(dyShape, 5);
    const error = await onBoth(() => {
      const [x, w] = make();
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode));
      return g([x, w], tf.tensor(dy.values, dyShape));
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it('conv2dTranspose (Conv2DBackpropInput as an op): as on cpu', async () => {
    const dy = seeded([2, 5, 5, 6], 6);
    const w = seeded([3, 3, 4, 6], 7);
    const error = await onBoth(() => tf.conv2dTranspose(tf.tensor4d(dy.values, [2, 5, 5, 6]), tf.tensor4d(w.values, [3, 3, 4, 6]), [2, 10, 10, 4], 2, 'same'));
    expect(error).toBeLessThan(TOLERANCE);
  });

});
