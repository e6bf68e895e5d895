import { RunError } from '@dlexp/core';
import type { TrainConfig } from '@dlexp/config';
import { batchesPerEpoch } from '@dlexp/data';

/** The budget and cadences of a run in steps (a step is one optimizer update). */
export interface StepPlan {
  batchSize: number;
  /** Undefined for a streamed split of unknown length. */
  stepsPerEpoch: number | undefined;
  totalSteps: number | undefined;
  logEvery: number;
  checkpointEvery: number;
  nanCheckEvery: number;
  epochBased: boolean;
}

/** The plan from the config and the training split's size (when known). */
export function planSteps(train: TrainConfig, trainSize: number | undefined): StepPlan {
  const batchSize = train.batchSize ?? trainSize;
  if (batchSize === undefined) throw new RunError('train.batchSize is needed for a streamed training split');
  const stepsPerEpoch = trainSize === undefined ? undefined : batchesPerEpoch(trainSize, Math.min(batchSize, trainSize));
  const totalSteps = train.steps ?? (stepsPerEpoch === undefined ? undefined : stepsPerEpoch * train.epochs!);
  const logEvery = train.logEvery ?? (train.epochs !== undefined ? (stepsPerEpoch ?? 100) : totalSteps! <= 100 ? 1 : Math.ceil(totalSteps! / 100));
  // At least ten checkpoints per run (so even a --quick run saves several) unless told otherwise.
  const checkpointEvery = train.checkpointEvery ?? (totalSteps === undefined ? 1000 : Math.max(1, Math.floor(totalSteps / 10)));
  return {
    batchSize: trainSize === undefined ? batchSize : Math.min(batchSize, trainSize),
    stepsPerEpoch,
    totalSteps,
    logEvery,
    checkpointEvery,
    nanCheckEvery: train.nanCheckEvery ?? logEvery,
    epochBased: train.epochs !== undefined,
  };
}

/** Where a step falls: what the loop does after it is decided here, not in the loop's body. */
export interface StepMoment {
  /** 1-based count of steps taken, this one included. */
  step: number;
  epochEnd: boolean;
  /** Whether this is the run's last step (its budget is spent). */
  finished: boolean;
}

/** A row is logged at the first step, every logEvery steps, the last step and (epoch budgets) every epoch end. */
export function shouldLog(plan: StepPlan, at: StepMoment): boolean {
  return at.step === 1 || at.step % plan.logEvery === 0 || at.finished || (at.epochEnd && plan.epochBased);
}

/** Epoch budgets measure the held-out splits at every epoch end, as the course prints them. */
export function shouldEvaluate(plan: StepPlan, at: StepMoment): boolean {
  return at.epochEnd && plan.epochBased;
}

/** The loss is read back (a device sync) only when it is logged or checked for NaN. */
export function shouldReadLoss(plan: StepPlan, at: StepMoment): boolean {
  return shouldLog(plan, at) || at.step % plan.nanCheckEvery === 0;
}

/** Checkpoints every checkpointEvery steps and at epoch ends, but not after the last step (the run ends). */
export function shouldCheckpoint(plan: StepPlan, at: StepMoment): boolean {
  return !at.finished && (at.step % plan.checkpointEvery === 0 || (at.epochEnd && plan.epochBased));
}
