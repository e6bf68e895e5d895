/**
 * Whether another try of a failed trial can end differently. `transient`: the trial's process
 * ended without a result (killed, out of memory, its machine lost), or it failed for lack of
 * memory; another worker — or the same one, later — may finish it. `deterministic`: the trial
 * failed by its own account (a config error, a missing dataset, a loss that became NaN) and would
 * fail the same way on every machine, since trials are seeded; it is recorded at once.
 */
export type FailureKind = 'transient' | 'deterministic';

export interface TrialFailure {
  error: string;
  /** The trial's process ended without reporting a result. */
  lost?: boolean;
}

/** Messages of allocations that failed: V8's heap, array buffers, a backend's memory. */
const OUT_OF_MEMORY = /out of memory|allocation failed|ENOMEM|cannot allocate memory/i;
const OOM = /\bOOM\b/;

export function classifyFailure(failure: TrialFailure): FailureKind {
  if (failure.lost === true) return 'transient';
  return OUT_OF_MEMORY.test(failure.error) || OOM.test(failure.error) ? 'transient' : 'deterministic';
}
