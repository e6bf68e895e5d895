import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedExperiment } from '@dlexp/config';
import { configHash, openExperiment, runExperiment, type Invocation, type OpenOptions, type Registries, type RunOptions, type RunSink } from '@dlexp/train';
import type { ParameterValues } from './parameters';
import type { TrialHooks } from './trial-process';
import type { TrialOutcome } from './executor';
import { readMetricRows } from './sweep-folder';
import type { TrialResult, TrialRunInfo, TrialSpec } from './trials';

/** What a host hands every trial of a sweep (as the request's `context`): plain data only. */
export interface TrialHostContext {
  /** The experiment file, absolute. */
  file: string;
  /** How the sweep opened it (--set, --quick, --seed, --backend, --threads, plugins). */
  open: Omit<OpenOptions, 'trial'>;
  /** What the sweep was started with; each trial's invocation.json adds its own values. */
  invocation: Omit<Invocation, 'configHash' | 'trial'>;
  /** Where `runs/` would go (unused: trials always have a folder). */
  root: string;
  /** The command line, noted at the top of each trial's config.resolved.yaml. */
  argv: string[];
}

export interface RunTrialOptions {
  registries: Registries;
  context: TrialHostContext;
  /** Where the trial reports besides its folder: the console, TensorBoard with its values, plots. */
  sinksFor?(trial: LoadedExperiment, values: ParameterValues): RunSink[];
  versions?: Record<string, string>;
  backendOptions?: RunOptions['backendOptions'];
  /**
   * Opens the trial's experiment instead of loading the host's file with the trial's values: for
   * a worker that has only the spec (its resolved experiment). The opener checks that what it
   * opened is the experiment the spec describes; a ConfigError or DataError it throws fails the trial.
   */
  openTrial?(spec: TrialSpec): Promise<LoadedExperiment>;
}

/** Keys of a logged row that are not results: where and when it was logged, and the rate used. */
const NOT_RESULTS = new Set(['step', 'epoch', 'timeMs', 'learningRate']);

function resultsOf(row: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(row).filter(([key]) => !NOT_RESULTS.has(key)));
}

/** The overrides that make a trial of the experiment: its values by path and its seed. */
export function trialOverrides(spec: { parameters: Record<string, unknown>; seed: number }): Record<string, unknown> {
  return { ...spec.parameters, seed: spec.seed };
}

/**
 * Runs one trial as a normal run in its own folder: loads the experiment with the trial's values
 * and seed (refusing it if the file changed since the sweep proposed it), reports the metrics of
 * every epoch end to the coordinator and waits for its verdict, and stops, with a checkpoint, when
 * told to prune. A pruned trial keeps the metrics of its last epoch; a failed run keeps its error.
 */
export async function runTrial(hooks: TrialHooks, options: RunTrialOptions): Promise<TrialOutcome> {
  const { spec, runDirectory } = hooks.request;
  const { context } = options;
  const began = performance.now();
  const failed = (error: string): TrialResult => ({ trialId: spec.trialId, status: 'failed', metrics: {}, intermediate: [], error });

  let trial: LoadedExperiment;
  try {
    trial = options.openTrial !== undefined ? await options.openTrial(spec) : await openExperiment(context.file, options.registries, { ...context.open, trial: trialOverrides(spec) });
  } catch (error) {
    return failed((error as Error).message);
  }
  if (options.openTrial === undefined && spec.configHash !== undefined && configHash(trial.resolved) !== spec.configHash) {
    return failed(`${context.open.displayName ?? context.file} has changed since the sweep proposed ${spec.trialId} (its config hash differs); restore the file or start the sweep in a new folder`);
  }

  // --- Epoch ends go to the coordinator; its verdict may stop the run (with a checkpoint).
  const pruning = new AbortController();
  const signal = AbortSignal.any([hooks.signal, pruning.signal]);
  const epochBased = trial.resolved.train.epochs !== undefined;
  let stepsPerEpoch: number | undefined;
  let setupMs: number | undefined;
  let lastEpoch = 0;
  let lastResults: Record<string, number> = {};
  let prunedAt: number | undefined;
  const reportEpochEnd = async (row: Record<string, number>): Promise<void> => {
    const step = row['step'];
    const epoch = row['epoch'];
    if (!epochBased || stepsPerEpoch === undefined || step === undefined || epoch === undefined) return;
    if (step % stepsPerEpoch !== 0 || !Number.isInteger(epoch) || epoch <= lastEpoch || prunedAt !== undefined) return;
    lastEpoch = epoch;
    lastResults = resultsOf(row);
    const verdict = await hooks.report(epoch, lastResults);
    if (verdict.prune) {
      prunedAt = epoch;
      hooks.log(`${spec.trialId}: stopped by the sweep at epoch ${epoch}: ${verdict.reason}`);
      pruning.abort();
    }
  };
  const coordinator: RunSink = {
    start: async (run) => {
      setupMs = performance.now() - began;
      stepsPerEpoch = run.stepsPerEpoch;
      // A resumed trial reports again the epoch ends it logged before its checkpoint: a coordinator
      // that was killed may have missed some of them, and merging a value twice changes nothing.
      if (run.loggedRows > 0) {
        for (const row of readMetricRows(join(run.runDirectory, 'metrics.jsonl')).slice(0, run.loggedRows)) await reportEpochEnd(row);
      }
    },
    row: reportEpochEnd,
  };

  const resume = hooks.request.resume && existsSync(runDirectory) && readdirSync(runDirectory).length > 0;
  let outcome;
  try {
    outcome = await runExperiment(trial, options.registries, {
      ...(resume ? { resume: runDirectory } : { out: runDirectory }),
      root: context.root,
      argv: context.argv,
      invocation: { ...context.invocation, trial: trialOverrides(spec) },
      sinks: [...(options.sinksFor?.(trial, spec.values) ?? []), coordinator],
      signal,
      ...(options.versions !== undefined ? { versions: options.versions } : {}),
      ...(options.backendOptions !== undefined ? { backendOptions: options.backendOptions } : {}),
    });
  } catch (error) {
    if (hooks.signal.aborted) return { trialId: spec.trialId, status: 'interrupted' };
    return failed((error as Error).message);
  }

  const { summary } = outcome;
  const timing: Record<string, number> = { total: Math.round(performance.now() - began) };
  if (setupMs !== undefined) timing['setup'] = Math.round(setupMs);
  if (typeof summary.timing['trainMs'] === 'number') timing['train'] = summary.timing['trainMs'];
  const run: TrialRunInfo = { timing };
  if (typeof summary.timing['epochs'] === 'number') run.epochs = summary.timing['epochs'];
  if (typeof summary.timing['steps'] === 'number') run.steps = summary.timing['steps'];

  if (prunedAt !== undefined && outcome.status !== 'failed') {
    return { trialId: spec.trialId, status: 'pruned', metrics: lastResults, intermediate: [], epoch: prunedAt, run: { ...run, epochs: prunedAt } };
  }
  if (outcome.status === 'interrupted') return { trialId: spec.trialId, status: 'interrupted' };
  if (outcome.status === 'failed') return { ...failed(summary.error ?? 'the run failed'), run };
  run.expectationsMet = outcome.expectations.every((e) => e.met);
  if (summary.stopped !== undefined) run.stopped = { reason: summary.stopped.reason, step: summary.stopped.step };
  return { trialId: spec.trialId, status: 'completed', metrics: outcome.metrics, intermediate: [], run };
}
