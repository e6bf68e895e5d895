import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, isPlainObject } from '@dlexp/core';
import { writeFileAtomic } from '@dlexp/train';
import type { Goal, ResolvedEarlyTermination } from './config';
import type { ParameterValues } from './parameters';
import type { PlainValue } from './plain';
import type { EpochValue } from './pruners';
import type { ConfigurationSummary, MetricSummary, SweepSummary } from './sweep-state';
import type { RecordedTrial, TrialRecord, TrialResult, TrialRunInfo } from './trials';

/*
 * A sweep's folder: `trials/<trial-id>/` (each a normal run folder) and `summary.json`, rewritten
 * atomically after every start, epoch report and end, so that a sweep killed at any moment can be
 * replayed from it. Its `sweep.id` says which sweep wrote it (see `sweepIdentity`).
 */

export const SWEEP_SUMMARY = 'summary.json';

/** A trial as summary.json records it. */
export interface TrialEntry {
  id: string;
  index: number;
  configuration: number;
  repeat: number;
  seed: number;
  /** By parameter name. */
  values: ParameterValues;
  /** The same by experiment path (each parameter at each of its paths). */
  parameters: Record<string, PlainValue>;
  /** running and pending: started (or proposed) but not finished; resumed by the next run. */
  status: TrialRecord['status'];
  metrics: Record<string, number | null>;
  /** The sweep metric at each epoch end (null for a value that was not finite). */
  intermediate: { epoch: number; value: number | null }[];
  /** pruned: the epoch at which it was stopped; otherwise the last epoch reached. */
  epoch?: number;
  error?: string;
  /** Relative to the sweep folder. */
  runDirectory: string;
  configHash?: string;
  expectationsMet?: boolean;
  /** Epochs trained (what the trial cost). */
  epochs?: number;
  steps?: number;
  stopped?: { reason: string; step: number };
  timing?: Record<string, number>;
  /** Times the trial was started, for a trial run through a queue (more than 1 after retries). */
  attempts?: number;
}

/** What identifies a sweep: two runs with the same identity propose the same trials. */
export interface SweepIdentity {
  id: string;
  /** The fingerprint of the resolved sweep block with the sampler seed and parallel. */
  sweep: string;
  /** The config hash of the experiment the sweep varies (its `sweep:` block left out). */
  experiment: string;
}

export interface SweepSummaryFile {
  name: string;
  status: 'running' | 'completed' | 'interrupted';
  sweep: {
    id: string;
    identity: SweepIdentity;
    method: string;
    metric: string;
    goal: Goal;
    /** As written in the experiment. */
    parameters: PlainValue;
    maxTrials: number | null;
    /** The sampler's seed (the block's, else the experiment's). */
    seed: number;
    /** The parallel the sweep runs with: part of its identity, reused on resume. */
    parallel: number;
    repeats: number;
    earlyTermination: ResolvedEarlyTermination | null;
    totalTrials: number;
  };
  trials: TrialEntry[];
  configurations: (Omit<ConfigurationSummary, 'metric' | 'metrics'> & { metric: JsonMetric; metrics: Record<string, JsonMetric> })[];
  /** Configuration indices, best first. */
  ranking: number[];
  best: BestEntry | null;
  /** Epochs trained by every trial together (a pruned trial counts up to its stop). */
  epochs: number;
  timing: { startedAt: string; updatedAt: string; elapsedMs: number };
}

interface JsonMetric {
  mean: number | null;
  std: number | null;
  count: number;
}

export interface BestEntry {
  configuration: number;
  /** The first trial of the best configuration (with repeats, `trialIds` lists them all). */
  id: string;
  trialIds: string[];
  values: ParameterValues;
  parameters: Record<string, PlainValue>;
  metric: JsonMetric;
  /** Every final metric of the configuration, the mean over its repeats. */
  metrics: Record<string, number | null>;
}

const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);
const jsonMetric = (m: MetricSummary): JsonMetric => ({ mean: finiteOrNull(m.mean), std: finiteOrNull(m.std), count: m.count });
const numberOrNaN = (value: unknown): number => (typeof value === 'number' ? value : NaN);

/** One recorded trial from the sweep state. */
export function trialEntry(record: TrialRecord): TrialEntry {
  const { spec, result } = record;
  const entry: TrialEntry = {
    id: spec.trialId,
    index: spec.index,
    configuration: spec.configuration,
    repeat: spec.repeat,
    seed: spec.seed,
    values: spec.values,
    parameters: spec.parameters,
    status: record.status,
    metrics: Object.fromEntries(Object.entries(result?.metrics ?? {}).map(([k, v]) => [k, finiteOrNull(v)])),
    intermediate: record.intermediate.map((v) => ({ epoch: v.epoch, value: finiteOrNull(v.value) })),
    runDirectory: join('trials', spec.trialId),
  };
  const epoch = result?.epoch ?? record.prunedAt;
  if (epoch !== undefined) entry.epoch = epoch;
  if (result?.error !== undefined) entry.error = result.error;
  if (spec.configHash !== undefined) entry.configHash = spec.configHash;
  const run = result?.run;
  if (run?.expectationsMet !== undefined) entry.expectationsMet = run.expectationsMet;
  if (run?.epochs !== undefined) entry.epochs = run.epochs;
  if (run?.steps !== undefined) entry.steps = run.steps;
  if (run?.stopped !== undefined) entry.stopped = run.stopped;
  if (run?.timing !== undefined) entry.timing = run.timing;
  if (run?.attempts !== undefined) entry.attempts = run.attempts;
  return entry;
}

