import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activateBackend, registerWasmTrainingKernels, restoreStockWasmKernels, wasmFastPathsActive } from '../index';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type Pair = number | [number, number];

interface Result {
  data: Float32Array;
  shape: number[];
}

/** Runs `f` on a backend and reads the result; inputs come from seeded JS randomness, so both backends see the same numbers. */
async function run(backend: string, f: () => tf.Tensor): Promise<Result> {
  await tf.setBackend(backend);
  const dataIdsBefore = tf.engine().backend.numDataIds();
  const out = tf.tidy(f);
  const data = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  // Intermediates of the composed kernels are freed on the backend itself, not only in the engine.
  expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore);
  return { data, shape };
}

function expectClose(actual: Result, expected: Result): void {
  expect(actual.shape).toEqual(expected.shape);
  let scale = 1;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < expected.data.length; i++) worst = Math.max(worst, Math.abs(actual.data[i]! - expected.data[i]!));
  // float32 sums over a few hundred products in a different order: about 1e-6 relative.
  expect(worst / scale).toBeLessThan(2e-5);
}

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

function conv2dOutShape(xShape: number[], filterShape: number[], strides: Pair, pad: Pad, dilations: Pair): number[] {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
  ).outShape;
}

/** A dilated filter written out with zeros between its taps: the reference for dilation (cpu's backprop kernels ignore it). */
function spreadFilter(filter: tf.Tensor4D, dilations: [number, number]): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const [dh, dw] = dilations;
  const values = filter.arraySync();
  const out = tf.buffer([(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co]);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) out.set(values[i]![j]![c]![o]!, i * dh, j * dw, c, o);
  return out.toTensor() as tf.Tensor4D;
}

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: Pair;
  pad: Pad;
  dilations?: [number, number];
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [1, 8, 8, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 9, 9, 2], filter: [5, 5, 2, 3], strides: 2, pad: 'valid' },
  { x: [2, 8, 6, 2], filter: [2, 3, 2, 3], strides: [3, 2], pad: 'valid' },
  { x: [1, 10, 10, 2], filter: [4, 4, 2, 2], strides: 3, pad: 'same' },
  { x: [4, 6, 6, 1], filter: [5, 5, 1, 3], strides: 1, pad: 'same' },
  { x: [2, 9, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
  { x: [2, 9, 9, 2], filter: [3, 3, 2, 3], strides: 1, pad: 'same', dilations: [2, 2] },
  { x: [1, 11, 10, 3], filter: [2, 3, 3, 2], strides: 1, pad: 'valid', dilations: [3, 2] },
  { x: [2, 14, 14, 8], filter: [5, 5, 8, 16], strides: 1, pad: 'same' },
];

function label(c: ConvCase): string {
  return `x ${c.x.join('x')} filter ${c.filter.join('x')} stride ${String(c.strides)} pad ${JSON.stringify(c.pad)}${c.dilations ? ` dilation ${c.dilations.join(',')}` : ''}`;
}

let tensorsBefore = 0;

beforeAll(async () => {
  await activateBackend('wasm', { log: () => undefined });
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});

afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('wasm training kernels', () => {
  it('are registered, the fast paths included', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(wasmFastPathsActive()).toBe(true);
  });

  describe.each(CONV_CASES)('conv gradients, $x.0 batch: %#', (c) => {
    const dilations = c.dilations ?? [1, 1];
    const dyShape = conv2dOutShape(c.x, c.filter, c.strides, c.pad, dilations);

    it(`Conv2DBackpropFilter matches cpu: ${label(c)}`, async () => {
      const onWasm = await run('wasm', () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x: rand(c.x, 1), dy: rand(dyShape, 2) }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: c.filter,
          dilations,
        }) as tf.Tensor,
      );
      const onCpu = await run('cpu', () => {
        const spread = spreadFilter(tf.zeros(c.filter), dilations).shape;
        const full = tf.engine().runKernel('Conv2DBackpropFilter', { x: rand(c.x, 1), dy: rand(dyShape, 2) }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: spread,
        }) as tf.Tensor4D;
        // Keep only the taps of the dilated filter.
        return tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [dilations[0], dilations[1], 1, 1]);
      });
      expectClose(onWasm, onCpu);
    });

    it(`Conv2DBackpropInput matches cpu: ${label(c)}`, async () => {
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
      const onWasm = await run('wasm', () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: rand(dyShape, 3), filter: rand(c.filter, 4) }, { ...attrs, dilations }) as tf.Tensor,
      );
      const onCpu = await run('cpu', () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: rand(dyShape, 3), filter: spreadFilter(rand(c.filter, 4) as tf.Tensor4D, dilations) }, attrs) as tf.Tensor,
      );
      expectClose(onWasm, onCpu);
    });
  });

  it('gradients of a small conv net through tf.grads match cpu (same/valid, stride 1 and 2)', async () => {
    const grads = () => {
      const x = rand([3, 12, 12, 2], 5);
      const w1 = rand([3, 3, 2, 4], 6);
      const w2 = rand([5, 5, 4, 6], 7);
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const h = tf.relu(tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, 1, 'same'));
        const y = tf.conv2d(tf.maxPool(h as tf.Tensor4D, 2, 2, 'valid'), b as tf.Tensor4D, 2, 'same');
        return tf.sum(tf.square(y));
      };
      const [g1, g2] = tf.grads(f)([w1, w2]);
      return tf.concat([g1!.flatten(), g2!.flatten()]);
    };
    expectClose(await run('wasm', grads), await run('cpu', grads));
  });

  describe.each([
    { a: [5, 7], b: [7, 3], transposeA: false, transposeB: false },
    { a: [7, 5], b: [7, 3], transposeA: true, transposeB: false },
    { a: [5, 7], b: [3, 7], transposeA: false, transposeB: true },
    { a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
    { a: [4, 5, 7], b: [7, 3], transposeA: false, transposeB: false },
    { a: [4, 7, 5], b: [1, 3, 7], transposeA: true, transposeB: true },
    { a: [2, 3, 5, 7], b: [2, 3, 7, 4], transposeA: false, transposeB: false },
    { a: [2, 7, 5], b: [2, 7, 4], transposeA: true, transposeB: false },
    { a: [3, 30, 40], b: [3, 50, 30], transposeA: true, transposeB: true },
    // Shapes where computing the product transposed moves less data (dX = dY W^T in backprop).
    { a: [4, 20], b: [30, 20], transposeA: false, transposeB: true },
    { a: [20, 4], b: [30, 20], transposeA: true, transposeB: true },
  ])('matmul a $a b $b transposeA $transposeA transposeB $transposeB', ({ a, b, transposeA, transposeB }) => {
    it('BatchMatMul matches cpu', async () => {
      const f = () => tf.matMul(rand(a, 8), rand(b, 9), transposeA, transposeB);
      expectClose(await run('wasm', f), await run('cpu', f));
    });

    it('_FusedMatMul with bias and relu matches cpu', async () => {
      const f = () => {
        const n = transposeB ? b[b.length - 2]! : b[b.length - 1]!;
        return tf.fused.matMul({ a: rand(a, 8), b: rand(b, 9), transposeA, transposeB, bias: rand([n], 10), activation: 'relu' });
      };
      expectClose(await run('wasm', f), await run('cpu', f));
    });
  });

  it('gradients of a dense layer (the transposed matmuls) match cpu', async () => {
    const f = () => {
      const x = rand([6, 10], 11);
      const [gw, gb] = tf.grads((w: tf.Tensor, bias: tf.Tensor) => tf.sum(tf.tanh(tf.fused.matMul({ a: x, b: w, bias })).square()))([rand([10, 4], 12), rand([4], 13)]);
      return tf.concat([gw!.flatten(), gb!]);
    };
    expectClose(await run('wasm', f), await run('cpu', f));
  });

  it.each([
    { x: [3, 8, 6, 4], filterSize: 2, strides: 2, pad: 'valid' },
    { x: [2, 9, 9, 3], filterSize: 3, strides: 3, pad: 'same' },
    { x: [2, 6, 8, 2], filterSize: [2, 4], strides: [2, 4], pad: 'valid' },
    // Windows that do not tile the input: the stock kernel drops gradients here.
    { x: [2, 7, 7, 3], filterSize: 2, strides: 2, pad: 'valid' },
    { x: [2, 7, 7, 3], filterSize: 2, strides: 2, pad: 'same' },
    // Overlapping windows.
    { x: [2, 7, 7, 3], filterSize: 3, strides: 2, pad: 'same' },
    { x: [1, 6, 5, 2], filterSize: 3, strides: 1, pad: 'valid' },
    { x: [2, 8, 7, 2], filterSize: [3, 2], strides: [1, 2], pad: 'same' },
  ] as const)('MaxPoolGrad window $filterSize stride $strides $pad on $x matches cpu exactly, ties included', async ({ x, filterSize, strides, pad }) => {
    const f = () => {
      // relu then rounding: many windows hold equal maxima, where the tie rule shows.
      const input = tf.round(tf.relu(rand([...x], 16))) as tf.Tensor4D;
      const output = tf.maxPool(input, filterSize as [number, number], strides as [number, number], pad);
      const dy = rand(output.shape, 17);
      return tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, { filterSize, strides, pad }) as tf.Tensor;
    };
    const onWasm = await run('wasm', f);
    const onCpu = await run('cpu', f);
    // Overlapping windows add gradients in another order: equal up to float rounding.
    expectClose(onWasm, onCpu);
    // Where each gradient lands must agree exactly (same maximum chosen in every window).
    expect(Array.from(onWasm.data, (v) => v !== 0)).toEqual(Array.from(onCpu.data, (v) => v !== 0));
  });

  it.each([
    { dtype: 'float32', on: 1, off: 0 },
    { dtype: 'float32', on: 0.9, off: 0.1 / 9 },
    { dtype: 'int32', on: 5, off: -2 },
  ] as const)('OneHot $dtype on $on off $off matches cpu (the stock float32 kernel writes int32 bits)', async ({ dtype, on, off }) => {
    const f = () => tf.oneHot(tf.tensor2d([[0, 3], [-1, 7], [2, 2]], [3, 2], 'int32'), 4, on, off, dtype);
    const onWasm = await run('wasm', f);
    const onCpu = await run('cpu', f);
    expect(onWasm.shape).toEqual([3, 2, 4]);
    expect(Array.from(onWasm.data)).toEqual(Array.from(onCpu.data));
  });

  it('can put the stock kernels back and replace them again', async () => {
    const f = () => tf.matMul(rand([6, 5], 14), rand([4, 5], 15), false, true);
    const fast = await run('wasm', f);
    registerWasmTrainingKernels({ fastPaths: false });
    expect(wasmFastPathsActive()).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const stock = await run('wasm', f);
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    expect(wasmFastPathsActive()).toBe(true);
    expectClose(fast, stock);
    restoreStockWasmKernels();
    expect(wasmFastPathsActive()).toBe(false);
    registerWasmTrainingKernels();
  });
});
