import { describe, expect, it } from 'vitest';
import type { TrainConfig } from '@dlexp/config';
import { planSteps, shouldCheckpoint, shouldEvaluate, shouldLog, shouldReadLoss } from './step-plan';
import { initialLoopState } from './loop-state';
import { describeStop, improves, metStopCondition, observeForEarlyStopping, observeForKeepBest } from './watched-metric';

const base: TrainConfig = { optimizer: { type: 'sgd' }, shuffle: true, keepCheckpoints: 3 };

describe('the step plan', () => {
  it('epoch budgets log and evaluate at every epoch end and read the loss only then (or at the NaN cadence)', () => {
    const plan = planSteps({ ...base, epochs: 2, batchSize: 10 }, 95);
    expect(plan).toMatchObject({ stepsPerEpoch: 10, totalSteps: 20, logEvery: 10, nanCheckEvery: 10, checkpointEvery: 2, epochBased: true });
    const logged = [...Array(20).keys()].map((i) => i + 1).filter((step) => shouldLog(plan, { step, epochEnd: step % 10 === 0, finished: step === 20 }));
    expect(logged).toEqual([1, 10, 20]);
    expect(shouldEvaluate(plan, { step: 10, epochEnd: true, finished: false })).toBe(true);
    expect(shouldReadLoss(plan, { step: 7, epochEnd: false, finished: false })).toBe(false);
  });

  it('a NaN check cadence reads the loss between logged steps', () => {
    const plan = planSteps({ ...base, steps: 1000, nanCheckEvery: 25 }, 50);
    expect(plan.logEvery).toBe(10);
    expect(shouldReadLoss(plan, { step: 25, epochEnd: false, finished: false })).toBe(true);
    expect(shouldReadLoss(plan, { step: 26, epochEnd: false, finished: false })).toBe(false);
  });

  it('short step budgets log every step; long ones a hundred times; no checkpoint after the last step', () => {
    expect(planSteps({ ...base, steps: 80 }, 10).logEvery).toBe(1);
    expect(planSteps({ ...base, steps: 2000 }, 10).logEvery).toBe(20);
    const plan = planSteps({ ...base, steps: 100, checkpointEvery: 50 }, 10);
    expect(shouldCheckpoint(plan, { step: 50, epochEnd: false, finished: false })).toBe(true);
    expect(shouldCheckpoint(plan, { step: 100, epochEnd: false, finished: true })).toBe(false);
  });
});

describe('watched metrics', () => {
  it('early stopping counts epochs without an improvement bigger than minDelta', () => {
    const state = initialLoopState();
    const config = { metric: 'validation.loss', goal: 'minimize' as const, patience: 2, minDelta: 0.01 };
    const seen = [1, 0.9, 0.895, 0.899].map((v) => observeForEarlyStopping(config, state, { 'validation.loss': v }));
    expect(seen).toEqual(['continue', 'continue', 'continue', 'stop']);
    expect(state.bestMonitored).toBe(0.9);
  });

  it('keepBest remembers the best value and its step', () => {
    const state = initialLoopState();
    const config = { metric: 'validation.accuracy', goal: 'maximize' as const, restore: false };
    expect(observeForKeepBest(config, state, { 'validation.accuracy': 0.8 }, 10)).toBe(true);
    expect(observeForKeepBest(config, state, { 'validation.accuracy': 0.7 }, 20)).toBe(false);
    expect(observeForKeepBest(config, state, { 'validation.accuracy': 0.85 }, 30)).toBe(true);
    expect(state.keepBest).toEqual({ value: 0.85, step: 30 });
    expect(improves(1, null, 'minimize')).toBe(true);
  });

  it('a watched metric missing from the row is a run error naming what the row has', () => {
    expect(() => observeForKeepBest({ metric: 'test.acc', goal: 'maximize', restore: false }, initialLoopState(), { 'train.loss': 1 }, 1)).toThrow(/keepBest watches 'test.acc'.*train\.loss/);
  });
});

describe('stopWhen', () => {
  it('meets the first condition a logged row crosses; infinity crosses, a missing value does not', () => {
    const conditions = [{ metric: 'radius', above: 10, reason: 'escaped the saddle' }, { metric: 'train.loss', below: 1e-6 }];
    expect(metStopCondition(conditions, { radius: 3, 'train.loss': 1 })).toBeUndefined();
    expect(metStopCondition(conditions, { 'train.loss': 1 })).toBeUndefined();
    const met = metStopCondition(conditions, { radius: 12.5, 'train.loss': 1 })!;
    expect(describeStop(met, { radius: 12.5 })).toBe('escaped the saddle: radius = 12.5 (above 10)');
    expect(metStopCondition(conditions, { radius: Infinity })).toBe(conditions[0]);
    expect(describeStop(metStopCondition(conditions, { radius: 1, 'train.loss': 1e-9 })!, { 'train.loss': 1e-9 })).toBe('stopWhen: train.loss = 1e-9 (below 0.000001)');
  });
});
