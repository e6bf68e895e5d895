import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import {
  createBatchIterator,
  createColumn,
  inMemorySplit,
  openTFRecordSplit,
  writeSplitToTFRecord,
  type BatchIterator,
  type BatchIteratorOptions,
  type BatchIteratorState,
  type DataSplit,
} from './index';
import { tempDir } from './test-helpers';

const tmp = tempDir('pipeline');
afterAll(tmp.cleanup);

function numbered(n: number, from = 0) {
  return inMemorySplit({
    x: createColumn(Float32Array.from({ length: 2 * n }, (_, i) => 2 * from + i), [n, 2]),
    y: createColumn(Int32Array.from({ length: n }, (_, i) => from + i), [n]),
  });
}

interface Seen {
  ids: number[];
  epoch: number;
  index: number;
  endsEpoch: boolean;
  state: BatchIteratorState;
}

/** Takes up to `count` batches, checks x agrees with y, disposes the tensors. */
async function take(iterator: BatchIterator, count = Number.POSITIVE_INFINITY): Promise<Seen[]> {
  const out: Seen[] = [];
  while (out.length < count) {
    const r = await iterator.next();
    if (r.done === true) break;
    const ids = Array.from(r.value['y']!.dataSync());
    const x = Array.from(r.value['x']!.dataSync());
    expect(x).toEqual(ids.flatMap((i) => [2 * i, 2 * i + 1]));
    expect(r.value['x']!.shape).toEqual([ids.length, 2]);
    tf.dispose(r.value);
    const info = iterator.last!;
    // The state goes through JSON, as it does in a checkpoint.
    out.push({ ids, epoch: info.epoch, index: info.index, endsEpoch: info.endsEpoch, state: JSON.parse(JSON.stringify(iterator.state())) });
  }
  return out;
}

function epochIds(seen: Seen[], epoch: number): number[] {
  return seen.filter((s) => s.epoch === epoch).flatMap((s) => s.ids);
}

/** Resuming from the state after any batch gives exactly the rest of the uninterrupted run. */
async function expectExactResume(split: DataSplit, options: BatchIteratorOptions, full: Seen[], points: number[]) {
  for (const k of points) {
    const resumed = await take(createBatchIterator(split, options, full[k - 1]!.state));
    expect(resumed.map((s) => s.ids)).toEqual(full.slice(k).map((s) => s.ids));
    expect(resumed.map((s) => [s.epoch, s.index])).toEqual(full.slice(k).map((s) => [s.epoch, s.index]));
  }
}

