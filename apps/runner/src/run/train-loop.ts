import * as tf from '@tensorflow/tfjs';
import { RunError } from '@dlexp/core';
import type { InMemorySplit } from '@dlexp/data';
import type { Optimizer } from '@dlexp/optim';
import type { TrainConfig } from '../config/sections';
import type { Batch, MetricSums, TrainableModel } from '../models/model';
import { batchesOf, splitTensors } from './batches';

export interface TrainInputs {
  model: TrainableModel;
  optimizer: Optimizer;
  train: TrainConfig;
  splits: Partial<Record<'train' | 'validation' | 'test', InMemorySplit>>;
  seed: number;
  /** Called with every logged row (step, epoch, metrics); the run writes it to metrics.jsonl. */
  log(row: Record<string, number>): void;
  /** Polled between steps: true after Ctrl-C / SIGTERM. */
  interrupted(): boolean;
}

export interface TrainResult {
  status: 'completed' | 'interrupted';
  steps: number;
  epochs: number;
  metrics: Record<string, number>;
  trainMs: number;
}

/** Examples per evaluation batch: bounded so evaluating a large split does not hold it all at once. */
const EVALUATION_BATCH = 1000;

/**
 * The one train loop: learning rate → batch → loss and gradients → (clip →) step → NaN check →
 * log → evaluate at the end. Budgets are steps or epochs; a step is one optimizer update.
 */
export function trainModel(inputs: TrainInputs): TrainResult {
  const { model, optimizer, train } = inputs;
  const trainSplit = inputs.splits.train;
  if (trainSplit === undefined) throw new RunError('the dataset has no train split');
  const batchSize = Math.min(train.batchSize ?? trainSplit.size, trainSplit.size);
  const stepsPerEpoch = Math.ceil(trainSplit.size / batchSize);
  const totalSteps = train.steps ?? stepsPerEpoch * train.epochs!;
  const logEvery = train.logEvery ?? (train.epochs !== undefined ? stepsPerEpoch : totalSteps <= 100 ? 1 : Math.ceil(totalSteps / 100));
  const variables = model.trainableVariables();
  const started = performance.now();
  let lastFiniteLoss: number | undefined;
  let lossSum = 0;
  let lossCount = 0;
  let step = 0;
  let status: TrainResult['status'] = 'completed';

  outer: for (let epoch = 0; step < totalSteps; epoch++) {
    for (const batch of batchesOf(trainSplit, { batchSize, shuffle: train.shuffle, seed: inputs.seed, epoch })) {
      if (inputs.interrupted()) {
        disposeBatch(batch);
        status = 'interrupted';
        break outer;
      }
      const { loss, grads } = model.lossAndGradients(batch, step);
      optimizer.apply(grads, variables, step);
      const lossValue = loss.dataSync()[0]!;
      tf.dispose([loss, ...grads.values()]);
      disposeBatch(batch);
      step++;
      if (!Number.isFinite(lossValue)) {
        throw new RunError(
          `the loss became ${lossValue} at step ${step}` +
            (lastFiniteLoss === undefined ? ' (it was never finite)' : `; the last finite loss was ${lastFiniteLoss}`) +
            '; try a smaller learning rate or gradient clipping (train.clipGlobalNorm)',
        );
      }
      lastFiniteLoss = lossValue;
      lossSum += lossValue;
      lossCount++;
      const epochEnd = step % stepsPerEpoch === 0;
      if (step % logEvery === 0 || step === 1 || step === totalSteps || (epochEnd && train.epochs !== undefined)) {
        const row: Record<string, number> = { step, epoch: step / stepsPerEpoch, 'train.loss': lossSum / lossCount, ...model.fetchedValues() };
        // Epoch-based runs evaluate the held-out splits at every epoch end, as the course prints them.
        if (epochEnd && train.epochs !== undefined) {
          for (const name of ['validation', 'test'] as const) {
            const split = inputs.splits[name];
            if (split === undefined) continue;
            for (const [metric, value] of Object.entries(evaluateSplit(model, split))) row[`${name}.${metric}`] = value;
          }
        }
        row['timeMs'] = Math.round(performance.now() - started);
        inputs.log(row);
        lossSum = 0;
        lossCount = 0;
      }
      if (step >= totalSteps) break outer;
    }
  }
  const trainMs = performance.now() - started;
  const metrics: Record<string, number> = {};
  for (const [name, split] of Object.entries(inputs.splits)) {
    if (split === undefined) continue;
    for (const [metric, value] of Object.entries(evaluateSplit(model, split))) metrics[`${name}.${metric}`] = value;
  }
  Object.assign(metrics, model.fetchedValues());
  return { status, steps: step, epochs: step / stepsPerEpoch, metrics, trainMs };
}

/** Exact means over a whole split. */
export function evaluateSplit(model: TrainableModel, split: InMemorySplit): Record<string, number> {
  const sums: MetricSums = {};
  for (const batch of batchesOf(split, { batchSize: EVALUATION_BATCH, shuffle: false, seed: 0, epoch: 0 })) {
    for (const [metric, { sum, count }] of Object.entries(model.evaluateBatch(batch))) {
      const total = (sums[metric] ??= { sum: 0, count: 0 });
      total.sum += sum;
      total.count += count;
    }
    disposeBatch(batch);
  }
  return Object.fromEntries(Object.entries(sums).map(([metric, { sum, count }]) => [metric, sum / count]));
}

/** The model's predictions over the whole training split, if it declares any. */
export function collectPredictions(model: TrainableModel, split: InMemorySplit): { file: string; columns: Record<string, number[]> } | undefined {
  if (model.predictions === undefined) return undefined;
  const batch = splitTensors(split, 0, split.size);
  try {
    return model.predictions(batch);
  } finally {
    disposeBatch(batch);
  }
}

function disposeBatch(batch: Batch): void {
  tf.dispose(Object.values(batch));
}
