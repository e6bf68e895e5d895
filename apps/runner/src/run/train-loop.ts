import * as tf from '@tensorflow/tfjs';
import { RunError } from '@dlexp/core';
import type { InMemorySplit } from '@dlexp/data';
import type { Optimizer } from '@dlexp/optim';
import type { TrainConfig } from '../config/sections';
import type { Batch, MetricSums, TrainableModel } from '../models/model';
import { batchesOf, splitTensors } from './batches';
import type { Checkpoints, LoopState } from './checkpoints';

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
  checkpoints?: Checkpoints;
  /** A checkpoint to continue from (resume). */
  resumeFrom?: { state: LoopState; tensors: Map<string, tf.Tensor> };
  /** Told about progress after every step (a progress bar). */
  progress?(step: number, totalSteps: number, loss: number): void;
}

export interface TrainResult {
  status: 'completed' | 'interrupted';
  /** The epoch at which early stopping ended training, if it did. */
  stoppedEarlyAt?: number;
  steps: number;
  epochs: number;
  metrics: Record<string, number>;
  trainMs: number;
}

/** Examples per evaluation batch: bounded so evaluating a large split does not hold it all at once. */
const EVALUATION_BATCH = 1000;

/** The budget of a run in steps, from the config and the training split's size. */
export function planSteps(train: TrainConfig, trainSize: number): { batchSize: number; stepsPerEpoch: number; totalSteps: number; logEvery: number; checkpointEvery: number } {
  const batchSize = Math.min(train.batchSize ?? trainSize, trainSize);
  const stepsPerEpoch = Math.ceil(trainSize / batchSize);
  const totalSteps = train.steps ?? stepsPerEpoch * train.epochs!;
  const logEvery = train.logEvery ?? (train.epochs !== undefined ? stepsPerEpoch : totalSteps <= 100 ? 1 : Math.ceil(totalSteps / 100));
  // At least ten checkpoints per run (so even a --quick run saves several) unless told otherwise.
  const checkpointEvery = train.checkpointEvery ?? Math.max(1, Math.floor(totalSteps / 10));
  return { batchSize, stepsPerEpoch, totalSteps, logEvery, checkpointEvery };
}

/** All tensors a checkpoint holds: the model's state and the optimizer's slots. */
function checkpointTensors(model: TrainableModel, optimizer: Optimizer): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, tensor] of model.state()) out.set(`model/${name}`, tensor);
  for (const [name, slot] of optimizer.slots(model.trainableVariables())) out.set(`optimizer/${name}`, slot);
  return out;
}

function restoreCheckpoint(model: TrainableModel, optimizer: Optimizer, tensors: Map<string, tf.Tensor>): void {
  const modelState = new Map<string, tf.Tensor>();
  for (const [name, tensor] of tensors) if (name.startsWith('model/')) modelState.set(name.slice('model/'.length), tensor);
  model.restore(modelState);
  const slots = optimizer.slots(model.trainableVariables());
  for (const [name, slot] of slots) {
    const saved = tensors.get(`optimizer/${name}`);
    if (saved === undefined) throw new RunError(`the checkpoint has no optimizer slot '${name}'; was it written by another optimizer?`);
    slot.assign(saved);
  }
}

/**
 * The one train loop: learning rate → batch → loss and gradients → (clip →) step → NaN check →
 * log → evaluate → checkpoint. Budgets are steps or epochs; a step is one optimizer update.
 * Shuffling, dropout and initialization depend only on (seed, step or epoch, purpose), so a run
 * resumed from a checkpoint replays exactly what the uninterrupted run would have done.
 */
