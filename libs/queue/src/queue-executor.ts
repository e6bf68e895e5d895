import { basename, dirname } from 'node:path';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { isPlainObject } from '@dlexp/core';
import { canonicalJson, type Executor, type PlainValue, type PruneVerdict, type TrialChannel, type TrialOutcome, type TrialResult, type TrialSpec } from '@dlexp/sweep';
import { decodeValue } from './codec';
import { redisOptions } from './connection';
import { describeTrialData, type DataIdentity } from './data-identity';
import { trialJobId } from './job-ids';
import {
  failedResultKey,
  JOB_FORMAT,
  KEEP_SECONDS,
  QUEUE_PREFIX,
  TRIAL_JOB_NAME,
  verdictChannel,
  verdictKey,
  type TrialJobData,
  type TrialJobResult,
  type TrialProgress,
  type TrialVerdict,
} from './protocol';
import type { QueueTarget } from './queue-url';
import { writeRunFiles } from './run-files';

export interface QueueExecutorOptions {
  target: QueueTarget;
  queueName: string;
  /** The run of the sweep (its id and its folder's start): the trials' job ids are made of it. */
  run: { sweepId: string; startedAt: string };
  /** The experiment's name, for the workers' lines. */
  name: string;
  /** The experiment file: its name travels with each trial; its folder is where relative data paths start. */
  experimentFile: string;
  /** The folder the coordinator runs in: data paths travel relative to it. */
  workspace: string;
  quick: boolean;
  /** Early termination is on: workers wait for a verdict at each epoch end. */
  pruning: boolean;
  /** Tries after the first for failures that may pass (a lost worker, out of memory); default 2. */
  retries?: number;
  /** What the sweep was started with, recorded by each trial. */
  invocation: PlainValue;
  argv: string[];
  /** The coordinator's folder of a trial: its result's files are written there. */
  runDirectory(spec: TrialSpec): string;
  /** What happens to a trial on the queue (its worker, a retry, a lost worker), as lines. */
  onOutput?(trialId: string, line: string): void;
  /** Problems of the queue itself (a lost connection), as lines. */
  onNotice?(line: string): void;
  /** How often the trials in flight are looked up, besides the queue's events (default 3 s). */
  pollMs?: number;
  /**
   * Why a trial's values make no valid experiment (a spec without a config hash carries the
   * sweep's base experiment, which a worker must not run): its error, recorded without enqueuing it.
   */
  explainUnresolved?(spec: TrialSpec): string;
}

export interface QueueExecutor extends Executor {
  /** Closes the connections; jobs in flight stay in the queue for the next coordinator. */
  close(): Promise<void>;
}

/** How long closing waits for the queue's connections to end cleanly. */
const CLOSE_WAIT_MS = 3000;

/** What the coordinator tracks of a trial it follows. */
interface Follower {
  jobId: string;
  spec: TrialSpec;
  channel: TrialChannel;
  /** Verdicts given, by epoch: a repeated report (a retry, a restarted coordinator) gets the same answer. */
  verdicts: Map<number, PruneVerdict>;
  /** The epoch and attempt last announced as running, so each start is said once. */
  started?: string;
  done: boolean;
  finish(outcome: TrialOutcome): void;
}

function isProgress(value: unknown): value is TrialProgress {
  return isPlainObject(value) && typeof value['epoch'] === 'number' && typeof value['metrics'] === 'string';
}

/** Tries a job took: each finish (completed, failed, retried) and each time its worker was lost. */
function attemptsOf(job: Pick<Job, 'attemptsMade' | 'stalledCounter'>): number {
  return Math.max(1, (job.attemptsMade ?? 0) + (job.stalledCounter ?? 0));
}

function failedTrial(trialId: string, error: string): TrialResult {
  return { trialId, status: 'failed', metrics: {}, intermediate: [], error };
}

