import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { ConfigError, isPlainObject } from '@dlexp/core';
import { createChildProcessExecutor, type DeferredTrialChannel, type PlainValue, type PruneVerdict, type TrialOutcome } from '@dlexp/sweep';
import { encodeValue } from './codec';
import { checkQueueConnection, redisOptions } from './connection';
import { checkTrialData } from './data-identity';
import { failedResultKey, JOB_FORMAT, KEEP_SECONDS, QUEUE_PREFIX, verdictChannel, verdictKey, type TrialJobData, type TrialJobResult, type TrialProgress, type TrialVerdict } from './protocol';
import type { QueuedTrialContext } from './queued-trial';
import type { QueueTarget } from './queue-url';
import { classifyFailure } from './retry';
import { collectRunFiles, DEFAULT_MAX_RESULT_BYTES } from './run-files';

/** A trial as the worker hands it to the host, which builds its trial process's context. */
export interface QueuedTrial {
  job: TrialJobData;
  jobId: string;
  /** What the trial process needs to open the trial's experiment (`openQueuedTrial`). */
  queued: QueuedTrialContext;
  /** The trial's run folder on this worker. */
  runDirectory: string;
}

export interface TrialWorkerOptions {
  target: QueueTarget;
  queueName: string;
  /** Trials at once, each in a process of its own (default 1). */
  concurrency?: number;
  /**
   * How long a trial's lock lasts without renewal (default 30 s): a worker that dies is noticed
   * this long after its last renewal (and up to twice the stalled-check interval, half of it, more),
   * and its trials go back to the queue.
   */
  lockMs?: number;
  /**
   * A folder shared by the workers: each trial's run folder lives there, so a trial retried on
   * another worker resumes from its last checkpoint. Without it, run folders are temporary and a
   * retried trial starts again.
   */
  checkpoints?: string;
  /** Where the experiments' relative paths start on this machine (the folder the worker runs in). */
  workspace: string;
  /** Temporary folders go under it (default the system's). */
  scratch?: string;
  /** Plugins (`--plugin`) every trial loads, absolute. */
  plugins?: string[];
  /** This worker's backend and threads, over the trials'. */
  backend?: string;
  threads?: number;
  /** The trial process: the host's entry script and its Node options. */
  entry: string;
  execArgv?: string[];
  /** The request context of a trial's process (the host's options, and `queued` for `openQueuedTrial`). */
  context(trial: QueuedTrial): PlainValue;
  /** The worker's own lines (a trial taken, ended, retried). */
  onLine?(line: string): void;
  /** A trial's lines (its log), with the trial's label. */
  onTrialOutput?(label: string, line: string): void;
  /** Problems with the queue (a lost connection). */
  onNotice?(line: string): void;
  /** The most a result may carry (default 16 MiB): larger files stay on the worker. */
  maxResultBytes?: number;
  /** The worker's name in the queue (default host.pid.cN). */
  name?: string;
}

export interface TrialWorker {
  name: string;
  /** Stops taking trials; the running ones save a checkpoint and go back to the queue. */
  stop(): Promise<void>;
  /** Trials running now. */
  running(): number;
}

const GO_ON: PruneVerdict = { prune: false, reason: '' };
/** How long stopping waits for the running trials to be handed back (they save a checkpoint first). */
const STOP_WAIT_MS = 30_000;
/** The same for a worker with no trial running: only its connections to close. */
const IDLE_STOP_WAIT_MS = 3000;
/** How often a trial waiting for a verdict looks it up, in case the announcement was missed. */
const VERDICT_POLL_MS = 1000;

function isJobData(value: unknown): value is TrialJobData {
  return isPlainObject(value) && value['format'] === JOB_FORMAT && isPlainObject(value['spec']) && isPlainObject(value['data']);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Takes trials from the queue and runs each in a process of its own (the host's entry script,
 * as a local sweep does), reporting epoch ends as the job's progress and waiting — when the
 * sweep prunes — for the coordinator's verdict. It checks first that it has the trial's data.
 *
 * How a trial ends decides what the queue does with it: completed or pruned, the job completes
 * with the outcome and the run folder's files; failed by its own account (a config error, a
 * missing dataset, a NaN loss), the job fails at once (UnrecoverableError) and the result is kept
 * for the coordinator; lost (its process killed, out of memory), the job fails for a retry; and a
 * trial stopped because this worker stops goes back to the queue without using a try. A worker
 * that dies outright leaves its jobs to BullMQ's stalled-job check, which gives them to another.
 */
