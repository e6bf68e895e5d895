import type { Goal, ResolvedEarlyTermination } from './config';

/**
 * Early termination: stop a trial at an epoch end when it compares badly with earlier trials at the
 * same epoch. A decision is a pure function of the trial's own values so far and of its reference
 * trials' recorded values (the sweep state picks them; they are all finished), so the same recorded
 * sequence always gives the same decisions.
 */

/** The sweep metric at the end of an epoch (epochs count from 1). */
export interface EpochValue {
  epoch: number;
  value: number;
}

/** A finished earlier trial whose intermediate values a decision may compare with. */
export interface ReferenceTrial {
  index: number;
  intermediate: readonly EpochValue[];
}

export interface PruneVerdict {
  prune: boolean;
  /** Why, in words, for logs and live tables (empty when there was nothing to decide). */
  reason: string;
}

export interface PruneInput {
  epoch: number;
  /** The trial's values up to and including `epoch`. */
  own: readonly EpochValue[];
  reference: readonly ReferenceTrial[];
}

export interface Pruner {
  decide(input: PruneInput): PruneVerdict;
}

const CONTINUE: PruneVerdict = { prune: false, reason: '' };

/** `a` is strictly worse than `b` for the goal. */
function worse(a: number, b: number, goal: Goal): boolean {
  return goal === 'minimize' ? a > b : a < b;
}

function valueAt(values: readonly EpochValue[], epoch: number): number | undefined {
  return values.find((v) => v.epoch === epoch)?.value;
}

function median(sorted: readonly number[]): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : 0.5 * (sorted[middle - 1]! + sorted[middle]!);
}

/**
 * Median stopping: from epoch `minEpochs` on, a trial stops when its best value so far is worse than
 * the median of the reference trials' values at the same epoch (once at least `minTrials` of them
 * reached it). A non-finite value stops the trial at once.
 */
export function createMedianPruner(options: { goal: Goal; minEpochs: number; minTrials: number }): Pruner {
  const { goal, minEpochs, minTrials } = options;
  return {
    decide({ epoch, own, reference }) {
      if (epoch < minEpochs) return CONTINUE;
      const current = valueAt(own, epoch);
      if (current === undefined) return CONTINUE;
      if (!Number.isFinite(current)) return { prune: true, reason: `the metric is ${current} at epoch ${epoch}` };
      const sofar = own.filter((v) => v.epoch <= epoch && Number.isFinite(v.value)).map((v) => v.value);
      const best = goal === 'minimize' ? Math.min(...sofar) : Math.max(...sofar);
      const others = reference
        .map((t) => valueAt(t.intermediate, epoch))
        .filter((v): v is number => v !== undefined && Number.isFinite(v))
        .sort((a, b) => a - b);
      if (others.length < minTrials) return CONTINUE;
      const m = median(others);
      if (!worse(best, m, goal)) return CONTINUE;
      return { prune: true, reason: `best so far ${best} is worse than the median ${m} of ${others.length} earlier trials at epoch ${epoch}` };
    },
  };
}

/** The epochs at which ASHA decides: minEpochs·η^k, up to and including `upTo`. */
export function ashaRungs(minEpochs: number, reductionFactor: number, upTo: number): number[] {
  const rungs: number[] = [];
  for (let k = 0; ; k++) {
    const rung = Math.round(minEpochs * reductionFactor ** k);
    if (rung > upTo) break;
    if (rungs[rungs.length - 1] !== rung) rungs.push(rung);
  }
  return rungs;
}

function isRung(epoch: number, minEpochs: number, reductionFactor: number): boolean {
  return ashaRungs(minEpochs, reductionFactor, epoch).includes(epoch);
}

/**
 * Asynchronous successive halving: rungs at epochs minEpochs·η^k; a trial that reaches a rung goes
 * on only if its value there is among the best ⌊n/η⌋ (at least 1) of the n values recorded at that
 * rung: its own and those of the reference trials that reached it. Ties go on. Until `minTrials`
 * reference trials reached a rung, every trial goes on from it.
 */
export function createAshaPruner(options: { goal: Goal; minEpochs: number; reductionFactor: number; minTrials: number }): Pruner {
  const { goal, minEpochs, reductionFactor, minTrials } = options;
  return {
    decide({ epoch, own, reference }) {
      if (!isRung(epoch, minEpochs, reductionFactor)) return CONTINUE;
      const current = valueAt(own, epoch);
      if (current === undefined) return CONTINUE;
      if (!Number.isFinite(current)) return { prune: true, reason: `the metric is ${current} at rung ${epoch}` };
      const others = reference.map((t) => valueAt(t.intermediate, epoch)).filter((v): v is number => v !== undefined && Number.isFinite(v));
      if (others.length < minTrials) return CONTINUE;
      const all = [...others, current].sort((a, b) => (goal === 'minimize' ? a - b : b - a));
      const keep = Math.max(1, Math.floor(all.length / reductionFactor));
      const threshold = all[keep - 1]!;
      if (!worse(current, threshold, goal)) return CONTINUE;
      return { prune: true, reason: `${current} is not among the best ${keep} of ${all.length} trials at rung ${epoch} (threshold ${threshold})` };
    },
  };
}

export function createPruner(config: ResolvedEarlyTermination, goal: Goal): Pruner {
  return config.type === 'median'
    ? createMedianPruner({ goal, minEpochs: config.minEpochs, minTrials: config.minTrials })
    : createAshaPruner({ goal, minEpochs: config.minEpochs, reductionFactor: config.reductionFactor, minTrials: config.minTrials });
}
