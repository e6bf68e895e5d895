import * as tf from '@tensorflow/tfjs';
import { RunError } from '@dlexp/core';
import { batchesPerEpoch, createBatchIterator, type DataSplit } from '@dlexp/data';
import type { Optimizer } from '@dlexp/optim';
import type { TrainConfig } from '../config/sections';
import type { Batch, MetricSums, TrainableModel } from '../models/model';
import type { Checkpoints, LoopState } from './checkpoints';

export type Splits = Partial<Record<'train' | 'validation' | 'test', DataSplit>>;

export interface TrainInputs {
  model: TrainableModel;
  optimizer: Optimizer;
  train: TrainConfig;
  splits: Splits;
  seed: number;
  /** Called with every logged row (step, epoch, metrics); the run writes it to metrics.jsonl. */
  log(row: Record<string, number>): void;
  /** Polled between steps: true after Ctrl-C / SIGTERM. */
  interrupted(): boolean;
  checkpoints?: Checkpoints;
  /** A checkpoint to continue from (resume). */
  resumeFrom?: { state: LoopState; tensors: Map<string, tf.Tensor> };
  /** Told about progress after every step (a progress bar). */
  progress?(step: number, totalSteps: number | undefined, loss: number): void;
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

export interface StepPlan {
  batchSize: number;
  /** Undefined for a streamed split of unknown length. */
  stepsPerEpoch: number | undefined;
  totalSteps: number | undefined;
  logEvery: number;
  checkpointEvery: number;
}

/** The budget of a run in steps, from the config and the training split's size (when known). */
export function planSteps(train: TrainConfig, trainSize: number | undefined): StepPlan {
  const batchSize = train.batchSize ?? trainSize;
  if (batchSize === undefined) throw new RunError('train.batchSize is needed for a streamed training split');
  const stepsPerEpoch = trainSize === undefined ? undefined : batchesPerEpoch(trainSize, Math.min(batchSize, trainSize));
  const totalSteps = train.steps ?? (stepsPerEpoch === undefined ? undefined : stepsPerEpoch * train.epochs!);
  const logEvery = train.logEvery ?? (train.epochs !== undefined ? (stepsPerEpoch ?? 100) : totalSteps! <= 100 ? 1 : Math.ceil(totalSteps! / 100));
  // At least ten checkpoints per run (so even a --quick run saves several) unless told otherwise.
  const checkpointEvery = train.checkpointEvery ?? (totalSteps === undefined ? 1000 : Math.max(1, Math.floor(totalSteps / 10)));
  return { batchSize: trainSize === undefined ? batchSize : Math.min(batchSize, trainSize), stepsPerEpoch, totalSteps, logEvery, checkpointEvery };
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
 * Shuffling, dropout and initialization depend only on (seed, step or epoch, purpose), and the
 * data pipeline's position is saved with each checkpoint, so a resumed run replays exactly what
 * the uninterrupted run would have done.
 */
export async function trainModel(inputs: TrainInputs): Promise<TrainResult> {
  const { model, optimizer, train } = inputs;
  const trainSplit = inputs.splits.train;
  if (trainSplit === undefined) throw new RunError('the dataset has no train split');
  const plan = planSteps(train, trainSplit.size);
  const { stepsPerEpoch, totalSteps, logEvery, checkpointEvery } = plan;
  const variables = model.trainableVariables();
  const loop: LoopState = { step: 0, lossSum: 0, lossCount: 0, lastFiniteLoss: null, elapsedMs: 0, loggedRows: 0, bestMonitored: null, epochsWithoutImprovement: 0, pipeline: null };
  if (inputs.resumeFrom !== undefined) {
    restoreCheckpoint(model, optimizer, inputs.resumeFrom.tensors);
    Object.assign(loop, inputs.resumeFrom.state);
  }
  const batches = createBatchIterator(
    trainSplit,
    { batchSize: plan.batchSize, seed: inputs.seed, shuffle: train.shuffle, remainder: 'keep', ...(train.steps === undefined ? { epochs: train.epochs! } : {}) },
    loop.pipeline ?? undefined,
  );
  const started = performance.now() - loop.elapsedMs;
  const elapsed = () => performance.now() - started;
  let completedEpochs = loop.pipeline?.epoch ?? 0;
  const saveCheckpoint = async () => {
    if (inputs.checkpoints === undefined) return;
    loop.elapsedMs = elapsed();
    loop.pipeline = batches.state();
    await inputs.checkpoints.save({ ...loop }, checkpointTensors(model, optimizer));
  };
  const stopping = train.earlyStopping;
  let stoppedEarlyAt: number | undefined;
  let status: TrainResult['status'] = 'completed';

  try {
    while (totalSteps === undefined || loop.step < totalSteps) {
      if (inputs.interrupted()) {
        status = 'interrupted';
        await saveCheckpoint();
        break;
      }
      const next = await batches.next();
      if (next.done === true) break;
      const batch = next.value;
      const info = batches.last!;
      const step = loop.step;
      const { loss, grads } = model.lossAndGradients(batch, step);
      optimizer.apply(grads, variables, step);
      const lossValue = (await loss.data())[0]!;
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
      // Weighted by the batch's examples, so a short last batch counts for what it holds.
      loop.lossSum += lossValue * info.size;
      loop.lossCount += info.size;
      inputs.progress?.(loop.step, totalSteps, lossValue);
      const epochEnd = info.endsEpoch;
      if (epochEnd) completedEpochs = info.epoch + 1;
      const epoch = epochEnd || stepsPerEpoch === undefined ? completedEpochs : info.epoch + (info.index + 1) / stepsPerEpoch;
      const epochBased = train.epochs !== undefined;
      if (loop.step % logEvery === 0 || loop.step === 1 || loop.step === totalSteps || (epochEnd && epochBased)) {
        const row: Record<string, number> = { step: loop.step, epoch, 'train.loss': loop.lossSum / loop.lossCount, ...(await model.fetchedValues()) };
        // Epoch-based runs evaluate the held-out splits at every epoch end, as the course prints them.
        if (epochEnd && epochBased) {
          for (const name of ['validation', 'test'] as const) {
            const split = inputs.splits[name];
            if (split === undefined) continue;
            for (const [metric, value] of Object.entries(await evaluateSplit(model, split))) row[`${name}.${metric}`] = value;
          }
        }
        row['timeMs'] = Math.round(elapsed());
        inputs.log(row);
        loop.loggedRows++;
        loop.lossSum = 0;
        loop.lossCount = 0;
        if (stopping !== undefined && epochEnd && epochBased) {
          const value = row[stopping.metric];
          if (value === undefined) throw new RunError(`earlyStopping watches '${stopping.metric}', which the epoch-end metrics do not include (they have: ${Object.keys(row).join(', ')})`);
          const sign = (stopping.goal ?? 'minimize') === 'minimize' ? 1 : -1;
          if (loop.bestMonitored === null || sign * (loop.bestMonitored - value) > (stopping.minDelta ?? 0)) {
            loop.bestMonitored = value;
            loop.epochsWithoutImprovement = 0;
          } else if (++loop.epochsWithoutImprovement >= (stopping.patience ?? 3)) {
            stoppedEarlyAt = completedEpochs;
            break;
          }
        }
      }
      const finished = (totalSteps !== undefined && loop.step >= totalSteps) || (epochEnd && epochBased && completedEpochs >= train.epochs!);
      if (!finished && (loop.step % checkpointEvery === 0 || (epochEnd && epochBased))) await saveCheckpoint();
    }
  } finally {
    await batches.return();
  }
  const trainMs = elapsed();
  const metrics: Record<string, number> = {};
  if (status === 'completed') {
    for (const [name, split] of Object.entries(inputs.splits)) {
      if (split === undefined) continue;
      for (const [metric, value] of Object.entries(await evaluateSplit(model, split))) metrics[`${name}.${metric}`] = value;
    }
    Object.assign(metrics, await model.fetchedValues());
  }
  const epochs = stepsPerEpoch === undefined ? completedEpochs : loop.step / stepsPerEpoch;
  return { status, steps: loop.step, epochs, metrics, trainMs, ...(stoppedEarlyAt !== undefined ? { stoppedEarlyAt } : {}) };
}

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

function disposeBatch(batch: Batch): void {
  tf.dispose(Object.values(batch));
}
