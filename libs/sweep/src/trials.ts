import type { ParameterValues } from './parameters';
import type { PlainValue } from './plain';
import type { EpochValue } from './pruners';

/** How long a trial trains, when the sweep sets it (ASHA's maximum, say). */
export interface TrialBudget {
  epochs?: number;
  steps?: number;
}

/**
 * Everything needed to run one trial anywhere: plain data only (JSON round-trips it), no local
 * paths, so a queue can hand it to another machine.
 */
export interface TrialSpec {
  sweepId: string;
  /** `trial-001`, `trial-002`, ... in proposal order. */
  trialId: string;
  /** The trial's index in proposal order, from 0. */
  index: number;
  /** The configuration it runs (several trials share one when `repeats` > 1). */
  configuration: number;
  /** Each parameter's value by parameter name (the key in `parameters`). */
  values: ParameterValues;
  /** The same values as experiment overrides: path → value, each parameter at each of its paths. */
  parameters: Record<string, PlainValue>;
  /** The experiment seed of this trial: the experiment's seed plus `repeat`. */
  seed: number;
  /** Which of the configuration's repeats this is, from 0. */
  repeat: number;
  budget?: TrialBudget;
  /** The hash of the resolved experiment, when the caller computed one. */
  configHash?: string;
  /** The resolved experiment of this trial as plain data (overrides applied, seed set). */
  experiment: PlainValue;
}

export type TrialStatus = 'completed' | 'failed' | 'pruned';

/** What the run of a trial reports besides its metrics, for tables, budgets and benchmarks. */
export interface TrialRunInfo {
  /** completed: whether the run met its experiment's expectations. */
  expectationsMet?: boolean;
  /** Epochs trained (a fraction for a budget in steps): what the sweep spent on the trial. */
  epochs?: number;
  steps?: number;
  /** A `train.stopWhen` condition that ended the run (an optimizer leaving a radius). */
  stopped?: { reason: string; step: number };
  /**
   * Milliseconds: `start` from launching the trial to its code being ready (a process start),
   * `setup` from there to the first step (backend, data, model), `train`, and `total`.
   */
  timing?: Record<string, number>;
  /** How many times the trial was started before it ended (more than 1 when a queue retried it). */
  attempts?: number;
}

/** How a trial ended, as an executor delivers it and as it is recorded. */
export interface TrialResult {
  trialId: string;
  status: TrialStatus;
  /** Final metrics (`validation.accuracy`, `test.loss`, ...); may be partial or empty unless completed. */
  metrics: Record<string, number>;
  /** The sweep metric at each epoch end that was reported. */
  intermediate: EpochValue[];
  /** pruned: the epoch at which it was stopped; otherwise the last epoch reached, when known. */
  epoch?: number;
  /** failed: what went wrong, in words. */
  error?: string;
  /**
   * failed: the trial's process ended without a result (killed, out of memory, crashed), so
   * another try may pass; a failure it reported itself (a config error, a diverging loss) would repeat.
   */
  lost?: boolean;
  run?: TrialRunInfo;
}

/** A trial as the sweep state holds it; `records()` returns these in index order. */
export interface TrialRecord {
  spec: TrialSpec;
  /** pending: proposed (or recorded before an interruption) and waiting to run or resume. */
  status: 'pending' | 'running' | TrialStatus;
  /** The values reported so far (a running trial's), or the recorded ones (a finished trial's). */
  intermediate: EpochValue[];
  /** The epoch at which the sweep decided to stop it, once it has. */
  prunedAt?: number;
  result?: TrialResult;
}

/** A trial read back from a sweep's records, to replay the sweep (see `replaySweep`). */
export interface RecordedTrial {
  index: number;
  /** The values it ran with, by parameter name (checked against what the sweep proposes). */
  values: ParameterValues;
  /** The experiment seed it ran with (checked when given). */
  seed?: number;
  /** Absent for a trial that was started but never finished: it is resumed. */
  result?: TrialResult;
  /** An unfinished trial's values so far, so its early-termination decisions see its whole curve. */
  intermediate?: EpochValue[];
}

/** `trial-001` for index 0: the id (and folder name) of a trial. */
export function trialId(index: number): string {
  return `trial-${String(index + 1).padStart(3, '0')}`;
}

/** Mean and sample standard deviation (n − 1; 0 for a single value) of finite values. */
export function meanAndStd(values: readonly number[]): { mean: number; std: number; count: number } {
  const finite = values.filter((v) => Number.isFinite(v));
  const count = finite.length;
  if (count === 0) return { mean: NaN, std: NaN, count };
  const mean = finite.reduce((a, b) => a + b, 0) / count;
  if (count === 1) return { mean, std: 0, count };
  const variance = finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (count - 1);
  return { mean, std: Math.sqrt(variance), count };
}
