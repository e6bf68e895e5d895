import * as tf from '@tensorflow/tfjs';
import { RunError } from '@dlexp/core';
import type { TrainConfig } from '@dlexp/config';
import { createBatchIterator, type DataSplit } from '@dlexp/data';
import type { Optimizer } from '@dlexp/optim';
import type { TrainableModel } from '../models/trainable-model';
import type { RunSink, TensorValues } from '../sinks/sink';
import type { Checkpoint, CheckpointStore } from '../storage/checkpoints';
import { disposeBatch, evaluateSplit } from './evaluation';
import { initialLoopState, type LoopState } from './loop-state';
import { headSchedule } from './multi-task';
import { applyScaledUpdate } from './scaled-update';
import { planSteps, shouldCheckpoint, shouldEvaluate, shouldLog, shouldReadLoss, type StepMoment } from './step-plan';
import { describeStop, metStopCondition, observeForEarlyStopping, observeForKeepBest } from './watched-metric';

export type Splits = Partial<Record<'train' | 'validation' | 'test', DataSplit>>;

export interface TrainInputs {
  model: TrainableModel;
  optimizer: Optimizer;
  train: TrainConfig;
  splits: Splits;
  seed: number;
  /** Where rows, progress, tensors and messages go (several sinks combined). */
  sink: Required<RunSink>;
  /** Aborting stops the run between two steps, after saving a checkpoint. */
  signal?: AbortSignal;
  checkpoints?: CheckpointStore;
  /** A checkpoint to continue from (resume). */
  resumeFrom?: Checkpoint;
}

export interface TrainResult {
  status: 'completed' | 'interrupted';
  /** The epoch at which early stopping ended training, if it did. */
  stoppedEarlyAt?: number;
  steps: number;
  epochs: number;
  trainMs: number;
  /** keepBest: the best value of its metric and the step of that checkpoint. */
  best?: { value: number; step: number };
  /** A stopWhen condition that ended training, at the step it was met. */
  stopped?: { reason: string; step: number; metric: string; value: number };
}

/**
 * The one train loop: batch → heads → loss and gradients → step → (read the loss) → log and
 * evaluate → checkpoint. Budgets are steps or epochs; a step is one optimizer update. Shuffling,
 * dropout, initialization and which heads a multi-task step trains depend only on (seed, step or
 * epoch, purpose), and the data pipeline's position is saved with each checkpoint, so a resumed
 * run replays exactly what an uninterrupted one does.
 */
