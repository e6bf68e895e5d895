/**
 * Held-back elementwise chains (fusion.ts): the same values as running each kernel when called,
 * to the bit; intermediates freed by a tidy are never written; every way of reaching a pending
 * tensor (a kernel, a read, a reshape, a dispose) sees its values; nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FUSE_MIN_ELEMENTS } from './fusion';
import { registerNativeBackend } from './native-backend';
import { nativeSkipReason, seeded, setUpNative } from './testing/setup-native';

const SHAPE = [300, 400];
let tensorsBefore = 0;

beforeAll(async () => {
  await setUpNative();
  if (nativeSkipReason === undefined) await tf.setBackend('native');
});
afterAll(async () => {
  if (nativeSkipReason === undefined) await registerNativeBackend({ threads: 2, fuseElementwise: true });
  await tf.setBackend('cpu');
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

/** Runs `body` with fusion on and off and returns both results' values. */
async function bothWays(body: () => tf.Tensor | tf.Tensor[]): Promise<{ fused: Float32Array[]; eager: Float32Array[] }> {
  const run = async (fuse: boolean) => {
    await registerNativeBackend({ threads: 2, fuseElementwise: fuse });
    const out = tf.tidy(body);
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(list);
    return values;
  };
  const eager = await run(false);
  const fused = await run(true);
  return { fused, eager };
}

/** One Adam update written out as TF.js's optimizer does it. */
function adamStep(value: tf.Tensor, grad: tf.Tensor, m: tf.Tensor, v: tf.Tensor): tf.Tensor[] {
  const newM = tf.add(tf.mul(m, 0.9), tf.mul(grad, 0.1));
  const newV = tf.add(tf.mul(v, 0.999), tf.mul(tf.square(grad), 0.001));
  const mHat = tf.div(newM, 0.19);
  const vHat = tf.div(newV, 0.002);
  const update = tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-7)), -1e-3);
  return [tf.add(value, update), newM, newV];
}

describe.skipIf(nativeSkipReason !== undefined)('fused elementwise chains', () => {
  const [p, g, m, v] = [1, 2, 3, 4].map((seed) => seeded(SHAPE, seed));

  it('an Adam update: the same bits as kernel by kernel', async () => {
    const { fused, eager } = await bothWays(() => adamStep(tf.tensor(p!.values, SHAPE), tf.tensor(g!.values, SHAPE), tf.tensor(m!.values, SHAPE), tf.abs(tf.tensor(v!.values, SHAPE))));
    expect(fused).toEqual(eager);
  });

  it('every unary and binary operation, chained: the same bits as kernel by kernel', async () => {
    const { fused, eager } = await bothWays(() => {
      const x = tf.tensor(p!.values, SHAPE);
      const y = tf.tensor(g!.values, SHAPE);
      let t = tf.add(x, y);
      t = tf.sub(t, tf.scalar(0.5));
      t = tf.maximum(t, tf.mul(y, 0.1));
      t = tf.minimum(t, tf.scalar(3));
      t = tf.squaredDifference(t, x);
      t = tf.div(tf.scalar(1), tf.add(t, 1));
      const unaries = [tf.relu(t), tf.relu6(t), tf.step(t, 0.3), tf.neg(t), tf.abs(x), tf.sqrt(tf.abs(x)), tf.rsqrt(tf.abs(y))];
      const more = [tf.exp(x), tf.log(tf.abs(y)), tf.tanh(x), tf.sigmoid(y), tf.leakyRelu(x, 0.2), tf.elu(y), tf.clipByValue(x, -0.3, 0.4), tf.reciprocal(y)];
      return [...unaries, ...more];
    });
    expect(fused).toEqual(eager);
  });

  it('a chain longer than one evaluation takes: the same bits', async () => {
    const { fused, eager } = await bothWays(() => {
      let t = tf.tensor(p!.values, SHAPE);
      for (let i = 0; i < 150; i++) t = i % 3 === 0 ? tf.mul(t, 0.99) : i % 3 === 1 ? tf.add(t, 0.01) : tf.tanh(t);
      return t;
    });
    expect(fused).toEqual(eager);
  });

  it('a pending tensor read midway, reshaped, cloned and used by a matmul: the same bits', async () => {
    const { fused, eager } = await bothWays(() => {
      const x = tf.tensor(p!.values, SHAPE);
      const a = tf.mul(x, 2);
      const early = a.dataSync()[7]!;
      const b = tf.reshape(tf.add(a, early), [400, 300]);
      const c = tf.clone(tf.relu(b));
      const product = tf.matMul(c, tf.transpose(c));
      return [b, c, product, tf.sum(tf.exp(tf.mul(c, -1)))];
    });
    expect(fused).toEqual(eager);
  });

  it('different sizes pending at once, and small tensors that run at once', async () => {
    const { fused, eager } = await bothWays(() => {
      const big = tf.tensor(p!.values, SHAPE);
      const other = tf.ones([FUSE_MIN_ELEMENTS + 3]);
      const small = tf.ones([10]);
      return [tf.mul(tf.add(big, 1), 3), tf.sub(tf.mul(other, 2), 1), tf.add(small, 1), tf.mul(tf.add(big, 2), big)];
    });
    expect(fused).toEqual(eager);
  });

  it('gradients through pending tensors: the same bits', async () => {
    const { fused, eager } = await bothWays(() => {
      const x = tf.tensor(p!.values, SHAPE);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tanh(tf.mul(t, 0.5)), tf.sigmoid(t))))(x);
    });
    expect(fused).toEqual(eager);
  });

  it('variables updated in place of their values, as optimizers do, stay right across steps', async () => {
    const { fused, eager } = await bothWays(() => {
      const w = tf.variable(tf.tensor(p!.values, SHAPE));
      const grad = tf.tensor(g!.values, SHAPE);
      for (let i = 0; i < 3; i++) w.assign(tf.sub(w, tf.mul(grad, 0.1)));
      const out = tf.clone(w);
      w.dispose();
      return out;
    });
    expect(fused).toEqual(eager);
  });

  it('intermediates a tidy frees are never written, and their memory is freed at once', async () => {
    await registerNativeBackend({ threads: 2, fuseElementwise: true });
    const x = tf.tensor(p!.values, SHAPE);
    const buffersBefore = tf.memory().numDataBuffers;
    const kept = tf.tidy(() => tf.add(tf.mul(tf.exp(x), 2), 1));
    // One buffer for the result; the exp and mul intermediates are gone without ever being computed alone.
    expect(tf.memory().numDataBuffers).toBe(buffersBefore + 1);
    const expected = Float32Array.from(p!.values, (value) => Math.fround(Math.fround(Math.exp(value)) * 2) + 1);
    const values = kept.dataSync();
    for (let i = 0; i < 50; i++) expect(values[i]).toBeCloseTo(expected[i]!, 4);
    tf.dispose([x, kept]);
  });

  it('disposing the inputs of a pending operation does not lose them', async () => {
    await registerNativeBackend({ threads: 2, fuseElementwise: true });
    const x = tf.tensor(p!.values, SHAPE);
    const y = tf.mul(x, 3);
    x.dispose();
    expect(y.dataSync()[5]).toBeCloseTo(p!.values[5]! * 3, 5);
    y.dispose();
  });
});
