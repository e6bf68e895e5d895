import * as tf from '@tensorflow/tfjs';
import { RandomStream } from '@dlexp/core';
import type { InMemorySplit } from '@dlexp/data';
import type { Batch } from '../models/model';

/** Tensors for examples [start, end) of a split, in the given order when `order` is set. */
export function splitTensors(split: InMemorySplit, start: number, end: number, order?: Int32Array): Batch {
  const batch: Batch = {};
  for (const [name, column] of Object.entries(split.columns)) {
    const perExample = column.data.length / split.size;
    const shape = [end - start, ...column.shape.slice(1)];
    let values: Float32Array | Int32Array;
    if (order === undefined) values = column.data.subarray(start * perExample, end * perExample);
    else {
      values = column.data instanceof Int32Array ? new Int32Array((end - start) * perExample) : new Float32Array((end - start) * perExample);
      for (let i = start; i < end; i++) {
        const from = order[i]! * perExample;
        values.set(column.data.subarray(from, from + perExample), (i - start) * perExample);
      }
    }
    batch[name] = tf.tensor(values, shape, column.dtype);
  }
  return batch;
}

/**
 * The batches of one epoch, shuffled by a permutation that depends only on (seed, epoch), so any
 * epoch can be replayed without replaying the ones before it. The final batch may be partial.
 */
export function* batchesOf(split: InMemorySplit, options: { batchSize: number; shuffle: boolean; seed: number; epoch: number; startBatch?: number }): Generator<Batch> {
  let order: Int32Array | undefined;
  if (options.shuffle && options.batchSize < split.size) {
    order = Int32Array.from({ length: split.size }, (_, i) => i);
    new RandomStream(options.seed, 'shuffle', options.epoch).shuffle(order);
  }
  for (let start = (options.startBatch ?? 0) * options.batchSize; start < split.size; start += options.batchSize) {
    yield splitTensors(split, start, Math.min(split.size, start + options.batchSize), order);
  }
}
