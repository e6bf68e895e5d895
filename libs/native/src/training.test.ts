/**
 * Whole training steps on native: the losses of small models follow those on cpu and wasm
 * (within 1e-3), and a run repeats bit for bit at a fixed thread count.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { registerNativeBackend } from './native-backend';
import { nativeSkipReason, seeded, setUpNative } from './testing/setup-native';

let tensorsBefore = 0;

beforeAll(async () => {
  await setUpNative();
});
afterAll(async () => {
  if (nativeSkipReason === undefined) await registerNativeBackend({ threads: 2 });
  await tf.setBackend('cpu');
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

type ModelKind = 'cnn' | 'mlp' | 'lstm';

function build(kind: ModelKind): tf.Sequential {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential();
  if (kind === 'cnn') {
    model.add(tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: init(3) }));
  } else if (kind === 'mlp') {
    model.add(tf.layers.dense({ inputShape: [144], units: 64, activation: 'tanh', kernelInitializer: init(1) }));
    model.add(tf.layers.dense({ units: 32, activation: 'tanh', kernelInitializer: init(2) }));
  } else {
    model.add(tf.layers.lstm({ inputShape: [12, 12], units: 16, kernelInitializer: init(1), recurrentInitializer: init(2) }));
  }
  model.add(tf.layers.dense({ units: 10, kernelInitializer: init(4) }));
  return model;
}

const BATCH = 16;
const inputShape: Record<ModelKind, number[]> = { cnn: [12, 12, 1], mlp: [144], lstm: [12, 12] };

/** Trains a fresh model for `steps` Adam steps on `backend`; returns the losses and the final weights. */
async function train(kind: ModelKind, backend: string, steps = 6): Promise<{ losses: number[]; weights: Float32Array[] }> {
  await tf.setBackend(backend);
  const x = seeded([BATCH, ...inputShape[kind]], 7);
  const labels = new Float32Array(BATCH * 10);
  for (let i = 0; i < BATCH; i++) labels[i * 10 + ((i * 3) % 10)] = 1;
  const model = build(kind);
  const optimizer = tf.train.adam(0.01);
  const xs = tf.tensor(x.values, x.shape);
  const ys = tf.tensor2d(labels, [BATCH, 10]);
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      losses.push((await loss.data())[0]!);
      loss.dispose();
    }
    const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
    return { losses, weights };
  } finally {
    tf.dispose([xs, ys]);
    optimizer.dispose();
    model.dispose();
  }
}

function expectLossesClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((loss, i) => expect(Math.abs(loss - expected[i]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(expected[i]!))));
}

describe.skipIf(nativeSkipReason !== undefined)('training on native', () => {
  it.each(['cnn', 'mlp', 'lstm'] as const)('%s: the losses of cpu, and they fall', async (kind) => {
    const cpu = await train(kind, 'cpu');
    const native = await train(kind, 'native');
    expect(cpu.losses.at(-1)!).toBeLessThan(cpu.losses[0]!);
    expectLossesClose(native.losses, cpu.losses);
  });

  it.each(['mlp', 'lstm'] as const)('%s: the losses of wasm', async (kind) => {
    const wasm = await train(kind, 'wasm');
    const native = await train(kind, 'native');
    expectLossesClose(native.losses, wasm.losses);
  });

  it.each([1, 2])('the CNN repeats bit for bit at %i thread(s), weights included', async (threads) => {
    await registerNativeBackend({ threads });
    const first = await train('cnn', 'native');
    const second = await train('cnn', 'native');
    expect(second.losses).toEqual(first.losses);
    expect(second.weights).toEqual(first.weights);
  });

  it.each([1, 2])('at %i thread(s), two processes train to the same bits', (threads) => {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'train-fingerprint.ts');
    const run = () => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', script, String(threads)], { encoding: 'utf8', timeout: 120_000 });
      expect(child.status, child.stderr).toBe(0);
      return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { losses: number[]; weights: string };
    };
    const first = run();
    expect(first.losses).toHaveLength(4);
    expect(run()).toEqual(first);
  });

  it('a run large enough to split work among threads repeats bit for bit', async () => {
    await registerNativeBackend({ threads: 2 });
    const run = async () => {
      await tf.setBackend('native');
      const x = seeded([64, 28, 28, 4], 9);
      const w = seeded([5, 5, 4, 64], 10);
      const d = seeded([64 * 14 * 14, 300], 11);
      return tf.tidy(() => {
        const xs = tf.tensor4d(x.values, [64, 28, 28, 4]);
        const ws = tf.tensor4d(w.values, [5, 5, 4, 64]);
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')))))([xs, ws]);
        const dense = tf.matMul(tf.reshape(tf.maxPool(tf.conv2d(xs, ws, 1, 'same'), 2, 2, 'valid'), [64, 14 * 14 * 64]), tf.tensor(d.values, [64 * 14 * 14, 300]).reshape([300, 64 * 14 * 14]).transpose());
        return [...grads, dense, tf.sum(dense, 0)].map((t) => Float32Array.from(t.dataSync()));
      });
    };
    expect(await run()).toEqual(await run());
  });
});
