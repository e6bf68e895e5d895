/**
 * Streams a TFRecord file several times larger than the memory it is allowed to use and reports
 * the peak resident memory, showing that training on a streamed split holds only a shuffle buffer
 * and a read chunk. Run: npx tsx bench/data-stream-memory.ts [megabytes, default 400]
 */
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createBatchIterator, encodeExample, openTFRecordSplit, writeTFRecordFile } from '@dlexp/data';

const megabytes = Number(process.argv[2] ?? 400);
const file = join(tmpdir(), `dlexp-stream-${process.pid}.tfrecord`);
const values = new Float32Array(784).map((_, i) => i / 784);
const record = encodeExample({ x: { kind: 'float', values }, y: { kind: 'int64', values: [1] } });
const count = Math.ceil((megabytes * 1e6) / (record.length + 16));
try {
  await writeTFRecordFile(file, (function* () {
    for (let i = 0; i < count; i++) yield record;
  })());
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  const split = openTFRecordSplit([file], { x: { kind: 'float', shape: [784] }, y: { kind: 'int64', shape: [] } });
  let peak = baseline;
  let batches = 0;
  for await (const batch of createBatchIterator(split, { batchSize: 128, seed: 1, epochs: 1, shuffleBuffer: 2048 })) {
    tf.dispose(batch);
    if (++batches % 50 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  const mb = (n: number) => (n / 1e6).toFixed(0);
  console.log(`streamed ${mb(statSync(file).size)} MB in ${batches} batches; resident memory ${mb(baseline)} MB before, peak ${mb(peak)} MB`);
} finally {
  rmSync(file, { force: true });
}
