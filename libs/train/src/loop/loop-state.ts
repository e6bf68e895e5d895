import type { BatchIteratorState } from '@dlexp/data';

/**
 * Everything the loop needs besides tensors to continue exactly where it stopped; saved as
 * state.json with every checkpoint. Fields added later are optional, so checkpoints written
 * before them still resume.
 */
export interface LoopState {
  step: number;
  /** Running sums (loss × examples, examples) for the train.loss of the next logged row. */
  lossSum: number;
  lossCount: number;
  lastFiniteLoss: number | null;
  /** Training time already spent, so timeMs continues instead of restarting. */
  elapsedMs: number;
  /** metrics.jsonl rows written up to this step (a resumed run drops rows after it). */
  loggedRows: number;
  /** Early stopping: the best value seen and the epochs since it. */
  bestMonitored: number | null;
  epochsWithoutImprovement: number;
  /** The data pipeline's position (its BatchIteratorState): the next batch to train on. */
  pipeline: BatchIteratorState | null;
  /** keepBest: the best value of its metric so far and the step it was reached at. */
  keepBest?: { value: number; step: number } | null;
}

export function initialLoopState(): LoopState {
  return { step: 0, lossSum: 0, lossCount: 0, lastFiniteLoss: null, elapsedMs: 0, loggedRows: 0, bestMonitored: null, epochsWithoutImprovement: 0, pipeline: null, keepBest: null };
}
