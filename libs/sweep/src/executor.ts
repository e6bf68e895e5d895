import type { PruneVerdict } from './pruners';
import type { SweepState, SweepSummary } from './sweep-state';
import type { TrialRecord, TrialResult, TrialSpec } from './trials';

/** The sweep's side of a running trial, handed to the executor with its spec. */
export interface TrialChannel {
  /** The trial is resumed (from its own checkpoint, where the executor keeps one), not started. */
  resume: boolean;
  /**
   * Call at each epoch end with the epoch's metrics (or just the sweep metric's value). When the
   * answer is `prune: true`, stop the trial and resolve with status `pruned` (the sweep records it
   * as pruned at the epoch of the decision, whatever happens after it).
   */
  report(epoch: number, metrics: number | Record<string, number>): PruneVerdict;
  /** Aborted to cancel the trial (Ctrl-C): stop it, keep what it needs to resume, resolve `interrupted`. */
  signal: AbortSignal;
}

/**
 * A channel whose verdicts may come later: a trial on another machine waits for the coordinator's
 * answer. Every `TrialChannel` is one (its verdicts come at once).
 */
export interface DeferredTrialChannel extends Omit<TrialChannel, 'report'> {
  report(epoch: number, metrics: number | Record<string, number>): PruneVerdict | Promise<PruneVerdict>;
}

/** A trial that stopped without ending: it is offered again to resume. */
export interface TrialInterrupted {
  trialId: string;
  status: 'interrupted';
}

export type TrialOutcome = TrialResult | TrialInterrupted;

/**
 * Where trials run: child processes on this machine, workers behind a queue, or this process. It
 * takes a serializable spec and a channel, and resolves when the trial ends. A trial that crashes
 * or diverges resolves with status `failed` and its error; a rejection is recorded the same way.
 */
export interface Executor {
  submit(spec: TrialSpec, channel: TrialChannel): Promise<TrialOutcome>;
}

export type SweepEvent =
  | { type: 'started'; spec: TrialSpec; resume: boolean }
  | { type: 'intermediate'; trialId: string; epoch: number; verdict: PruneVerdict }
  | { type: 'finished'; record: TrialRecord }
  | { type: 'interrupted'; trialId: string };

export interface DriveOptions {
  /** Aborting it cancels every running trial and ends the sweep as interrupted. */
  signal?: AbortSignal;
  /** Every start, epoch report and end, for live tables and logs. */
  onEvent?: (event: SweepEvent) => void;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs a sweep to its end on an executor: starts every trial the state offers, up to `parallel` at
 * once, waits when the next trial needs results it is defined to see, passes epoch reports and
 * prune decisions between the trials and the state, and records each end. The proposals and the
 * decisions come from the state alone, so the executor's timing never changes them.
 */
export async function driveSweep(state: SweepState, executor: Executor, options: DriveOptions = {}): Promise<{ status: 'completed' | 'interrupted'; summary: SweepSummary }> {
  const { signal, onEvent } = options;
  const emit = (event: SweepEvent) => onEvent?.(event);
  const running = new Map<string, Promise<void>>();
  const controllers = new Map<string, AbortController>();
  let aborting = false;

  const settle = (spec: TrialSpec, outcome: TrialOutcome) => {
    running.delete(spec.trialId);
    controllers.delete(spec.trialId);
    if (outcome.status === 'interrupted') {
      state.interrupt(spec.trialId);
      emit({ type: 'interrupted', trialId: spec.trialId });
      return;
    }
    emit({ type: 'finished', record: state.tell({ ...outcome, trialId: spec.trialId }) });
  };

  const start = (spec: TrialSpec, resume: boolean) => {
    const controller = new AbortController();
    controllers.set(spec.trialId, controller);
    const channel: TrialChannel = {
      resume,
      signal: controller.signal,
      report: (epoch, metrics) => {
        const verdict = state.report(spec.trialId, epoch, metrics);
        emit({ type: 'intermediate', trialId: spec.trialId, epoch, verdict });
        return verdict;
      },
    };
    emit({ type: 'started', spec, resume });
    const done = Promise.resolve()
      .then(() => executor.submit(spec, channel))
      .then(
        (outcome) => settle(spec, outcome),
        (error: unknown) =>
          settle(spec, aborting ? { trialId: spec.trialId, status: 'interrupted' } : { trialId: spec.trialId, status: 'failed', metrics: {}, intermediate: [], error: errorMessage(error) }),
      );
    running.set(spec.trialId, done);
  };

  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted === true) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });

  for (;;) {
    if (signal?.aborted === true) break;
    let step = state.ask();
    while (step.type === 'trial') {
      start(step.spec, step.resume);
      step = state.ask();
    }
    if (step.type === 'done') break;
    if (running.size === 0) throw new Error(`sweep ${state.sweepId} waits for ${step.waitingFor.join(', ')}, but no trial is running`);
    await Promise.race([...running.values(), aborted]);
  }

  if (signal?.aborted === true) {
    aborting = true;
    for (const controller of controllers.values()) controller.abort();
    await Promise.allSettled([...running.values()]);
    return { status: 'interrupted', summary: state.summary() };
  }
  return { status: 'completed', summary: state.summary() };
}

/** A trial run as a function in this process: it reports epochs through `report` and returns the final metrics. */
export type TrialFunction = (spec: TrialSpec, context: TrialChannel) => Promise<Record<string, number>>;

/**
 * An executor that runs each trial as an async function in this process (tests, benchmarks on
 * analytic objectives, a browser). A trial stops when `report` says prune; a thrown error fails it.
 */
export function createInProcessExecutor(run: TrialFunction): Executor {
  return {
    async submit(spec, channel) {
      let prunedAt: number | undefined;
      const context: TrialChannel = {
        resume: channel.resume,
        signal: channel.signal,
        report(epoch, metrics) {
          const verdict = channel.report(epoch, metrics);
          if (verdict.prune) prunedAt ??= epoch;
          return verdict;
        },
      };
      try {
        const metrics = await run(spec, context);
        if (prunedAt !== undefined) return { trialId: spec.trialId, status: 'pruned', metrics, intermediate: [], epoch: prunedAt };
        if (channel.signal.aborted) return { trialId: spec.trialId, status: 'interrupted' };
        return { trialId: spec.trialId, status: 'completed', metrics, intermediate: [] };
      } catch (error) {
        if (channel.signal.aborted) return { trialId: spec.trialId, status: 'interrupted' };
        return { trialId: spec.trialId, status: 'failed', metrics: {}, intermediate: [], error: errorMessage(error) };
      }
    },
  };
}