export async function trainModel(inputs: TrainInputs): Promise<TrainResult> {
  // --- Set-up: the plan, the loop's state (fresh or from a checkpoint), the batches.
  const { model, optimizer, train, sink } = inputs;
  const trainSplit = inputs.splits.train;
  if (trainSplit === undefined) throw new RunError('the dataset has no train split');
  const plan = planSteps(train, trainSplit.size);
  const variables = model.trainableVariables();
  // Per-layer learning-rate multipliers: factors on some variables' updates.
  const updateScales = model.updateScales?.() ?? new Map<string, number>();
  const headsAt = headSchedule(train.multiTask, model.heads?.() ?? []);
  const state: LoopState = initialLoopState();
  if (inputs.resumeFrom !== undefined) {
    restoreCheckpoint(model, optimizer, inputs.resumeFrom.tensors, inputs.resumeFrom.state.step);
    Object.assign(state, inputs.resumeFrom.state);
  }
  const batches = createBatchIterator(
    trainSplit,
    { batchSize: plan.batchSize, seed: inputs.seed, shuffle: train.shuffle, remainder: 'keep', ...(train.steps === undefined ? { epochs: train.epochs! } : {}) },
    state.pipeline ?? undefined,
  );
  const loss = new RunningLoss(state);
  const started = performance.now() - state.elapsedMs;
  const elapsed = () => performance.now() - started;
  let completedEpochs = state.pipeline?.epoch ?? 0;
  const save = async (kind: 'periodic' | 'best') => {
    if (inputs.checkpoints === undefined) return;
    state.elapsedMs = elapsed();
    state.pipeline = batches.state();
    await loss.storeInto(state);
    const tensors = checkpointTensors(model, optimizer);
    await (kind === 'best' ? inputs.checkpoints.saveBest({ ...state }, tensors) : inputs.checkpoints.save({ ...state }, tensors));
    await sink.checkpoint(state.step, kind);
  };
  let status: TrainResult['status'] = 'completed';
  let stoppedEarlyAt: number | undefined;
  let stopped: TrainResult['stopped'];

  try {
    while (plan.totalSteps === undefined || state.step < plan.totalSteps) {
      // --- Interruption: only between steps, and always with a checkpoint to resume from.
      if (inputs.signal?.aborted === true) {
        status = 'interrupted';
        await save('periodic');
        break;
      }

      // --- Batch.
      const next = await batches.next();
      if (next.done === true) break;
      const batch = next.value;
      const info = batches.last!;

      // --- Heads: every head (joint training), or those alternating training gives this step.
      const heads = headsAt(state.step);

      // --- Forward, backward, update. Only the variables the step's heads depend on get gradients,
      // and the optimizer leaves every other variable and its moments as they are.
      const { loss: batchLoss, grads } = model.lossAndGradients(batch, state.step, heads);
      applyScaledUpdate(optimizer, grads, variables, state.step, updateScales);
      state.step++;
      const epochEnd = info.endsEpoch;
      if (epochEnd) completedEpochs = info.epoch + 1;
      const at: StepMoment = {
        step: state.step,
        epochEnd,
        finished: state.step === plan.totalSteps || (epochEnd && plan.epochBased && completedEpochs >= train.epochs!),
      };
      const gradients = sink.wantsTensors(state.step, epochEnd) ? await readValues(grads) : undefined;
      tf.dispose([...grads.values()]);
      disposeBatch(batch);
      loss.add(batchLoss, info.size);

      // --- The loss is read back only when it is logged or checked: each read is a device sync.
      if (shouldReadLoss(plan, at)) await loss.readAndCheck(state.step);
      sink.progress(state.step, plan.totalSteps, loss.last);

      // --- Log: the mean training loss since the last row, fetched values, epoch-end evaluation.
      const epoch = epochEnd || plan.stepsPerEpoch === undefined ? completedEpochs : info.epoch + (info.index + 1) / plan.stepsPerEpoch;
      let stop = false;
      if (shouldLog(plan, at)) {
        const row: Record<string, number> = {
          step: state.step,
          epoch,
          'train.loss': await loss.takeMean(state.step),
          // The rate the step just taken used (steps are 0-based in schedules).
          learningRate: optimizer.learningRate(state.step - 1),
          ...(await model.fetchedValues()),
        };
        if (shouldEvaluate(plan, at)) {
          for (const name of ['validation', 'test'] as const) {
            const split = inputs.splits[name];
            if (split === undefined) continue;
            for (const [metric, value] of Object.entries(await evaluateSplit(model, split))) row[`${name}.${metric}`] = value;
          }
        }
        row['timeMs'] = Math.round(elapsed());
        await sink.row(row);
        state.loggedRows++;
        const condition = metStopCondition(train.stopWhen, row);
        if (condition !== undefined) {
          stopped = { reason: describeStop(condition, row), step: state.step, metric: condition.metric, value: row[condition.metric]! };
          stop = true;
        }
        if (shouldEvaluate(plan, at)) {
          if (train.keepBest !== undefined && observeForKeepBest(train.keepBest, state, row, state.step)) await save('best');
          if (train.earlyStopping !== undefined && observeForEarlyStopping(train.earlyStopping, state, row) === 'stop') {
            stoppedEarlyAt = completedEpochs;
            stop = true;
          }
        }
      }

      // --- Weights and gradients for the sinks that asked for them at this step.
      if (gradients !== undefined) await sink.tensors({ step: state.step, epoch, weights: await readValues(model.state()), gradients });

      // --- Checkpoint.
      if (stop) break;
      if (shouldCheckpoint(plan, at)) await save('periodic');
    }
  } finally {
    await batches.return();
    loss.dispose();
  }
  const result: TrainResult = {
    status,
    steps: state.step,
    epochs: plan.stepsPerEpoch === undefined ? completedEpochs : state.step / plan.stepsPerEpoch,
    trainMs: elapsed(),
  };
  if (stoppedEarlyAt !== undefined) result.stoppedEarlyAt = stoppedEarlyAt;
  if (stopped !== undefined) result.stopped = stopped;
  if (state.keepBest !== undefined && state.keepBest !== null) result.best = state.keepBest;
  return result;
}

