import * as tf from '@tensorflow/tfjs';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataError } from '@dlexp/core';
import { cacheKey, userCacheDirectory } from './cache';
import { asInMemory, type StreamingSplit } from './dataset';
import { createBatchIterator } from './pipeline';
import { inspectTFRecord, materializeSplit } from './tfrecord-dataset';
import { loadDataset, tempDir } from './test-helpers';


const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function cacheFolder(): string {
  const tmp = tempDir('captcha-cache');
  cleanups.push(tmp.cleanup);
  return tmp.dir;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tfrecord')).sort();
}

describe('captcha with storage: tfrecord', () => {
  it('writes each split once into a cache keyed by options and seed, and streams back the images drawn in memory', async () => {
    const cache = cacheFolder();
    const params = { samples: { train: 12, test: 4 }, storage: 'tfrecord', cacheDir: cache };
    const recorded = await loadDataset('captcha', params, 5);
    expect(recorded.description).toMatch(/streamed from TFRecord files in .*\(2 written now\)/);
    const files = filesUnder(cache);
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.startsWith(join('captcha', '')))).toBe(true);
    const train = recorded.splits.train as StreamingSplit;
    expect(train.kind).toBe('stream');
    expect(train.size).toBe(12);

    // The same pixels (up to rounding to bytes) and labels as the in-memory form.
    const memory = asInMemory((await loadDataset('captcha', { samples: { train: 12 } }, 5)).splits.train!);
    const read = await materializeSplit(train);
    expect(read.size).toBe(12);
    const x = read.columns['x']!.data;
    const expected = memory.columns['x']!.data;
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - expected[i]!));
    expect(worst).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    for (const k of [0, 1, 2, 3]) expect(Array.from(read.columns[`y${k}`]!.data)).toEqual(Array.from(memory.columns[`y${k}`]!.data));

    // A second run reuses the files; another seed has a folder of its own.
    const before = files.map((f) => statSync(join(cache, f)).mtimeMs);
    const again = await loadDataset('captcha', params, 5);
    expect(again.description).toMatch(/\(cached\)/);
    expect(filesUnder(cache).map((f) => statSync(join(cache, f)).mtimeMs)).toEqual(before);
    await loadDataset('captcha', params, 6);
    expect(filesUnder(cache)).toHaveLength(4);

    const inspection = await inspectTFRecord(join(cache, files.find((f) => f.includes('train'))!));
    expect(inspection.records).toBe(12);
    expect(inspection.features.map((f) => `${f.key}:${f.kind}:${f.lengths.max}`)).toEqual(['image:bytes:1', 'y0:int64:1', 'y1:int64:1', 'y2:int64:1', 'y3:int64:1']);
  });

  it('batches the streamed records with the labels of their images', async () => {
    const cache = cacheFolder();
    const data = await loadDataset('captcha', { samples: { train: 10 }, storage: 'tfrecord', cacheDir: cache, width: 40, height: 16, length: 2 }, 3);
    const before = tf.memory().numTensors;
    const batches = createBatchIterator(data.splits.train!, { batchSize: 4, seed: 1, epochs: 1 });
    let examples = 0;
    for await (const batch of batches) {
      expect(batch['x']!.shape.slice(1)).toEqual([16, 40, 1]);
      expect(Object.keys(batch).sort()).toEqual(['x', 'y0', 'y1']);
      examples += batch['x']!.shape[0]!;
      tf.dispose(Object.values(batch));
    }
    expect(examples).toBe(10);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the cached file when it is damaged', async () => {
    const cache = cacheFolder();
    const params = { samples: { train: 3 }, storage: 'tfrecord', cacheDir: cache };
    await loadDataset('captcha', params, 2);
    const file = join(cache, filesUnder(cache)[0]!);
    writeFileSync(file, Buffer.from('not a tfrecord file at all, only text'));
    const damaged = await loadDataset('captcha', params, 2);
    const error = await materializeSplit(damaged.splits.train as StreamingSplit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toContain(file);
  });
});

describe('userCacheDirectory', () => {
  it('prefers DLEXP_CACHE_DIR, then XDG_CACHE_HOME/dlexp, then ~/.cache/dlexp', () => {
    expect(userCacheDirectory({ DLEXP_CACHE_DIR: '/tmp/own', XDG_CACHE_HOME: '/tmp/xdg' })).toBe('/tmp/own');
    expect(userCacheDirectory({ XDG_CACHE_HOME: '/tmp/xdg' })).toBe('/tmp/xdg/dlexp');
    expect(userCacheDirectory({ DLEXP_CACHE_DIR: '' })).toMatch(/\.cache\/dlexp$/);
  });

  it('keys equal options equally, whatever the order of their keys', () => {
    expect(cacheKey({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(cacheKey({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(cacheKey({ a: 1 })).not.toBe(cacheKey({ a: 2 }));
  });
});
