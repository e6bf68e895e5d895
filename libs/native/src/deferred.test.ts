/**
 * Deferred matrix products (deferred.ts): computed when first read, with the operands' values at
 * the time of the call even when those tensors are gone by then; never computed when disposed
 * unread; the engine's and the backend's bookkeeping come back to where they were.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerNativeBackend, type NativeInstance } from './native-backend';
import { nativeSkipReason, seeded, setUpNative } from './testing/setup-native';

interface EngineState {
  numDataBuffers: number;
}

let tensorsBefore = 0;
let buffersBefore = 0;
const state = () => (tf.engine() as unknown as { state: EngineState }).state;
const products = () => (tf.engine().registry['native'] as unknown as NativeInstance).products!;

beforeAll(async () => {
  await setUpNative();
  if (nativeSkipReason === undefined) await tf.setBackend('native');
});
afterAll(async () => {
  await tf.setBackend('cpu');
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
  buffersBefore = state().numDataBuffers;
});
afterEach(() => {
  expect({ tensors: tf.memory().numTensors, buffers: state().numDataBuffers, pending: products().pendingCount }).toEqual({
    tensors: tensorsBefore,
    buffers: buffersBefore,
    pending: 0,
  });
});

const A = seeded([30, 40], 1);
const B = seeded([40, 20], 2);

async function onCpu(body: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend('cpu');
  try {
    return tf.tidy(() => Float32Array.from(body().dataSync()));
  } finally {
    await tf.setBackend('native');
  }
}

describe.skipIf(nativeSkipReason !== undefined)('deferred matrix products', () => {
  it('waits for the first read, then holds the values of operands disposed meanwhile', async () => {
    const expected = await onCpu(() => tf.matMul(tf.tensor(A.values, [30, 40]), tf.tensor(B.values, [40, 20])));
    const a = tf.tensor(A.values, [30, 40]);
    const b = tf.tensor(B.values, [40, 20]);
    const product = tf.matMul(a, b);
    expect(products().pendingCount).toBe(1);
    tf.dispose([a, b]);
    expect(products().pendingCount).toBe(1);
    const values = product.dataSync();
    expect(products().pendingCount).toBe(0);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(values[i]! - expected[i]!)).toBeLessThan(1e-4);
    product.dispose();
  });

  it('never computes a product disposed unread, and frees what it held', () => {
    const a = tf.tensor(A.values, [30, 40]);
    const b = tf.tensor(B.values, [40, 20]);
    const product = tf.matMul(a, b);
    a.dispose();
    const computed = spyOnProducts();
    product.dispose();
    expect(computed()).toBe(0);
    b.dispose();
  });

  it('a kernel that reads a deferred product, a reshape of it and a variable reassigned meanwhile all see the values of the call', async () => {
    const expected = await onCpu(() => tf.relu(tf.matMul(tf.tensor(A.values, [30, 40]), tf.tensor(B.values, [40, 20]))));
    const weights = tf.tidy(() => tf.variable(tf.tensor(B.values, [40, 20])));
    const a = tf.tensor(A.values, [30, 40]);
    const product = tf.matMul(a, weights);
    const flat = tf.reshape(product, [600]);
    tf.tidy(() => weights.assign(tf.zerosLike(weights)));
    const relu = tf.relu(flat);
    expect(Array.from(relu.dataSync()).every((v, i) => Math.abs(v - expected[i]!) < 1e-4)).toBe(true);
    tf.dispose([weights, a, product, flat, relu]);
  });

  it('a dense layer whose input needs no gradient: the unread input gradient is dropped, the weight gradients are right', async () => {
    const x = () => tf.tensor(A.values, [30, 40]);
    const w = () => tf.tidy(() => tf.variable(tf.tensor(B.values, [40, 20])));
    const gradients = (input: tf.Tensor, kernel: tf.Variable) =>
      tf.variableGrads(() => tf.sum(tf.square(tf.fused.matMul({ a: input, b: kernel }))) as tf.Scalar, [kernel]);
    await tf.setBackend('cpu');
    const cpuKernel = w();
    const cpuInput = x();
    const cpu = gradients(cpuInput, cpuKernel);
    const expected = Float32Array.from(cpu.grads[cpuKernel.name]!.dataSync());
    tf.dispose([cpuKernel, cpuInput, cpu.value, ...Object.values(cpu.grads)]);
    await tf.setBackend('native');
    const kernel = w();
    const input = x();
    const computed = spyOnProducts();
    const native = gradients(input, kernel);
    const actual = native.grads[kernel.name]!.dataSync();
    // Of the two products of the gradient (input and kernel), only the kernel's was read.
    expect(computed()).toBe(1);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(expected[i]!)));
    tf.dispose([kernel, input, native.value, ...Object.values(native.grads)]);
  });

  it('switched off, every product is computed when called', async () => {
    await registerNativeBackend({ threads: 2, deferProducts: false });
    try {
      const a = tf.tensor(A.values, [30, 40]);
      const product = tf.matMul(a, a, false, true);
      expect(products().pendingCount).toBe(0);
      tf.dispose([a, product]);
    } finally {
      await registerNativeBackend({ threads: 2 });
    }
  });
});

/** Counts the products computed from now on. */
function spyOnProducts(): () => number {
  const deferred = products() as unknown as { run(dataId: object): void; isPending(dataId: object): boolean };
  let count = 0;
  const run = deferred.run.bind(deferred);
  deferred.run = (dataId: object) => {
    if (deferred.isPending(dataId)) count++;
    run(dataId);
  };
  return () => count;
}