export async function trainModel(inputs: TrainInputs): Promise<TrainResult> {
  const { model, optimizer, train } = inputs;
  const trainSplit = inputs.splits.train;
  if (trainSplit === undefined) throw new RunError('the dataset has no train split');
  const { batchSize, stepsPerEpoch, totalSteps, logEvery, checkpointEvery } = planSteps(train, trainSplit.size);
  const variables = model.trainableVariables();
  const loop: LoopState = { step: 0, lossSum: 0, lossCount: 0, lastFiniteLoss: null, elapsedMs: 0, loggedRows: 0, bestMonitored: null, epochsWithoutImprovement: 0 };
  const stopping = train.earlyStopping;
  let stoppedEarlyAt: number | undefined;
  if (inputs.resumeFrom !== undefined) {
    restoreCheckpoint(model, optimizer, inputs.resumeFrom.tensors);
    Object.assign(loop, inputs.resumeFrom.state);
  }
  const started = performance.now() - loop.elapsedMs;
  const elapsed = () => performance.now() - started;
  const saveCheckpoint = () => {
    if (inputs.checkpoints === undefined) return;
    loop.elapsedMs = elapsed();
    inputs.checkpoints.save({ ...loop }, checkpointTensors(model, optimizer));
  };
  let status: TrainResult['status'] = 'completed';

  outer: for (let epoch = Math.floor(loop.step / stepsPerEpoch); loop.step < totalSteps; epoch++) {
    const startBatch = loop.step - epoch * stepsPerEpoch;
    for (const batch of batchesOf(trainSplit, { batchSize, shuffle: train.shuffle, seed: inputs.seed, epoch, startBatch })) {
      // Let signal handlers run between steps, so Ctrl-C is seen at the next step.
      await new Promise((resolve) => setImmediate(resolve));
      if (inputs.interrupted()) {
        disposeBatch(batch);
        status = 'interrupted';
        saveCheckpoint();
        break outer;
      }
      const step = loop.step;
      const { loss, grads } = model.lossAndGradients(batch, step);
      optimizer.apply(grads, variables, step);
      const lossValue = loss.dataSync()[0]!;
      tf.dispose([loss, ...grads.values()]);
      disposeBatch(batch);
      loop.step++;
      if (!Number.isFinite(lossValue)) {
        throw new RunError(
          `the loss became ${lossValue} at step ${loop.step}` +
            (loop.lastFiniteLoss === null ? ' (it was never finite)' : `; the last finite loss was ${loop.lastFiniteLoss}`) +
            '; try a smaller learning rate or gradient clipping (train.clipGlobalNorm)',
        );
      }
      loop.lastFiniteLoss = lossValue;
      loop.lossSum += lossValue;
      loop.lossCount++;
      inputs.progress?.(loop.step, totalSteps, lossValue);
      const epochEnd = loop.step % stepsPerEpoch === 0;
      if (loop.step % logEvery === 0 || loop.step === 1 || loop.step === totalSteps || (epochEnd && train.epochs !== undefined)) {
        const row: Record<string, number> = { step: loop.step, epoch: loop.step / stepsPerEpoch, 'train.loss': loop.lossSum / loop.lossCount, ...model.fetchedValues() };
        // Epoch-based runs evaluate the held-out splits at every epoch end, as the course prints them.
        if (epochEnd && train.epochs !== undefined) {
          for (const name of ['validation', 'test'] as const) {
            const split = inputs.splits[name];
            if (split === undefined) continue;
            for (const [metric, value] of Object.entries(evaluateSplit(model, split))) row[`${name}.${metric}`] = value;
          }
        }
        row['timeMs'] = Math.round(elapsed());
        inputs.log(row);
        loop.loggedRows++;
        loop.lossSum = 0;
        loop.lossCount = 0;
        if (stopping !== undefined && epochEnd && train.epochs !== undefined) {
          const value = row[stopping.metric];
          if (value === undefined) throw new RunError(`earlyStopping watches '${stopping.metric}', which the epoch-end metrics do not include (they have: ${Object.keys(row).join(', ')})`);
          const sign = (stopping.goal ?? 'minimize') === 'minimize' ? 1 : -1;
          if (loop.bestMonitored === null || sign * (loop.bestMonitored - value) > (stopping.minDelta ?? 0)) {
            loop.bestMonitored = value;
            loop.epochsWithoutImprovement = 0;
          } else if (++loop.epochsWithoutImprovement >= (stopping.patience ?? 3)) {
            stoppedEarlyAt = loop.step / stepsPerEpoch;
            break outer;
          }
        }
      }
      if (loop.step < totalSteps && (loop.step % checkpointEvery === 0 || epochEnd)) saveCheckpoint();
      if (loop.step >= totalSteps) break outer;
    }
  }
  const trainMs = elapsed();
  const metrics: Record<string, number> = {};
  if (status === 'completed') {
    for (const [name, split] of Object.entries(inputs.splits)) {
      if (split === undefined) continue;
      for (const [metric, value] of Object.entries(evaluateSplit(model, split))) metrics[`${name}.${metric}`] = value;
    }
    Object.assign(metrics, model.fetchedValues());
  }
  return { status, steps: loop.step, epochs: loop.step / stepsPerEpoch, metrics, trainMs, ...(stoppedEarlyAt !== undefined ? { stoppedEarlyAt } : {}) };
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
