import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@dlexp/core';
import type { ResolvedSweepConfig } from './config';
import { driveSweep, type Executor, type SweepEvent } from './executor';
import { fingerprint, type PlainValue } from './plain';
import type { SamplerRegistry } from './samplers';
import {
  bestEntry,
  configurationEntries,
  inspectSweepFolder,
  recordedTrials,
  trialEntry,
  trialEpochs,
  writeSweepSummary,
  type SweepIdentity,
  type SweepSummaryFile,
} from './sweep-folder';
import { createSweepState, replaySweep, sweepFingerprint, type SweepState, type SweepStateOptions, type SweepSummary } from './sweep-state';

export interface SweepRunOptions {
  /** The experiment's name (summary.json's `name`). */
  name: string;
  config: ResolvedSweepConfig;
  /** The `sweep:` block as written, recorded in summary.json. */
  written: PlainValue;
  /** The config hash of the experiment the sweep varies, without its `sweep:` block. */
  experimentHash: string;
  /** Repeat r runs with this seed + r; it seeds the sampler unless the block sets `seed`. */
  experimentSeed: number;
  /** The sweep's folder: new or empty, or holding an earlier run of this same sweep (resumed). */
  out: string;
  /** `parallel` when neither the block nor the folder's records give it (the host's choice). */
  defaultParallel(): number | Promise<number>;
  /** Builds each trial's resolved experiment (see SweepStateOptions). */
  resolveTrial?: SweepStateOptions['resolveTrial'];
  /** The experiment as plain data, for the default resolver. */
  experiment?: PlainValue;
  /**
   * Where trials run, given the parallel the sweep runs with and which run of the sweep this is
   * (its id, and when its folder was started: the same when the folder is resumed).
   */
  executor(parallel: number, run: SweepRunKey): Executor;
  /** Aborting it stops every running trial (each saves a checkpoint) and ends the sweep interrupted. */
  signal?: AbortSignal;
  /** Every start, epoch report and end, after summary.json has recorded it. */
  onEvent?(event: SweepEvent, state: SweepState): void;
  samplers?: SamplerRegistry;
  now?: () => Date;
}

/** One run of a sweep into one folder: a queue keys its jobs by it, so a restarted coordinator finds them. */
export interface SweepRunKey {
  sweepId: string;
  /** When the folder's run started (ISO 8601), kept when it is resumed. */
  startedAt: string;
  /** The folder held an earlier run of this sweep. */
  resumed: boolean;
}

export interface SweepRunResult {
  status: 'completed' | 'interrupted';
  /** The folder held an earlier run of this sweep, which was continued. */
  resumed: boolean;
  parallel: number;
  state: SweepState;
  summary: SweepSummary;
  /** summary.json as written last. */
  file: SweepSummaryFile;
}

/** What identifies a sweep: its block, sampler seed and parallel, and the experiment it varies. */
export function sweepIdentity(config: ResolvedSweepConfig, run: { parallel: number; seed: number }, experimentHash: string): SweepIdentity {
  const sweep = sweepFingerprint(config, run);
  return { id: `sweep-${fingerprint({ sweep, experiment: experimentHash })}`, sweep, experiment: experimentHash };
}

/**
 * Runs a sweep into its folder: `trials/<trial-id>/` per trial and `summary.json`, rewritten after
 * every event so the sweep can be resumed from it whenever it stops (Ctrl-C, a killed process).
 * Given the folder of an earlier run of the same sweep, it replays the recorded trials (finished
 * ones are not run again; unfinished ones resume from their checkpoints) and goes on; a folder
 * holding anything else, or another sweep, is a ConfigError. `parallel` is part of a sweep's
 * identity, so a folder's recorded value is reused when the block does not set one.
 */
export async function runSweep(options: SweepRunOptions): Promise<SweepRunResult> {
  const { config, out } = options;
  const now = options.now ?? (() => new Date());
  const folder = inspectSweepFolder(out);
  const recorded = folder.kind === 'sweep' ? folder.summary : undefined;
  const seed = config.seed ?? options.experimentSeed;
  if (recorded !== undefined && config.parallel !== undefined && recorded.sweep.parallel !== config.parallel) {
    throw new ConfigError(
      `--out ${out} holds this sweep run with parallel ${recorded.sweep.parallel}, not ${config.parallel}: parallel decides which results each trial is proposed from, so it is another sweep; resume with parallel ${recorded.sweep.parallel} or give a new folder`,
    );
  }
  const parallel = config.parallel ?? recorded?.sweep.parallel ?? (await options.defaultParallel());
  const identity = sweepIdentity(config, { parallel, seed }, options.experimentHash);
  if (recorded !== undefined && recorded.sweep.id !== identity.id) {
    const what =
      recorded.sweep.identity.experiment !== identity.experiment
        ? 'the experiment has changed since it started (its config hash differs)'
        : 'its sweep block differs (method, parameters, metric, goal, seed, maxTrials, repeats or early termination)';
    throw new ConfigError(`--out ${out} holds another sweep (${recorded.sweep.id}, this one is ${identity.id}): ${what}; give a new folder, or restore the experiment to resume it`);
  }

  const stateOptions: SweepStateOptions = {
    sweepId: identity.id,
    experimentSeed: options.experimentSeed,
    parallel,
    ...(options.samplers !== undefined ? { samplers: options.samplers } : {}),
    ...(options.resolveTrial !== undefined ? { resolveTrial: options.resolveTrial } : {}),
    ...(options.experiment !== undefined ? { experiment: options.experiment } : {}),
  };
  const state = recorded !== undefined ? replaySweep(config, stateOptions, recordedTrials(recorded)) : createSweepState(config, stateOptions);
  mkdirSync(join(out, 'trials'), { recursive: true });

  const startedAt = recorded?.timing.startedAt ?? now().toISOString();
  const elapsedBefore = recorded?.timing.elapsedMs ?? 0;
  const began = Date.now();
  const document = (status: SweepSummaryFile['status']): SweepSummaryFile => {
    const summary = state.summary();
    const trials = state.records().map(trialEntry);
    return {
      name: options.name,
      status,
      sweep: {
        id: identity.id,
        identity,
        method: config.method,
        metric: config.metric,
        goal: config.goal,
        parameters: options.written !== null && typeof options.written === 'object' && !Array.isArray(options.written) ? (options.written['parameters'] ?? null) : null,
        maxTrials: config.maxTrials ?? null,
        seed,
        parallel,
        repeats: config.repeats,
        earlyTermination: config.earlyTermination ?? null,
        totalTrials: state.totalTrials,
      },
      trials,
      configurations: configurationEntries(summary),
      ranking: summary.ranking,
      best: bestEntry(summary.best),
      epochs: trials.reduce((sum, t) => sum + trialEpochs(t), 0),
      timing: { startedAt, updatedAt: now().toISOString(), elapsedMs: elapsedBefore + (Date.now() - began) },
    };
  };
  writeSweepSummary(out, document('running'));
  const { status, summary } = await driveSweep(state, options.executor(parallel, { sweepId: identity.id, startedAt, resumed: recorded !== undefined }), {
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    onEvent: (event) => {
      writeSweepSummary(out, document('running'));
      options.onEvent?.(event, state);
    },
  });
  const file = document(status);
  writeSweepSummary(out, file);
  return { status, resumed: recorded !== undefined, parallel, state, summary, file };
}