/**
 * An executor that runs each trial as a job on a BullMQ queue in Redis, for workers on any
 * machine (`createTrialWorker`), and follows it: epoch reports come back as the job's progress
 * and are answered with the sweep's verdict (kept per job in Redis and announced on a channel),
 * the result comes back as the job's return value with the run folder's files, which are written
 * into the coordinator's folder of the trial before the trial is settled.
 *
 * A trial's job id comes from the sweep's run and the trial (`trialJobId`): submitting it again —
 * a coordinator restarted on the same folder — finds the job already queued, running or finished,
 * and follows it. Aborting a trial's signal (Ctrl-C) stops following it: the job stays in the
 * queue, its worker goes on, and the next coordinator picks it up. Failures that may pass are
 * retried by the queue up to `retries` times; the trial is settled once, with its attempts.
 */
export function createQueueExecutor(options: QueueExecutorOptions): QueueExecutor {
  const { queueName, run } = options;
  const retries = options.retries ?? 2;
  const say = (trialId: string, line: string) => options.onOutput?.(trialId, line);
  const notice = (line: string) => options.onNotice?.(line);
  const connection = redisOptions(options.target);
  const followers = new Map<string, Follower>();
  const dataIdentities = new Map<string, Promise<DataIdentity>>();
  const experimentDir = dirname(options.experimentFile);
  const experimentName = basename(options.experimentFile);

  let lastNotice = '';
  const onError = (error: Error) => {
    // ioredis reconnects by itself; say it once per kind of problem, not at every retry.
    if (error.message !== lastNotice) notice(`queue: ${error.message} (reconnecting)`);
    lastNotice = error.message;
  };

  // BullMQ and ioredis load here, not with the library: a worker's trial processes import the
  // library for openQueuedTrial and would pay for them (about 0.3 s) at every trial.
  // The events stream is read from its current end, found before any job is added, so no event
  // of these trials is missed between here and the first read.
  const handles: { queue?: Queue; client?: Redis; events?: QueueEvents } = {};
  const ready = (async (): Promise<{ queue: Queue; client: Redis; events: QueueEvents }> => {
    const [{ Queue, QueueEvents }, { Redis }] = await Promise.all([import('bullmq'), import('ioredis')]);
    const queue = (handles.queue = new Queue(queueName, { connection, prefix: QUEUE_PREFIX }));
    const client = (handles.client = new Redis(connection));
    queue.on('error', onError);
    client.on('error', onError);
    const last = (await client.xrevrange(`${QUEUE_PREFIX}:${queueName}:events`, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    const events = (handles.events = new QueueEvents(queueName, { connection, prefix: QUEUE_PREFIX, lastEventId: last }));
    events.on('error', onError);
    events.on('completed', ({ jobId }) => void look(jobId));
    events.on('failed', ({ jobId }) => void look(jobId));
    events.on('active', ({ jobId }) => void look(jobId));
    events.on('progress', ({ jobId, data }) => {
      const follower = followers.get(jobId);
      if (follower !== undefined) answer(follower, data).catch(() => undefined);
    });
    events.on('stalled', ({ jobId }) => {
      const follower = followers.get(jobId);
      if (follower !== undefined) say(follower.spec.trialId, 'its worker stopped answering (killed, or cut off from Redis): the trial goes back to the queue');
    });
    events.on('waiting', ({ jobId, prev }) => {
      const follower = followers.get(jobId);
      if (follower !== undefined && prev === 'active') retried(follower).catch(() => undefined);
    });
    await events.waitUntilReady();
    return { queue, client, events };
  })();
  // A failure here (Redis gone since the check) fails each trial with it; never an unhandled rejection.
  ready.catch(() => undefined);

  const poll = setInterval(() => {
    for (const jobId of followers.keys()) void look(jobId);
  }, options.pollMs ?? 3000);
  poll.unref?.();

  const dataOf = (spec: TrialSpec): Promise<DataIdentity> => {
    const data = isPlainObject(spec.experiment) ? (spec.experiment['data'] ?? null) : null;
    const key = canonicalJson(data);
    let identity = dataIdentities.get(key);
    if (identity === undefined) {
      identity = describeTrialData(data, { experimentDir, workspace: options.workspace });
      dataIdentities.set(key, identity);
    }
    return identity;
  };

  /** Answers an epoch report with the sweep's verdict, and tells the worker when it waits for one. */
  const answer = async (follower: Follower, progress: unknown) => {
    if (follower.done || !isProgress(progress)) return;
    let verdict = follower.verdicts.get(progress.epoch);
    if (verdict === undefined) {
      const metrics = decodeValue<Record<string, number>>(progress.metrics, `the epoch report of ${follower.spec.trialId}`);
      verdict = follower.channel.report(progress.epoch, metrics);
      follower.verdicts.set(progress.epoch, verdict);
    }
    if (!options.pruning) return;
    const { client } = await ready;
    const message: TrialVerdict = { epoch: progress.epoch, prune: verdict.prune, reason: verdict.reason };
    const key = verdictKey(queueName, follower.jobId);
    await client.multi().hset(key, String(progress.epoch), JSON.stringify(message)).expire(key, KEEP_SECONDS).exec();
    await client.publish(verdictChannel(queueName), JSON.stringify({ jobId: follower.jobId, ...message }));
  };

  const retried = async (follower: Follower) => {
    const { queue } = await ready;
    const job = await queue.getJob(follower.jobId);
    if (job?.failedReason !== undefined && job.failedReason !== '') {
      say(follower.spec.trialId, `attempt ${attemptsOf(job)} failed (${job.failedReason}): the trial goes back to the queue`);
    }
  };

  const settleFromResult = (follower: Follower, job: Job, result: TrialJobResult, extra: Record<string, number>) => {
    // Epochs the coordinator did not see (it was away, or the sweep does not wait for verdicts) are
    // recorded now, so the trial's curve is the same as a local run's.
    for (const progress of result.epochs) if (!follower.verdicts.has(progress.epoch)) answer(follower, progress).catch(() => undefined);
    writeRunFiles(options.runDirectory(follower.spec), result.files);
    if (result.leftOut.length > 0) say(follower.spec.trialId, `too large to send, left on worker ${result.worker}: ${result.leftOut.join(', ')}`);
    const outcome = result.outcome;
    if (outcome.status === 'interrupted') {
      follower.finish({ trialId: follower.spec.trialId, status: 'interrupted' });
      return;
    }
    const timing: Record<string, number> = { ...outcome.run?.timing, ...extra };
    // Milliseconds by the queue's clocks (the coordinator's and the worker's): from enqueuing to a
    // worker starting the last attempt, and that attempt on its worker (process start, run, files).
    if (job.processedOn !== undefined && job.timestamp !== undefined) timing['queued'] = Math.max(0, job.processedOn - job.timestamp);
    if (job.processedOn !== undefined && job.finishedOn !== undefined) timing['onWorker'] = Math.max(0, job.finishedOn - job.processedOn);
    follower.finish({ ...outcome, trialId: follower.spec.trialId, run: { ...outcome.run, timing, attempts: attemptsOf(job) } });
  };

  /** Reads a followed job's state and settles its trial when the job has ended. */
  const look = (jobId: string) =>
    lookAt(jobId).catch(() => {
      // Redis away, or the job changed under the read: the next look, or an event, will do.
    });
  const lookAt = async (jobId: string) => {
    const follower = followers.get(jobId);
    if (follower === undefined || follower.done) return;
    const { queue, client } = await ready;
    // The state first, then the job: a job read first may end between the two reads, without its result.
    const state = await queue.getJobState(jobId);
    const job: Job | undefined = await queue.getJob(jobId);
    if (follower.done) return;
    if (job === undefined || state === 'unknown') {
      follower.finish(failedTrial(follower.spec.trialId, `its job ${jobId} disappeared from the queue ${queueName} (removed by hand?); run the sweep again to enqueue it anew`));
      return;
    }
    const trialId = follower.spec.trialId;
    if (state === 'completed') {
      const arrived = Date.now();
      let result: TrialJobResult;
      try {
        result = decodeValue<TrialJobResult>(String(job.returnvalue), `the result of ${jobId}`);
      } catch (error) {
        follower.finish(failedTrial(trialId, (error as Error).message));
        return;
      }
      settleFromResult(follower, job, result, job.finishedOn !== undefined ? { delivered: Math.max(0, arrived - job.finishedOn) } : {});
      return;
    }
    if (state === 'failed') {
      const stored = await client.get(failedResultKey(queueName, jobId));
      if (stored !== null) {
        try {
          settleFromResult(follower, job, decodeValue<TrialJobResult>(stored, `the result of ${jobId}`), {});
          return;
        } catch {
          // Fall back to the job's reason.
        }
      }
      const attempts = attemptsOf(job);
      const reason = job.failedReason ?? 'no reason given';
      follower.finish({ ...failedTrial(trialId, attempts > 1 ? `${reason} (after ${attempts} attempts)` : reason), run: { attempts } });
      return;
    }
    if (state === 'active') {
      const started = `${job.processedBy ?? ''}|${job.attemptsStarted}`;
      if (job.processedBy !== undefined && follower.started !== started) {
        follower.started = started;
        const attempt = job.attemptsMade + job.stalledCounter + 1;
        say(trialId, `running on ${job.processedBy}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
      }
      // A report the coordinator has not answered (it was away) is answered now.
      if (isProgress(job.progress)) await answer(follower, job.progress);
    }
  };

  const jobData = async (spec: TrialSpec): Promise<TrialJobData> => ({
    format: JOB_FORMAT,
    sweepId: run.sweepId,
    startedAt: run.startedAt,
    name: options.name,
    spec,
    quick: options.quick,
    experimentFile: experimentName,
    data: await dataOf(spec),
    pruning: options.pruning,
    retries,
    invocation: options.invocation,
    argv: options.argv,
  });

  return {
    submit(spec, channel) {
      const jobId = trialJobId(run, spec);
      return new Promise<TrialOutcome>((resolve) => {
        const follower: Follower = {
          jobId,
          spec,
          channel,
          verdicts: new Map(),
          done: false,
          finish(outcome) {
            if (follower.done) return;
            follower.done = true;
            followers.delete(jobId);
            channel.signal.removeEventListener('abort', onAbort);
            resolve(outcome);
          },
        };
        // The job stays in the queue: its worker goes on, and the next coordinator follows it.
        const onAbort = () => follower.finish({ trialId: spec.trialId, status: 'interrupted' });
        if (channel.signal.aborted) {
          resolve({ trialId: spec.trialId, status: 'interrupted' });
          return;
        }
        if (spec.configHash === undefined) {
          resolve(failedTrial(spec.trialId, options.explainUnresolved?.(spec) ?? 'its values do not make a valid experiment (runner validate says why)'));
          return;
        }
        channel.signal.addEventListener('abort', onAbort, { once: true });
        followers.set(jobId, follower);
        (async () => {
          const { queue } = await ready;
          const data = await jobData(spec);
          await queue.add(TRIAL_JOB_NAME, data, {
            jobId,
            attempts: retries + 1,
            removeOnComplete: { age: KEEP_SECONDS },
            removeOnFail: { age: KEEP_SECONDS },
          });
          await look(jobId);
        })().catch((error: unknown) => follower.finish(failedTrial(spec.trialId, `the queue did not take the trial: ${error instanceof Error ? error.message : String(error)}`)));
      });
    },
    async close() {
      clearInterval(poll);
      const graceful = (async () => {
        const opened = await ready.catch(() => undefined);
        if (opened === undefined) return;
        await Promise.allSettled([opened.events.close(), opened.queue.close()]);
      })();
      // A Redis that went away would hold a graceful close for ever: cut the connections instead.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([graceful, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      if (timer !== undefined) clearTimeout(timer);
      handles.client?.disconnect();
      void handles.events?.disconnect().catch(() => undefined);
      void handles.queue?.disconnect().catch(() => undefined);
    },
  };
}

/**
 * How many trials the workers listening on a queue run at once: each worker names its
 * concurrency in its client name (`….c4`); a worker that does not counts for one.
 */
export async function workerSlots(target: QueueTarget, queueName: string): Promise<{ workers: number; slots: number }> {
  const { Queue } = await import('bullmq');
  const queue = new Queue(queueName, { connection: redisOptions(target), prefix: QUEUE_PREFIX });
  queue.on('error', () => undefined);
  try {
    const workers = await queue.getWorkers();
    const slots = workers.reduce((sum, w) => sum + Number(/\.c(\d+)$/.exec(w['rawname'] ?? '')?.[1] ?? 1), 0);
    return { workers: workers.length, slots };
  } finally {
    await queue.close();
  }
}
