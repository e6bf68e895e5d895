import type { PlainValue, TrialOutcome, TrialSpec } from '@dlexp/sweep';
import type { DataIdentity } from './data-identity';
import type { RunFile } from './run-files';

/*
 * What travels through the queue (BullMQ on Redis), between the coordinator that runs a sweep and
 * the workers that run its trials:
 *
 *   job data        coordinator → worker   the trial (TrialJobData), one job per trial
 *   progress        worker → coordinator   each epoch end's metrics (job.updateProgress)
 *   verdict         coordinator → worker   prune or go on, per epoch (a hash per job, and pub/sub)
 *   return value    worker → coordinator   the outcome and the run folder's files (TrialJobResult)
 *   failed reason   worker → coordinator   a failure; a trial that failed by its own account also
 *                                          leaves its result under the job's result key
 */

/** Raised when the shape of a job changes: a worker refuses jobs of another format. */
export const JOB_FORMAT = 1;

/** BullMQ's job name for every trial (the id tells trials apart). */
export const TRIAL_JOB_NAME = 'trial';

/** Redis key prefix, BullMQ's own: `bull:<queue>:…`. */
export const QUEUE_PREFIX = 'bull';

export interface TrialJobData {
  format: number;
  /** The sweep's id and the run of it (its folder's start): the job id is made of them. */
  sweepId: string;
  startedAt: string;
  /** The experiment's name, for the worker's lines. */
  name: string;
  /** The trial: its resolved experiment (values applied, seed set), values, seed, budget, config hash. */
  spec: TrialSpec;
  /** The sweep ran with --quick: the trial checks `quick.expect`. */
  quick: boolean;
  /** The experiment file's name, for the trial's messages and its run's records (not opened). */
  experimentFile: string;
  /** What the trial's data is, for the worker to find its own copy. */
  data: DataIdentity;
  /** Early termination is on: the trial waits at each epoch end for the coordinator's verdict. */
  pruning: boolean;
  /** Tries after the first for a failure that may pass (a lost worker, out of memory). */
  retries: number;
  /** What the sweep was started with (invocation.json of each trial adds the trial's values). */
  invocation: PlainValue;
  /** The sweep's command line, noted at the top of each trial's config.resolved.yaml. */
  argv: string[];
}

/** An epoch end, as the worker reports it (metrics encoded: NaN survives). */
export interface TrialProgress {
  epoch: number;
  metrics: string;
}

/** The coordinator's answer to an epoch report. */
export interface TrialVerdict {
  epoch: number;
  prune: boolean;
  reason: string;
}

export interface TrialJobResult {
  format: number;
  /** The trial's outcome (never `interrupted`: an interrupted trial goes back to the queue). */
  outcome: TrialOutcome;
  /** Every epoch the trial reported (this attempt's, from its start or its checkpoint), metrics encoded. */
  epochs: TrialProgress[];
  /** The run folder, checkpoints left out. */
  files: RunFile[];
  /** Files left on the worker. */
  leftOut: string[];
  /** The worker that ran it: its host and process. */
  worker: string;
}

/** Where a job's verdicts are kept: a hash of epoch → verdict. */
export function verdictKey(queueName: string, jobId: string): string {
  return `${QUEUE_PREFIX}:${queueName}:dlexp:verdicts:${jobId}`;
}

/** The pub/sub channel on which verdicts are announced, so a waiting trial goes on at once. */
export function verdictChannel(queueName: string): string {
  return `${QUEUE_PREFIX}:${queueName}:dlexp:verdicts`;
}

/** Where a trial that failed by its own account leaves its result (its job holds only the reason). */
export function failedResultKey(queueName: string, jobId: string): string {
  return `${QUEUE_PREFIX}:${queueName}:dlexp:failed-result:${jobId}`;
}

/** How long jobs, results and verdicts are kept after a trial ends: long enough for a coordinator to come back. */
export const KEEP_SECONDS = 7 * 24 * 3600;