/**
 * The training loss summed on the device since the last logged row (loss × examples), so steps
 * that neither log nor check it never wait for the device. Reading it checks for NaN and infinity.
 */
class RunningLoss {
  private sum: tf.Scalar;
  private count: number;
  /** The step whose loss was last read, and that loss. */
  private lastReadStep: number;
  last: number | undefined;
  private lastFinite: number | null;
  private batchLoss: tf.Scalar | undefined;

  constructor(state: LoopState) {
    this.sum = tf.scalar(state.lossSum);
    this.count = state.lossCount;
    this.lastReadStep = state.step;
    this.lastFinite = state.lastFiniteLoss;
    this.last = state.lastFiniteLoss ?? undefined;
  }

  add(batchLoss: tf.Scalar, examples: number): void {
    const previous = this.sum;
    // Weighted by the batch's examples, so a short last batch counts for what it holds.
    this.sum = tf.tidy(() => tf.add(previous, tf.mul(batchLoss, examples)));
    previous.dispose();
    this.batchLoss?.dispose();
    this.batchLoss = batchLoss;
    this.count += examples;
  }

  /** Reads this step's loss and the running sum in one sync; a non-finite one fails the run. */
  async readAndCheck(step: number): Promise<void> {
    if (this.batchLoss === undefined) return;
    const both = tf.stack([this.batchLoss, this.sum]);
    const [current, sum] = await both.data();
    both.dispose();
    const since = this.lastReadStep;
    this.lastReadStep = step;
    const currentFinite = Number.isFinite(current!);
    if (!currentFinite || !Number.isFinite(sum!)) {
      // Between two reads the loss is only summed, so a NaN there is known only to lie in that span.
      const where = currentFinite ? `between step ${since + 1} and step ${step}` : `at step ${step}`;
      throw new RunError(
        `the loss became ${currentFinite ? sum! : current!} ${where}` +
          (this.lastFinite === null ? ' (it was never finite)' : `; the last finite loss was ${this.lastFinite}`) +
          '; try a smaller learning rate or gradient clipping (train.clipGlobalNorm)',
      );
    }
    this.last = current!;
    this.lastFinite = current!;
  }

  /** The mean since the last row, starting a new sum. */
  async takeMean(step: number): Promise<number> {
    if (this.lastReadStep !== step) await this.readAndCheck(step);
    const sum = (await this.sum.data())[0]!;
    const mean = sum / this.count;
    this.sum.dispose();
    this.sum = tf.scalar(0);
    this.count = 0;
    return mean;
  }

  /** Copies the running sums into the loop state (for a checkpoint). */
  async storeInto(state: LoopState): Promise<void> {
    state.lossSum = (await this.sum.data())[0]!;
    state.lossCount = this.count;
    state.lastFiniteLoss = this.lastFinite;
  }

  dispose(): void {
    this.sum.dispose();
    this.batchLoss?.dispose();
    this.batchLoss = undefined;
  }
}

/** Values of tensors copied off the device (asynchronously: WebGPU in Node has no synchronous read). */
async function readValues(tensors: Map<string, tf.Tensor>): Promise<TensorValues> {
  const out: TensorValues = new Map();
  for (const [name, tensor] of tensors) {
    const data = await tensor.data();
    out.set(name, { shape: tensor.shape, values: data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>) });
  }
  return out;
}

/** All tensors a checkpoint holds: the model's state and the optimizer's slots. */
export function checkpointTensors(model: TrainableModel, optimizer: Optimizer): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, tensor] of model.state()) out.set(`model/${name}`, tensor);
  for (const [name, slot] of optimizer.slots(model.trainableVariables())) out.set(`optimizer/${name}`, slot);
  return out;
}

/**
 * Sets the model and the optimizer's slots from checkpoint tensors. `completedSteps` (the
 * checkpoint's step) stands in for per-variable update counts that older checkpoints lack.
 */
export function restoreCheckpoint(model: TrainableModel, optimizer: Optimizer, tensors: Map<string, tf.Tensor>, completedSteps: number): void {
  const modelState = new Map<string, tf.Tensor>();
  for (const [name, tensor] of tensors) if (name.startsWith('model/')) modelState.set(name.slice('model/'.length), tensor);
  model.restore(modelState);
  optimizer.restoreSlots(model.trainableVariables(), (name) => tensors.get(`optimizer/${name}`), { completedSteps });
}
