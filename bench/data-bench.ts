/**
 * Data library throughput: MNIST load time, TFRecord read speed, captcha generation rate.
 * Run: npx tsx bench/data-bench.ts
 */
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillDefaults } from '@dlexp/core';
import * as tf from '@tensorflow/tfjs';
import { createBatchIterator, createDatasetRegistry, encodeExample, openTFRecordSplit, readTFRecords, writeTFRecordFile, type LoadedDataset } from '@dlexp/data';

const registry = createDatasetRegistry();

async function load(name: string, written: Record<string, unknown>): Promise<LoadedDataset> {
  const entry = registry.get(name);
  return entry.create(fillDefaults(entry.params, written, () => undefined), { seed: 1, resolvePath: (p) => p });
}

function seconds(start: number): number {
  return (performance.now() - start) / 1000;
}

async function benchMnist(): Promise<void> {
  await load('mnist', { limit: { train: 10, test: 10 } });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const data = await load('mnist', {});
    times.push(seconds(start));
    const sizes = Object.values(data.splits).map((s) => s.size ?? 0);
    if (sizes.reduce((a, b) => a + b, 0) !== 70000) throw new Error('expected 70,000 images');
  }
  console.log(`mnist: all 70,000 images loaded in ${Math.min(...times).toFixed(3)} s (best of 3; ${times.map((t) => t.toFixed(3)).join(', ')})`);
}

async function benchTFRecord(): Promise<void> {
  const file = join(tmpdir(), `dlexp-bench-${process.pid}.tfrecord`);
  const records = 32_000;
  const pixels = new Float32Array(784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i % 255) / 255;
  const encoded = encodeExample({ x: { kind: 'float', values: pixels }, y: { kind: 'int64', values: [3] } });
  try {
    let start = performance.now();
    await writeTFRecordFile(file, (function* () {
      for (let i = 0; i < records; i++) yield encoded;
    })());
    const bytes = statSync(file).size;
    const mb = bytes / 1e6;
    console.log(`tfrecord: wrote ${records} records, ${mb.toFixed(1)} MB, at ${(mb / seconds(start)).toFixed(0)} MB/s`);
    for (let pass = 0; pass < 2; pass++) {
      start = performance.now();
      let n = 0;
      for await (const r of readTFRecords(file)) n += r.data.length > 0 ? 1 : 0;
      console.log(`tfrecord: framing read (every CRC checked) ${n} records at ${(mb / seconds(start)).toFixed(0)} MB/s`);
    }
    const split = openTFRecordSplit([file], { x: { kind: 'float', shape: [784] }, y: { kind: 'int64', shape: [] } });
    start = performance.now();
    let n = 0;
    for await (const e of split.read()) n += e.values['y']!.length;
    console.log(`tfrecord: read + Example decode to columns, ${n} examples at ${(mb / seconds(start)).toFixed(0)} MB/s`);
    start = performance.now();
    const iterator = createBatchIterator(split, { batchSize: 128, seed: 1, epochs: 1, shuffleBuffer: 1024 });
    let batches = 0;
    for await (const batch of iterator) {
      tf.dispose(batch);
      batches++;
    }
    console.log(`tfrecord: streamed through a 1024-example shuffle buffer into ${batches} batches of 128 tensors at ${(mb / seconds(start)).toFixed(0)} MB/s`);
  } finally {
    rmSync(file, { force: true });
  }
}

async function benchCaptcha(): Promise<void> {
  if (!registry.has('captcha')) return;
  await load('captcha', { samples: { train: 10 } });
  const count = 2000;
  const start = performance.now();
  await load('captcha', { samples: { train: count } });
  const elapsed = seconds(start);
  console.log(`captcha: ${count} images (default size) in ${elapsed.toFixed(2)} s = ${(count / elapsed).toFixed(0)} images/s`);
}

await benchMnist();
await benchTFRecord();
await benchCaptcha();
