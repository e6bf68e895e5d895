/**
 * The LSTM layer on the native backend, where a whole sequence is one kernel forward and one
 * backward (libs/native), against the same layer composed from TF.js operations on cpu.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activateBackend } from '@dlexp/backends';
import { EXTRA_KERNELS } from '@dlexp/core';
import { createActivationRegistry, Lstm } from '@dlexp/layers';

const activations = createActivationRegistry();
const activation = (name: string) => ({ name, fn: activations.get(name).create({}, {}) });

beforeAll(async () => {
  await activateBackend('native', { threads: 2, log: () => undefined });
});

let tensorsBefore = 0;
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

interface Case {
  name: string;
  batch: number;
  steps: number;
  features: number;
  units: number;
  returnSequences: boolean;
  useBias: boolean;
}

const CASES: Case[] = [
  { name: 'last output', batch: 3, steps: 5, features: 4, units: 6, returnSequences: false, useBias: true },
  { name: 'every output', batch: 2, steps: 6, features: 3, units: 5, returnSequences: true, useBias: true },
  { name: 'one time step', batch: 2, steps: 1, features: 3, units: 5, returnSequences: true, useBias: true },
  { name: 'no bias', batch: 4, steps: 7, features: 9, units: 3, returnSequences: true, useBias: false },
  { name: 'one example, 17 units (a partial vector)', batch: 1, steps: 3, features: 2, units: 17, returnSequences: false, useBias: true },
  { name: 'the course LSTM: 28 steps x 28, 128 units', batch: 100, steps: 28, features: 28, units: 128, returnSequences: false, useBias: true },
];

let layers = 0;

/** Output, loss, input gradient and weight gradients of one layer on `backend`, with the given weights. */
async function valuesOn(backend: string, c: Case, weights: Float32Array[], x: Float32Array, usedKernel: boolean[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  layers++;
  const layer = new Lstm({
    // Zeros: the weights are set below (the default orthogonal initializer takes seconds at 128 units).
    tfjs: { name: `lstm${layers}`, units: c.units, returnSequences: c.returnSequences, useBias: c.useBias, kernelInitializer: 'zeros', recurrentInitializer: 'zeros' },
    activation: activation('tanh'),
    recurrentActivation: activation('sigmoid'),
  });
  const input = tf.input({ shape: [c.steps, c.features] });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  const initial = weights.map((w, i) => tf.tensor(w, model.weights[i]!.shape as number[]));
  model.setWeights(initial);
  tf.dispose(initial);
  const xs = tf.tensor(x, [c.batch, c.steps, c.features]);
  usedKernel.push(layer.kernelRuns(xs));
  const outputShape = c.returnSequences ? [c.batch, c.steps, c.units] : [c.batch, c.units];
  const mix = tf.randomNormal(outputShape, 0, 1, 'float32', 9);
  const lossOf = (input: tf.Tensor) => tf.sum(tf.mul(model.apply(input) as tf.Tensor, mix)) as tf.Scalar;
  const y = model.apply(xs) as tf.Tensor;
  const { value, grads } = tf.variableGrads(() => lossOf(xs));
  const dx = tf.grad(lossOf)(xs);
  const ordered = model.weights.map((w) => grads[w.originalName]!);
  const out = [y, value, dx, ...ordered].map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([xs, mix, y, value, dx, ...Object.values(grads)]);
  model.dispose();
  return out;
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let scale = 1;
  let worst = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst / scale;
}

function random(length: number, seed: number, stddev: number): Float32Array {
  return tf.tidy(() => tf.randomNormal([length], 0, stddev, 'float32', seed).dataSync() as Float32Array);
}

describe('the LSTM layer on native: one kernel per sequence each way', () => {
  it.each(CASES)('$name: output and every gradient as composed on cpu, repeating bit for bit', async (c) => {
    const gates = 4 * c.units;
    // Weights at the scale of Glorot's initializer (as trained models have them).
    const weights = [
      random(c.features * gates, 1, Math.sqrt(2 / (c.features + gates))),
      random(c.units * gates, 2, Math.sqrt(2 / (c.units + gates))),
      ...(c.useBias ? [random(gates, 3, 0.1)] : []),
    ];
    const x = random(c.batch * c.steps * c.features, 4, 1);
    const used: boolean[] = [];
    const expected = await valuesOn('cpu', c, weights, x, used);
    const actual = await valuesOn('native', c, weights, x, used);
    const again = await valuesOn('native', c, weights, x, used);
    expect(used).toEqual([false, true, true]);
    expect(actual.map((a) => a.length)).toEqual(expected.map((e) => e.length));
    actual.forEach((a, i) => expect(relativeError(a, expected[i]!), `output ${i}`).toBeLessThan(2e-5));
    again.forEach((a, i) => expect(a).toEqual(actual[i]));
  });

  it('names the kernel and the shapes it expected when the inputs do not fit', async () => {
    await tf.setBackend('native');
    const x = tf.zeros([2, 3, 4]);
    const kernel = tf.zeros([5, 8]);
    const recurrentKernel = tf.zeros([2, 8]);
    expect(() => tf.engine().runKernel(EXTRA_KERNELS.lstm, { x, kernel, recurrentKernel }, { returnSequences: false })).toThrow(
      /DlexpLstm: expected x \[batch, steps, features\], kernel \[features, 4u\], recurrent kernel \[u, 4u\] and bias \[4u\], got \[2, 3, 4\], \[5, 8\], \[2, 8\]/,
    );
    tf.dispose([x, kernel, recurrentKernel]);
  });
});
