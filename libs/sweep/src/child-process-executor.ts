import { fork, type ChildProcess } from 'node:child_process';
import type { DeferredTrialChannel, Executor, TrialOutcome } from './executor';
import type { PlainValue } from './plain';
import type { PruneVerdict } from './pruners';
import type { CoordinatorMessage, TrialProcessMessage } from './trial-process';
import type { TrialSpec } from './trials';

export interface ChildProcessExecutorOptions {
  /** The trial process's entry script: the host's, which hands its messages to `createTrialProcess`. */
  entry: string;
  /** Node options for it, such as a TypeScript loader (`['--import', 'tsx']`). */
  execArgv?: string[];
  /** Its environment (default: this process's). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** What every trial gets besides its spec (the experiment file and its options), as plain data. */
  context: PlainValue;
  /** The run folder of a trial. */
  runDirectory(spec: TrialSpec): string;
  /** Every line a trial prints: its log, and anything on its stdout and stderr. */
  onOutput?(trialId: string, line: string): void;
  /** After an abort, how long a trial may take to save its checkpoint and end before it is killed (default 60 s). */
  stopTimeoutMs?: number;
  /** After its result, how long a trial process may take to exit before it is killed (default 10 s). */
  exitTimeoutMs?: number;
}

/** An executor whose channels may answer epoch reports later (a worker relaying a remote coordinator's verdicts). */
export interface ChildProcessExecutor extends Executor {
  submit(spec: TrialSpec, channel: DeferredTrialChannel): Promise<TrialOutcome>;
}

/** How many of a trial's last stderr lines a failure message quotes. */
const STDERR_TAIL = 12;

function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line.replace(/\r$/, ''));
    },
    flush() {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}

/**
 * Runs each trial in a child process of its own (`entry`, over Node's IPC channel with structured
 * clones, so NaN and Infinity cross intact). A trial that crashes, runs out of memory or exits
 * without a result is failed with its exit status and the end of its stderr; the sweep goes on.
 * Aborting the channel's signal asks the trial to stop (it saves a checkpoint and ends
 * interrupted); one that does not end within `stopTimeoutMs` is killed. The time from launching
 * the process to its `ready` message is recorded as the trial's `timing.start`.
 */
export function createChildProcessExecutor(options: ChildProcessExecutorOptions): ChildProcessExecutor {
  const stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
  const exitTimeoutMs = options.exitTimeoutMs ?? 10_000;
  return {
    submit(spec, channel) {
      return new Promise<TrialOutcome>((resolve) => {
        const launched = performance.now();
        const print = (line: string) => options.onOutput?.(spec.trialId, line);
        const stderrTail: string[] = [];
        let child: ChildProcess;
        try {
          child = fork(options.entry, [], {
            execArgv: options.execArgv ?? [],
            ...(options.env !== undefined ? { env: options.env } : {}),
            ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
            stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
            serialization: 'advanced',
          });
        } catch (error) {
          resolve({ trialId: spec.trialId, status: 'failed', metrics: {}, intermediate: [], error: `the trial process could not start: ${(error as Error).message}` });
          return;
        }
        const stdout = lineSplitter(print);
        const stderr = lineSplitter((line) => {
          stderrTail.push(line);
          if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
          print(line);
        });
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
        child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));

        let outcome: TrialOutcome | undefined;
        let readyMs: number | undefined;
        let killTimer: ReturnType<typeof setTimeout> | undefined;
        const send = (message: CoordinatorMessage) => {
          if (child.connected) child.send(message, () => undefined);
        };
        const killLater = (ms: number) => {
          killTimer ??= setTimeout(() => child.kill('SIGKILL'), ms);
        };
        const onAbort = () => {
          send({ type: 'abort' });
          killLater(stopTimeoutMs);
        };
        if (channel.signal.aborted) onAbort();
        else channel.signal.addEventListener('abort', onAbort, { once: true });

        child.on('message', (raw: unknown) => {
          const message = raw as TrialProcessMessage;
          if (message.type === 'ready') {
            readyMs = performance.now() - launched;
            send({ type: 'run', spec, runDirectory: options.runDirectory(spec), resume: channel.resume, context: options.context });
          } else if (message.type === 'epoch') {
            const verdict = outcome === undefined ? channel.report(message.epoch, message.metrics) : { prune: false, reason: '' };
            const answer = (v: PruneVerdict) => send({ type: 'verdict', epoch: message.epoch, prune: v.prune, reason: v.reason });
            if ('then' in verdict) verdict.then(answer, () => answer({ prune: false, reason: '' }));
            else answer(verdict);
          } else if (message.type === 'log') {
            print(message.line);
          } else if (message.type === 'result') {
            outcome = message.outcome;
            killLater(exitTimeoutMs);
          }
        });
        child.on('error', (error) => {
          stderrTail.push(error.message);
        });
        child.on('exit', (code, signal) => {
          if (killTimer !== undefined) clearTimeout(killTimer);
          channel.signal.removeEventListener('abort', onAbort);
          stdout.flush();
          stderr.flush();
          const result = outcome;
          if (result !== undefined) {
            if (result.status === 'interrupted' || readyMs === undefined) resolve({ ...result, trialId: spec.trialId });
            else resolve({ ...result, trialId: spec.trialId, run: { ...result.run, timing: { ...result.run?.timing, start: Math.round(readyMs) } } });
            return;
          }
          if (channel.signal.aborted) {
            resolve({ trialId: spec.trialId, status: 'interrupted' });
            return;
          }
          const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
          const tail = stderrTail.filter((l) => l.trim() !== '');
          resolve({
            trialId: spec.trialId,
            status: 'failed',
            metrics: {},
            intermediate: [],
            error: `the trial process ${how} before reporting a result${tail.length > 0 ? `: ${tail.join('\n')}` : ''}`,
            lost: true,
          });
        });
      });
    },
  };
}
