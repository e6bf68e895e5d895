import { fingerprint, type TrialSpec } from '@dlexp/sweep';

/**
 * A trial's job id: the sweep's id, the run of the sweep (when its folder was started), the trial
 * and the config hash of its experiment, joined by dots (BullMQ keeps `:` for its own keys and
 * refuses ids that read as integers). Enqueuing a trial twice — a coordinator restarted on the same
 * folder — names the same job, so BullMQ adds nothing; the same sweep started in a new folder gets
 * jobs of its own instead of the old folder's results. The hash guards the id against an
 * experiment changed under the same trial number.
 */
export function trialJobId(run: { sweepId: string; startedAt: string }, spec: Pick<TrialSpec, 'trialId' | 'configHash' | 'experiment' | 'parameters' | 'seed'>): string {
  const hash = spec.configHash !== undefined ? spec.configHash.slice(0, 16) : `x${fingerprint({ experiment: spec.experiment, parameters: spec.parameters, seed: spec.seed })}`;
  return [safePart(run.sweepId), runStamp(run.startedAt), safePart(spec.trialId), hash].join('.');
}

/** `2026-11-27T12:00:00.123Z` → `20261127T120000123Z`: the run's start, as an id part. */
export function runStamp(startedAt: string): string {
  const stamp = startedAt.replace(/[-:.]/g, '');
  return safePart(stamp === '' ? 'unstarted' : stamp);
}

function safePart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** The parts of a job id made by `trialJobId`, or undefined for any other id. */
export function parseTrialJobId(id: string): { sweepId: string; runStamp: string; trialId: string; hash: string } | undefined {
  const parts = id.split('.');
  if (parts.length !== 4 || parts.some((p) => p === '')) return undefined;
  const [sweepId, stamp, trialId, hash] = parts as [string, string, string, string];
  return { sweepId, runStamp: stamp, trialId, hash };
}
