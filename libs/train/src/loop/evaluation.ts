import * as tf from '@tensorflow/tfjs';
import { createBatchIterator, type DataSplit } from '@dlexp/data';
import type { Batch, MetricSums, TrainableModel } from '../models/trainable-model';

/** Examples per evaluation batch: bounded so evaluating a large split does not hold it all at once. */
const EVALUATION_BATCH = 1000;

/** The split's batches in order, once: for evaluation and for looking at the data. */
function inOrder(split: DataSplit, batchSize: number) {
  return createBatchIterator(split, { batchSize, seed: 0, shuffle: false, epochs: 1 });
}

/** Calls `use` with the first `count` examples of a split as one batch, and frees it afterwards. */
export async function withFirstExamples<T>(split: DataSplit, count: number, use: (batch: Batch) => Promise<T>): Promise<T> {
  const examples = inOrder(split, count);
  const batch = (await examples.next()).value as Batch;
  await examples.return();
  try {
    return await use(batch);
  } finally {
    disposeBatch(batch);
  }
}

/** Exact means over a whole split, in order. */
export async function evaluateSplit(model: TrainableModel, split: DataSplit): Promise<Record<string, number>> {
  const sums: MetricSums = {};
  for await (const batch of inOrder(split, EVALUATION_BATCH)) {
    for (const [metric, { sum, count }] of Object.entries(await model.evaluateBatch(batch))) {
      const total = (sums[metric] ??= { sum: 0, count: 0 });
      total.sum += sum;
      total.count += count;
    }
    disposeBatch(batch);
  }
  return Object.fromEntries(Object.entries(sums).map(([metric, { sum, count }]) => [metric, sum / count]));
}

/** The model's predictions over the whole training split, in order, if it declares any. */
export async function collectPredictions(model: TrainableModel, split: DataSplit): Promise<{ file: string; columns: Record<string, number[]> } | undefined> {
  if (model.predictions === undefined) return undefined;
  let result: { file: string; columns: Record<string, number[]> } | undefined;
  for await (const batch of inOrder(split, EVALUATION_BATCH)) {
    const part = await model.predictions(batch);
    disposeBatch(batch);
    if (part === undefined) return undefined;
    if (result === undefined) result = part;
    else for (const [name, values] of Object.entries(part.columns)) result.columns[name]!.push(...values);
  }
  return result;
}

export function disposeBatch(batch: Batch): void {
  tf.dispose(Object.values(batch));
}
