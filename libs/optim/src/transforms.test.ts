import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clipByGlobalNorm, clipByValue } from './index';

let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

const rounded = (t: tf.Tensor) => Array.from(t.dataSync()).map((x) => Number(x.toFixed(4)));

describe('clipByGlobalNorm', () => {
  it('rescales only when the global norm exceeds the limit', () => {
    const clip = clipByGlobalNorm(5);
    const [big, small] = tf.tidy(() => {
      const out1 = clip.update(new Map([['a', tf.tensor1d([3, 4])], ['b', tf.tensor1d([0, 5 * Math.sqrt(3)])]]), new Map(), 0);
      const out2 = clip.update(new Map([['a', tf.tensor1d([0.3, 0.4])]]), new Map(), 0);
      return [tf.concat([out1.get('a')!, out1.get('b')!]), out2.get('a')!];
    });
    expect(rounded(big!)).toEqual([1.5, 2, 0, 4.3301]);
    expect(rounded(small!)).toEqual([0.3, 0.4]);
    tf.dispose([big!, small!]);
  });

  it('passes a step without gradients through', () => {
    const out = tf.tidy(() => clipByGlobalNorm(1).update(new Map(), new Map(), 0).size);
    expect(out).toBe(0);
  });
});

describe('clipByValue', () => {
  it('clips each element into [-limit, limit]', () => {
    const clipped = tf.tidy(() => clipByValue(1).update(new Map([['a', tf.tensor1d([-3, 0.5, 2])]]), new Map(), 0).get('a')!);
    expect(rounded(clipped)).toEqual([-1, 0.5, 1]);
    clipped.dispose();
  });
});
