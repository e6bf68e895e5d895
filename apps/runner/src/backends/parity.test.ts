/**
 * The same tiny model, trained with the same seed on each backend: the losses must agree, and on
 * cpu and wasm two runs must agree to the bit (single-threaded kernels have a fixed summation order).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activateBackend } from './index';

const STEPS = 6;

/** A conv net small enough for a software GPU: conv 3x3x4 same + relu, max pool 2, conv 3x3x8 stride 2 same + relu, dense 4, softmax cross-entropy, Adam. */
async function trainLosses(backend: string): Promise<number[]> {
  await tf.setBackend(backend);
  const x = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 1);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 3, 2, 1, 0], 'int32'), 4));
  // tf.variable keeps its initial value's data alive, so the initial tensor itself can go.
  const variable = <R extends tf.Rank>(name: string, init: tf.Tensor<R>): tf.Variable<R> => {
    const v = tf.variable(init, true, name);
    init.dispose();
    return v;
  };
  const w = {
    conv1: variable('conv1', tf.randomNormal<tf.Rank.R4>([3, 3, 1, 4], 0, 0.5, 'float32', 2)),
    conv2: variable('conv2', tf.randomNormal<tf.Rank.R4>([3, 3, 4, 8], 0, 0.3, 'float32', 3)),
    dense: variable('dense', tf.randomNormal([32, 4], 0, 0.2, 'float32', 4)),
    bias: variable('bias', tf.zeros([4])),
  };
  const optimizer = tf.train.adam(0.02);
  const loss = () =>
    tf.tidy(() => {
      const h1 = tf.maxPool(tf.relu(tf.conv2d(x as tf.Tensor4D, w.conv1, 1, 'same')), 2, 2, 'valid');
      const h2 = tf.relu(tf.conv2d(h1, w.conv2, 2, 'same'));
      const logits = tf.fused.matMul({ a: tf.reshape(h2, [8, 32]), b: w.dense, bias: w.bias });
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const { value, grads } = tf.variableGrads(loss);
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    losses.push((await value.data())[0]!);
    tf.dispose([value, grads]);
  }
  optimizer.dispose();
  tf.dispose([x, labels, ...Object.values(w)]);
  return losses;
}

/** Whether this machine has any WebGPU adapter (a software one counts: the backend is named here). */
async function webgpuUnavailableReason(): Promise<string | undefined> {
  try {
    await activateBackend('webgpu', { log: () => undefined });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await tf.setBackend('cpu');
  }
}

await activateBackend('wasm', { log: () => undefined });
// CI installs a Vulkan driver first (.ci/install-webgpu.sh) and sets DLEXP_REQUIRE_WEBGPU=1 so a
// broken install fails here instead of quietly skipping.
const noWebgpu = process.env['DLEXP_REQUIRE_WEBGPU'] === '1' ? undefined : await webgpuUnavailableReason();
if (noWebgpu !== undefined) {
  // Said once, plainly, so a skipped WebGPU run is never mistaken for a passing one.
  console.warn(`webgpu parity tests skipped: ${noWebgpu}`);
}

let tensorsBefore = 0;
let cpuLosses: number[] = [];

beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});

afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

function expectSameLosses(actual: number[], expected: number[], relative: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((loss, i) => expect(Math.abs(loss - expected[i]!)).toBeLessThanOrEqual(relative * Math.abs(expected[i]!)));
}

describe('training parity across backends', () => {
  it('cpu: the loss falls, and a second run repeats it bit for bit', async () => {
    cpuLosses = await trainLosses('cpu');
    expect(cpuLosses.at(-1)!).toBeLessThan(cpuLosses[0]!);
    expect(await trainLosses('cpu')).toEqual(cpuLosses);
  });

  it('wasm: the same losses as cpu, and bit-for-bit repeatable', async () => {
    const first = await trainLosses('wasm');
    expectSameLosses(first, cpuLosses, 1e-4);
    expect(await trainLosses('wasm')).toEqual(first);
  });

  it.skipIf(noWebgpu !== undefined)(`webgpu: the same losses as cpu${noWebgpu === undefined ? '' : ` (skipped: ${noWebgpu})`}`, async () => {
    const losses = await trainLosses('webgpu');
    expectSameLosses(losses, cpuLosses, 1e-3);
  });
});
