import type { PlainValue } from './plain';
import type { PruneVerdict } from './pruners';
import type { TrialOutcome } from './executor';
import type { TrialSpec } from './trials';

/*
 * How a coordinator and a trial running in a process of its own talk (Node's IPC channel, or
 * any channel that carries structured clones):
 *
 *   coordinator → trial   run (once), verdict (after each epoch report), abort
 *   trial → coordinator   ready, epoch (then waits for the verdict), log, result (last)
 *
 * The trial process's entry script belongs to the host (the runner app), which knows how to
 * build sinks and registries; it hands its messages to `createTrialProcess`.
 */

/** The coordinator's first message: what to run, and where its run folder is. */
export interface TrialRequest {
  type: 'run';
  spec: TrialSpec;
  /** The trial's run folder: a normal run directory (config, metrics, checkpoints, summary). */
  runDirectory: string;
  /** Continue the run in `runDirectory` from its newest checkpoint instead of starting it. */
  resume: boolean;
  /** What the host needs besides the spec (its experiment file and options), as plain data. */
  context: PlainValue;
}

export type CoordinatorMessage = TrialRequest | { type: 'verdict'; epoch: number; prune: boolean; reason: string } | { type: 'abort' };

export type TrialProcessMessage =
  /** The process has loaded its code and waits for `run`. */
  | { type: 'ready' }
  /** An epoch ended with these metrics; the trial waits for the verdict before it goes on. */
  | { type: 'epoch'; epoch: number; metrics: Record<string, number> }
  | { type: 'log'; line: string }
  | { type: 'result'; outcome: TrialOutcome };

/** What a trial body gets: its request, the way to report epochs and print, and its stop signal. */
export interface TrialHooks {
  request: TrialRequest;
  /** Sends an epoch's metrics to the coordinator and resolves with its decision. */
  report(epoch: number, metrics: Record<string, number>): Promise<PruneVerdict>;
  log(line: string): void;
  /** Aborted when the coordinator asks the trial to stop (Ctrl-C): save, then end `interrupted`. */
  signal: AbortSignal;
}

export interface TrialProcess {
  /** Hand every message from the coordinator here. */
  receive(message: unknown): void;
  /** Stop as if asked to (the coordinator went away). */
  abort(): void;
  /** Settles once the result has been handed to `send`. */
  finished: Promise<TrialOutcome>;
}

function isMessage(value: unknown): value is CoordinatorMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/**
 * The trial side of the protocol: sends `ready`, runs `body` when the request comes, turns epoch
 * reports into waits for verdicts, and sends the outcome last. An abort before the request ends
 * the trial as interrupted without running it; an error thrown by the body fails the trial.
 */
export function createTrialProcess(send: (message: TrialProcessMessage) => void, body: (hooks: TrialHooks) => Promise<TrialOutcome>): TrialProcess {
  const controller = new AbortController();
  const waiting = new Map<number, (verdict: PruneVerdict) => void>();
  let started = false;
  let settle: (outcome: TrialOutcome) => void = () => undefined;
  const finished = new Promise<TrialOutcome>((resolve) => (settle = resolve));
  const finish = (outcome: TrialOutcome) => {
    send({ type: 'result', outcome });
    settle(outcome);
  };
  const abort = () => {
    controller.abort();
    // A trial waiting for a verdict goes on to its stop (it checks the signal between steps).
    for (const resolve of waiting.values()) resolve({ prune: false, reason: '' });
    waiting.clear();
    if (!started) {
      started = true;
      finish({ trialId: '', status: 'interrupted' });
    }
  };
  const run = (request: TrialRequest) => {
    started = true;
    const hooks: TrialHooks = {
      request,
      signal: controller.signal,
      log: (line) => send({ type: 'log', line }),
      report: (epoch, metrics) =>
        controller.signal.aborted
          ? Promise.resolve({ prune: false, reason: '' })
          : new Promise<PruneVerdict>((resolve) => {
              waiting.set(epoch, resolve);
              send({ type: 'epoch', epoch, metrics });
            }),
    };
    body(hooks).then(finish, (error: unknown) =>
      finish({ trialId: request.spec.trialId, status: 'failed', metrics: {}, intermediate: [], error: error instanceof Error ? error.message : String(error) }),
    );
  };
  send({ type: 'ready' });
  return {
    finished,
    abort,
    receive(message) {
      if (!isMessage(message)) return;
      if (message.type === 'run') {
        if (!started) run(message);
      } else if (message.type === 'verdict') {
        const resolve = waiting.get(message.epoch);
        waiting.delete(message.epoch);
        resolve?.({ prune: message.prune, reason: message.reason });
      } else if (message.type === 'abort') abort();
    },
  };
}
