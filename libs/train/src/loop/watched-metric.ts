import { RunError } from '@dlexp/core';
import type { EarlyStoppingConfig, KeepBestConfig, StopCondition } from '@dlexp/config';
import type { LoopState } from './loop-state';

function valueOf(row: Record<string, number>, metric: string, purpose: string): number {
  const value = row[metric];
  if (value === undefined) throw new RunError(`${purpose} watches '${metric}', which the epoch-end metrics do not include (they have: ${Object.keys(row).join(', ')})`);
  return value;
}

/** Whether `value` beats `best` by more than `minDelta`, in the direction of `goal`. */
export function improves(value: number, best: number | null, goal: 'minimize' | 'maximize', minDelta = 0): boolean {
  if (best === null) return true;
  return (goal === 'minimize' ? best - value : value - best) > minDelta;
}

/**
 * Early stopping on one run's own curve: stop once the watched epoch-end metric has not improved
 * for `patience` epochs. Its memory lives in the loop state, so a resumed run stops at the same epoch.
 */
export function observeForEarlyStopping(config: EarlyStoppingConfig, state: LoopState, row: Record<string, number>): 'continue' | 'stop' {
  const value = valueOf(row, config.metric, 'earlyStopping');
  if (improves(value, state.bestMonitored, config.goal ?? 'minimize', config.minDelta ?? 0)) {
    state.bestMonitored = value;
    state.epochsWithoutImprovement = 0;
    return 'continue';
  }
  state.epochsWithoutImprovement++;
  return state.epochsWithoutImprovement >= (config.patience ?? 3) ? 'stop' : 'continue';
}

/** keepBest: whether this epoch end is the best so far (then the caller saves the best checkpoint). */
export function observeForKeepBest(config: KeepBestConfig, state: LoopState, row: Record<string, number>, step: number): boolean {
  const value = valueOf(row, config.metric, 'keepBest');
  if (!improves(value, state.keepBest?.value ?? null, config.goal)) return false;
  state.keepBest = { value, step };
  return true;
}

/**
 * The first stop condition a logged row meets, if any. A value that is not finite counts as
 * crossing either bound (a point running off to infinity has escaped too). A row without the
 * metric (a held-out metric between epoch ends) meets nothing.
 */
export function metStopCondition(conditions: StopCondition[] | undefined, row: Record<string, number>): StopCondition | undefined {
  return conditions?.find((c) => {
    const value = row[c.metric];
    if (value === undefined) return false;
    if (!Number.isFinite(value)) return true;
    return (c.above !== undefined && value > c.above) || (c.below !== undefined && value < c.below);
  });
}

/** How a met stop condition is said: its reason, or the bound it crossed. */
export function describeStop(condition: StopCondition, row: Record<string, number>): string {
  const bound = condition.above !== undefined && !(row[condition.metric]! < condition.above) ? `above ${condition.above}` : `below ${condition.below}`;
  return `${condition.reason ?? 'stopWhen'}: ${condition.metric} = ${row[condition.metric]} (${bound})`;
}