/** The best configuration as summary.json records it. */
export function bestEntry(best: ConfigurationSummary | undefined): BestEntry | null {
  if (best === undefined) return null;
  return {
    configuration: best.configuration,
    id: best.trialIds[0]!,
    trialIds: best.trialIds,
    values: best.values,
    parameters: best.parameters,
    metric: jsonMetric(best.metric),
    metrics: Object.fromEntries(Object.entries(best.metrics).map(([k, m]) => [k, finiteOrNull(m.mean)])),
  };
}

export function configurationEntries(summary: SweepSummary): SweepSummaryFile['configurations'] {
  return summary.configurations.map((c) => ({
    ...c,
    metric: jsonMetric(c.metric),
    metrics: Object.fromEntries(Object.entries(c.metrics).map(([k, m]) => [k, jsonMetric(m)])),
  }));
}

/** Epochs a trial trained: up to its stop when pruned, its run's count when it reported one. */
export function trialEpochs(entry: Pick<TrialEntry, 'status' | 'epoch' | 'epochs' | 'intermediate'>): number {
  if (entry.status === 'pruned' && entry.epoch !== undefined) return entry.epoch;
  if (entry.epochs !== undefined) return entry.epochs;
  return entry.intermediate.reduce((m, v) => Math.max(m, v.epoch), 0);
}

/** What a folder given as a sweep's `--out` holds. */
export type SweepFolderState = { kind: 'new' } | { kind: 'sweep'; summary: SweepSummaryFile };

function isSweepSummaryFile(value: unknown): value is SweepSummaryFile {
  if (!isPlainObject(value) || !Array.isArray(value['trials']) || !isPlainObject(value['sweep'])) return false;
  const sweep = value['sweep'];
  return typeof sweep['id'] === 'string' && isPlainObject(sweep['identity']) && typeof sweep['parallel'] === 'number';
}

/**
 * New (missing or empty), or a sweep this library wrote (its summary.json names the sweep); any
 * other content is a ConfigError: a folder holding something else is never written into.
 */
export function inspectSweepFolder(out: string): SweepFolderState {
  if (!existsSync(out)) return { kind: 'new' };
  const entries = readdirSync(out);
  if (entries.length === 0) return { kind: 'new' };
  const file = join(out, SWEEP_SUMMARY);
  const notASweep = (why: string) =>
    new ConfigError(`--out ${out}: the folder is not empty and ${why}; give a new or empty folder (or the folder of an interrupted run of this sweep, to resume it)`);
  if (!existsSync(file)) throw notASweep(`holds no sweep (no ${SWEEP_SUMMARY}; it has ${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', …' : ''})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw notASweep(`its ${SWEEP_SUMMARY} cannot be read (${(error as Error).message})`);
  }
  if (!isSweepSummaryFile(parsed)) throw notASweep(`its ${SWEEP_SUMMARY} is not a sweep's (a single run's, or an older sweep's)`);
  return { kind: 'sweep', summary: parsed };
}

/** The recorded trials of a summary, for `replaySweep`: finished ones with their results, the others to resume. */
export function recordedTrials(summary: SweepSummaryFile): RecordedTrial[] {
  return summary.trials.map((entry) => {
    const intermediate: EpochValue[] = entry.intermediate.map((v) => ({ epoch: v.epoch, value: numberOrNaN(v.value) }));
    const recorded: RecordedTrial = { index: entry.index, values: entry.values, seed: entry.seed };
    if (entry.status === 'completed' || entry.status === 'failed' || entry.status === 'pruned') {
      const run: TrialRunInfo = {};
      if (entry.expectationsMet !== undefined) run.expectationsMet = entry.expectationsMet;
      if (entry.epochs !== undefined) run.epochs = entry.epochs;
      if (entry.steps !== undefined) run.steps = entry.steps;
      if (entry.stopped !== undefined) run.stopped = entry.stopped;
      if (entry.timing !== undefined) run.timing = entry.timing;
      if (entry.attempts !== undefined) run.attempts = entry.attempts;
      const result: TrialResult = {
        trialId: entry.id,
        status: entry.status,
        metrics: Object.fromEntries(Object.entries(entry.metrics).map(([k, v]) => [k, numberOrNaN(v)])),
        intermediate,
        run,
      };
      if (entry.epoch !== undefined) result.epoch = entry.epoch;
      if (entry.error !== undefined) result.error = entry.error;
      recorded.result = result;
    } else recorded.intermediate = intermediate;
    return recorded;
  });
}

export function writeSweepSummary(out: string, summary: SweepSummaryFile): void {
  writeFileAtomic(join(out, SWEEP_SUMMARY), `${JSON.stringify(summary, null, 2)}\n`);
}

/**
 * The rows of a trial's metrics.jsonl (empty when it has none yet); a line that does not parse
 * (one being written) ends the reading there.
 */
export function readTrialRows(out: string, trialId: string): Record<string, number>[] {
  return readMetricRows(join(out, 'trials', trialId, 'metrics.jsonl'));
}

/** The rows of a metrics.jsonl, up to its first incomplete line (a run killed mid-write). */
export function readMetricRows(file: string): Record<string, number>[] {
  if (!existsSync(file)) return [];
  const rows: Record<string, number>[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as Record<string, number>);
    } catch {
      break;
    }
  }
  return rows;
}