export async function startTrialWorker(options: TrialWorkerOptions): Promise<TrialWorker> {
  await checkQueueConnection(options.target);
  const [{ UnrecoverableError, WaitingError, Worker }, { Redis }] = await Promise.all([import('bullmq'), import('ioredis')]);
  const concurrency = options.concurrency ?? 1;
  const lockMs = options.lockMs ?? 30_000;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`--concurrency must be a whole number from 1, got ${concurrency}`);
  const name = options.name ?? `${hostname()}.${process.pid}.c${concurrency}`;
  const line = (text: string) => options.onLine?.(text);
  const connection = redisOptions(options.target);
  const scratchRoot = options.scratch ?? tmpdir();
  if (options.checkpoints !== undefined) mkdirSync(options.checkpoints, { recursive: true });

  // --- Verdicts: announced on one channel for the queue; each waiting trial also looks them up.
  const client = new Redis(connection);
  const subscriber = new Redis(connection);
  const waiting = new Map<string, (verdict: PruneVerdict) => void>();
  let lastNotice = '';
  const onError = (error: Error) => {
    if (error.message !== lastNotice) options.onNotice?.(`queue: ${error.message} (reconnecting)`);
    lastNotice = error.message;
  };
  client.on('error', onError);
  subscriber.on('error', onError);
  await subscriber.subscribe(verdictChannel(options.queueName));
  subscriber.on('message', (_channel: string, text: string) => {
    let message: { jobId?: unknown } & Partial<TrialVerdict>;
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    const resolve = waiting.get(`${String(message.jobId)}|${String(message.epoch)}`);
    if (resolve !== undefined && typeof message.prune === 'boolean') resolve({ prune: message.prune, reason: String(message.reason ?? '') });
  });

  const storedVerdict = async (jobId: string, epoch: number): Promise<PruneVerdict | undefined> => {
    const text = await client.hget(verdictKey(options.queueName, jobId), String(epoch));
    if (text === null) return undefined;
    const verdict = JSON.parse(text) as TrialVerdict;
    return { prune: verdict.prune, reason: verdict.reason };
  };

  /** The coordinator's verdict on an epoch: announced, or found at the next look. A stopping worker goes on without it. */
  const verdictFor = (jobId: string, epoch: number, signal: AbortSignal): Promise<PruneVerdict> =>
    new Promise((resolve) => {
      const key = `${jobId}|${epoch}`;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (verdict: PruneVerdict) => {
        if (!waiting.has(key)) return;
        waiting.delete(key);
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(verdict);
      };
      const onAbort = () => done(GO_ON);
      waiting.set(key, done);
      signal.addEventListener('abort', onAbort, { once: true });
      const lookUp = () => {
        storedVerdict(jobId, epoch).then(
          (verdict) => {
            if (verdict !== undefined) done(verdict);
            else if (waiting.has(key)) timer = setTimeout(lookUp, VERDICT_POLL_MS);
          },
          () => {
            if (waiting.has(key)) timer = setTimeout(lookUp, VERDICT_POLL_MS);
          },
        );
      };
      lookUp();
    });

  // --- One job: one trial.
  const stopping = new AbortController();
  let running = 0;

  const runJob = async (job: Job, token?: string): Promise<string> => {
    const jobId = job.id ?? '';
    if (!isJobData(job.data)) {
      throw new UnrecoverableError(`job ${jobId} on queue ${options.queueName} is not a trial this worker can read (format ${String((job.data as { format?: unknown } | undefined)?.format)}, this worker reads ${JOB_FORMAT}); run the same version of dlexp on the coordinator and the workers`);
    }
    const data = job.data;
    const { spec } = data;
    const label = `${data.name} ${spec.trialId}`;
    const earlier = job.attemptsMade + job.stalledCounter;
    if (earlier > data.retries) {
      const why = job.failedReason !== undefined && job.failedReason !== '' ? job.failedReason : 'its worker was lost each time (killed, out of memory, or cut off from Redis)';
      line(`${label}: not run again: it was tried ${earlier} times (${why})`);
      throw new UnrecoverableError(`tried ${earlier} times: ${why}`);
    }

    let base: string;
    try {
      ({ base } = await checkTrialData(data.data, { workspace: options.workspace }));
    } catch (error) {
      const message = (error as Error).message;
      line(`${label} failed: ${message}`);
      throw new UnrecoverableError(message);
    }

    const scratch = mkdtempSync(join(scratchRoot, 'dlexp-trial-'));
    const runDirectory = options.checkpoints !== undefined ? join(options.checkpoints, jobId) : join(scratch, 'run');
    const queued: QueuedTrialContext = {
      quick: data.quick,
      base,
      experimentFile: data.experimentFile,
      scratch,
      plugins: options.plugins ?? [],
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      label,
    };
    const epochs: TrialProgress[] = [];
    const began = Date.now();
    running++;
    line(`${label} started${earlier > 0 ? ` (attempt ${earlier + 1}${options.checkpoints !== undefined ? ', from its last checkpoint' : ', from the start'})` : ''}`);
    try {
      const executor = createChildProcessExecutor({
        entry: options.entry,
        ...(options.execArgv !== undefined ? { execArgv: options.execArgv } : {}),
        context: options.context({ job: data, jobId, queued, runDirectory }),
        runDirectory: () => runDirectory,
        onOutput: (_trialId, text) => options.onTrialOutput?.(label, text),
      });
      const channel: DeferredTrialChannel = {
        // With shared checkpoints the folder may hold an earlier attempt's run: it is resumed.
        resume: options.checkpoints !== undefined,
        signal: stopping.signal,
        report: (epoch, metrics) => {
          const progress: TrialProgress = { epoch, metrics: encodeValue(typeof metrics === 'number' ? { value: metrics } : metrics) };
          epochs.push(progress);
          const sent = job.updateProgress(progress as unknown as object).catch(() => undefined);
          if (!data.pruning) return GO_ON;
          return sent.then(() => verdictFor(jobId, epoch, stopping.signal));
        },
      };
      const outcome: TrialOutcome = await executor.submit(spec, channel);

      if (outcome.status === 'interrupted') {
        // This worker stops: the trial goes back to the queue, its try not counted.
        line(`${label} stopped with this worker; it goes back to the queue`);
        if (token !== undefined) await job.moveToWait(token);
        throw new WaitingError();
      }
      const collected = collectRunFiles(runDirectory, options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES);
      const result: TrialJobResult = { format: JOB_FORMAT, outcome, epochs, files: collected.files, leftOut: collected.leftOut, worker: name };
      if (outcome.status === 'failed') {
        const error = outcome.error ?? 'the trial failed';
        if (classifyFailure({ error, ...(outcome.lost === true ? { lost: true } : {}) }) === 'transient') {
          line(`${label} lost after ${seconds(Date.now() - began)}: ${error}`);
          throw new Error(error);
        }
        line(`${label} failed after ${seconds(Date.now() - began)}: ${error}`);
        await client.set(failedResultKey(options.queueName, jobId), encodeValue(result), 'EX', KEEP_SECONDS);
        throw new UnrecoverableError(error);
      }
      line(`${label} ${outcome.status} after ${seconds(Date.now() - began)}`);
      return encodeValue(result);
    } finally {
      running--;
      rmSync(scratch, { recursive: true, force: true });
    }
  };

  const worker = new Worker(options.queueName, runJob, {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency,
    name,
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.round(lockMs / 2)),
    // Lost workers are counted against the trial's own retries (see `process`), not BullMQ's limit.
    maxStalledCount: 1_000_000,
    autorun: false,
  });
  worker.on('error', onError);
  await worker.waitUntilReady();
  line(`worker ${name}: taking trials from queue ${options.queueName} at ${options.target.display}, ${concurrency} at a time`);
  worker.run().catch((error: unknown) => options.onNotice?.(`worker: ${error instanceof Error ? error.message : String(error)}`));

  return {
    name,
    running: () => running,
    async stop() {
      const closing = worker.close();
      stopping.abort();
      // Handing a trial back needs Redis: without it, stop waiting once the trials have had their
      // time to save a checkpoint; the queue gives them to another worker when their locks run out.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = await Promise.race([closing.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), running > 0 ? STOP_WAIT_MS : IDLE_STOP_WAIT_MS)))]);
      if (timer !== undefined) clearTimeout(timer);
      if (gaveUp) {
        options.onNotice?.(`queue: ${options.target.display} does not answer; stopping without handing the running trials back (another worker takes them once their locks run out)`);
        void worker.close(true).catch(() => undefined);
        void worker.disconnect().catch(() => undefined);
      }
      subscriber.disconnect();
      client.disconnect();
    },
  };
}