describe('in-memory batches', () => {
  const split = numbered(23);

  it('visits every example once per epoch, keeping or dropping the final partial batch', async () => {
    const kept = await take(createBatchIterator(split, { batchSize: 5, seed: 3, epochs: 2 }));
    expect(kept.map((s) => s.ids.length)).toEqual([5, 5, 5, 5, 3, 5, 5, 5, 5, 3]);
    expect(kept.map((s) => s.endsEpoch)).toEqual([false, false, false, false, true, false, false, false, false, true]);
    for (const epoch of [0, 1]) expect([...epochIds(kept, epoch)].sort((a, b) => a - b)).toEqual([...Array(23).keys()]);
    const dropped = await take(createBatchIterator(split, { batchSize: 5, seed: 3, epochs: 2, remainder: 'drop' }));
    expect(dropped.map((s) => s.ids.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
    expect(dropped[3]!.endsEpoch).toBe(true);
  });

  it('derives each epoch order from (seed, epoch) only', async () => {
    const a = await take(createBatchIterator(split, { batchSize: 23, seed: 3, epochs: 3 }));
    const b = await take(createBatchIterator(split, { batchSize: 23, seed: 3, epochs: 3 }));
    const c = await take(createBatchIterator(split, { batchSize: 23, seed: 4, epochs: 1 }));
    expect(a.map((s) => s.ids)).toEqual(b.map((s) => s.ids));
    expect(a[0]!.ids).not.toEqual(a[1]!.ids);
    expect(a[0]!.ids).not.toEqual(c[0]!.ids);
    const epoch2 = await take(createBatchIterator(split, { batchSize: 23, seed: 3, epochs: 3 }, { epoch: 2, batch: 0 }));
    expect(epoch2[0]!.ids).toEqual(a[2]!.ids);
    const ordered = await take(createBatchIterator(split, { batchSize: 10, seed: 3, epochs: 1, shuffle: false }));
    expect(ordered.flatMap((s) => s.ids)).toEqual([...Array(23).keys()]);
  });

  it('resumes exactly from the state after any batch', async () => {
    const options = { batchSize: 5, seed: 9, epochs: 3 };
    const full = await take(createBatchIterator(split, options));
    expect(full).toHaveLength(15);
    await expectExactResume(split, options, full, [1, 3, 4, 5, 6, 12, 14, 15]);
  });

  it('leaks no tensors across epochs, nor when abandoned with batches prefetched', async () => {
    const before = tf.memory().numTensors;
    const iterator = createBatchIterator(split, { batchSize: 4, seed: 1, prefetch: 3 });
    for (let epoch = 0; epoch < 4; epoch++) {
      await take(iterator, 6);
      expect(tf.memory().numTensors).toBe(before);
    }
    await take(iterator, 2);
    await iterator.return();
    expect(tf.memory().numTensors).toBe(before);
    expect((await iterator.next()).done).toBe(true);
  });

  it('rejects unknown features and epochs without a batch', () => {
    expect(() => createBatchIterator(split, { batchSize: 5, seed: 1, features: ['z'] })).toThrow(ConfigError);
    const iterator = createBatchIterator(numbered(3), { batchSize: 5, seed: 1, remainder: 'drop' });
    return expect(iterator.next()).rejects.toThrow(/gives no batch of 5/);
  });
});

describe('streamed batches', () => {
  let split: DataSplit;
  beforeAll(async () => {
    await writeSplitToTFRecord(numbered(20), join(tmp.dir, 'a.tfrecord'));
    await writeSplitToTFRecord(numbered(17, 20), join(tmp.dir, 'b.tfrecord'));
    split = openTFRecordSplit([join(tmp.dir, 'a.tfrecord'), join(tmp.dir, 'b.tfrecord')], {
      x: { kind: 'float', shape: [2] },
      y: { kind: 'int64', shape: [] },
    });
  });

  it('shuffles through a buffer: every example once per epoch, orders differing by epoch', async () => {
    const seen = await take(createBatchIterator(split, { batchSize: 5, seed: 2, epochs: 2, shuffleBuffer: 8 }));
    expect(seen.map((s) => s.ids.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 2, 5, 5, 5, 5, 5, 5, 5, 2]);
    expect(seen.map((s) => s.endsEpoch).filter(Boolean)).toHaveLength(2);
    const e0 = epochIds(seen, 0);
    const e1 = epochIds(seen, 1);
    expect([...e0].sort((a, b) => a - b)).toEqual([...Array(37).keys()]);
    expect([...e1].sort((a, b) => a - b)).toEqual([...Array(37).keys()]);
    expect(e0).not.toEqual([...Array(37).keys()]);
    expect(e0).not.toEqual(e1);
    const plain = await take(createBatchIterator(split, { batchSize: 10, seed: 2, epochs: 1, shuffle: false, remainder: 'drop' }));
    expect(plain.flatMap((s) => s.ids)).toEqual([...Array(30).keys()]);
  });

  it('resumes exactly from the state after any batch, buffer and file offset included', async () => {
    const options = { batchSize: 4, seed: 5, epochs: 2, shuffleBuffer: 6 };
    const full = await take(createBatchIterator(split, options));
    expect(full).toHaveLength(20);
    const mid = full[4]!.state.stream!;
    expect(mid.buffer).toHaveLength(5);
    expect(mid.next.file).toBe(1);
    await expectExactResume(split, options, full, [1, 2, 5, 9, 10, 11, 17, 19]);
  });

  it('leaks no tensors across epochs', async () => {
    const before = tf.memory().numTensors;
    const iterator = createBatchIterator(split, { batchSize: 6, seed: 1, epochs: 3 });
    await take(iterator);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('closes the reader of the split when the consumer stops early, with batches prefetched', async () => {
    const events: string[] = [];
    const counting: DataSplit = {
      ...(split as Extract<DataSplit, { kind: 'stream' }>),
      async *read(from) {
        events.push('open');
        try {
          yield* (split as Extract<DataSplit, { kind: 'stream' }>).read(from);
        } finally {
          events.push('close');
        }
      },
    };
    const before = tf.memory().numTensors;
    const iterator = createBatchIterator(counting, { batchSize: 3, seed: 1, epochs: 2, shuffleBuffer: 4 });
    const first = await iterator.next();
    tf.dispose(Object.values(first.value as Record<string, tf.Tensor>));
    await iterator.return();
    expect(events).toEqual(['open', 'close']);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('prefetching', () => {
  /** A streamed split of `n` one-number examples that counts how many were read. */
  function countingSplit(n: number): { split: DataSplit; read: () => number } {
    let count = 0;
    const values = (i: number) => ({ x: Float32Array.of(2 * i, 2 * i + 1), y: Int32Array.of(i) });
    const split: DataSplit = {
      kind: 'stream',
      size: n,
      features: { x: { shape: [2], dtype: 'float32' }, y: { shape: [], dtype: 'int32' } },
      async *read(from = { file: 0, offset: 0 }) {
        for (let i = from.offset; i < n; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          count++;
          yield { position: { file: 0, offset: i }, next: { file: 0, offset: i + 1 }, values: values(i) };
        }
      },
      async readAt(position) {
        return values(position.offset);
      },
    };
    return { split, read: () => count };
  }

  const idle = async (turns: number) => {
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('prepares batches while the consumer is busy, but no more than `prefetch` ahead', async () => {
    const { split, read } = countingSplit(1000);
    const iterator = createBatchIterator(split, { batchSize: 10, seed: 1, shuffle: false, prefetch: 3 });
    await take(iterator, 1);
    await idle(200);
    // One batch handed out, three prepared ahead, and the one-batch lookahead that tells an epoch's end.
    expect(read()).toBeGreaterThanOrEqual(30);
    expect(read()).toBeLessThanOrEqual(60);
    await take(iterator, 2);
    await idle(200);
    expect(read()).toBeLessThanOrEqual(80);
    await iterator.return();
  });

  it('refuses a state that does not fit the split', () => {
    const { split } = countingSplit(10);
    expect(() => createBatchIterator(split, { batchSize: 2, seed: 1 }, { epoch: 0, batch: 3 })).toThrow(/holds its stream position/);
    expect(() => createBatchIterator(numbered(5), { batchSize: 2, seed: 1 }, { epoch: -1, batch: 0 })).toThrow(ConfigError);
    const streamState = { epoch: 0, batch: 1, stream: { rng: [1, 2, 3, 4] as [number, number, number, number], next: { file: 0, offset: 2 }, buffer: [] } };
    expect(() => createBatchIterator(numbered(5), { batchSize: 2, seed: 1 }, streamState)).toThrow(/saved for a streamed split/);
  });
});
