import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@dlexp/core';
import {
  differingKeys,
  flattenConfig,
  listRuns,
  orderMetrics,
  readMetricsRows,
  readPredictions,
  readResolvedConfig,
  readSummary,
  readSweep,
  uniqueLabels,
  RUN_FILES,
  type SweepTrial,
} from '@dlexp/plots';
import type { ComparedRunEntry, ComparisonResponse, RunDetail, RunListEntry, SweepDetail, SweepTrialEntry } from './api';
import type { Logdir } from './logdir';
import { readRowsFrom } from './metrics-file';
import { readModelSummary } from './model-summary';

/** Every run and sweep under the log folder (plots' listRuns), with paths relative to it. */
export function listLogdir(logdir: Logdir): RunListEntry[] {
  return listRuns(logdir.root).map((run) => ({
    path: logdir.relativeOf(run.path),
    kind: run.kind,
    name: run.name,
    status: run.status,
    ...(run.seed !== undefined ? { seed: run.seed } : {}),
    ...(run.backend !== undefined ? { backend: run.backend } : {}),
    startedAt: run.startedAt,
    metrics: run.metrics,
    keyMetrics: run.keyMetrics,
    ...(run.sweep !== undefined ? { sweep: logdir.relativeOf(run.sweep) } : {}),
    ...(run.trials !== undefined ? { trials: run.trials } : {}),
    ...(run.problem !== undefined ? { problem: run.problem } : {}),
  }));
}

/** Whether `dir` is a trial of a sweep (`<sweep>/trials/<id>/`), and that sweep's folder. */
function sweepOfTrial(dir: string): string | undefined {
  const match = /^(.*)[/\\]trials[/\\][^/\\]+$/.exec(dir);
  if (match === null) return undefined;
  const sweepDir = match[1]!;
  return existsSync(join(sweepDir, RUN_FILES.summary)) || existsSync(join(sweepDir, 'trials')) ? sweepDir : undefined;
}

/** A run folder as the run page shows it. Files that cannot be read are named in `problems`. */
export function readRunDetail(logdir: Logdir, dir: string): RunDetail {
  const file = (name: string) => join(dir, name);
  const problems: string[] = [];
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      problems.push(error.message);
      return undefined;
    }
  };
  const sweepDir = sweepOfTrial(dir);
  const summary = existsSync(file(RUN_FILES.summary)) ? attempt(() => readSummary(file(RUN_FILES.summary))) : undefined;
  const resolved = existsSync(file(RUN_FILES.config)) ? attempt(() => readResolvedConfig(file(RUN_FILES.config))) : undefined;
  const { rows, offset } = readRowsFrom(file(RUN_FILES.metrics), 0);
  const predictions = existsSync(file(RUN_FILES.predictions)) ? attempt(() => readPredictions(file(RUN_FILES.predictions))) : undefined;
  const invocation = readInvocation(file(RUN_FILES.invocation));
  const model = readModelSummary(dir);
  const configName = typeof resolved?.config['name'] === 'string' ? resolved.config['name'] : '';
  const detail: RunDetail = {
    path: logdir.relativeOf(dir),
    kind: sweepDir === undefined ? 'run' : 'trial',
    name: summary?.name !== undefined && summary.name !== '' ? summary.name : configName,
    status: summary?.status ?? (existsSync(file(RUN_FILES.summary)) ? 'unreadable' : 'running'),
    metrics: summary?.metrics ?? {},
    expectations: summary?.expectations ?? [],
    rows,
    metricsOffset: offset,
    problems,
  };
  if (sweepDir !== undefined) detail.sweep = logdir.relativeOf(sweepDir);
  if (summary !== undefined) {
    detail.summary = summary.raw;
    if (summary.seed !== undefined) detail.seed = summary.seed;
    if (summary.backend !== undefined) detail.backend = summary.backend.name;
    if (summary.startedAt !== undefined) detail.startedAt = summary.startedAt;
    if (summary.error !== undefined) detail.error = summary.error;
  } else if (typeof resolved?.config['seed'] === 'number') {
    detail.seed = resolved.config['seed'];
  }
  if (resolved !== undefined) {
    detail.configText = resolved.text;
    detail.config = resolved.config;
  }
  if (predictions !== undefined) detail.predictions = predictions;
  if (model !== undefined) detail.model = model;
  if (invocation !== undefined) detail.invocation = invocation;
  return detail;
}

/** invocation.json, when it is there and holds an object (the run page only shows it). */
function readInvocation(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function rowsOf(dir: string | undefined, problems: string[]): ReturnType<typeof readMetricsRows> {
  if (dir === undefined || !existsSync(join(dir, RUN_FILES.metrics))) return [];
  try {
    return readMetricsRows(join(dir, RUN_FILES.metrics));
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    problems.push(error.message);
    return [];
  }
}

function trialEntry(logdir: Logdir, trial: SweepTrial): SweepTrialEntry {
  const inside = (dir: string | undefined) => {
    if (dir === undefined || !existsSync(dir)) return undefined;
    const relative = logdir.relativeOf(dir);
    return relative.startsWith('..') ? undefined : relative;
  };
  const path = inside(trial.runDirectory);
  const entry: SweepTrialEntry = {
    id: trial.id,
    parameters: trial.parameters,
    status: trial.status,
    metrics: trial.metrics,
    repeats: trial.repeats.map((r) => {
      const repeatPath = inside(r.runDirectory);
      return { metrics: r.metrics, ...(r.seed !== undefined ? { seed: r.seed } : {}), ...(r.status !== undefined ? { status: r.status } : {}), ...(repeatPath !== undefined ? { path: repeatPath } : {}) };
    }),
  };
  if (path !== undefined) entry.path = path;
  if (trial.expectationsMet !== undefined) entry.expectationsMet = trial.expectationsMet;
  for (const key of ['seed', 'repeat', 'configuration'] as const) if (trial[key] !== undefined) entry[key] = trial[key];
  return entry;
}

/** A sweep folder as the sweep page shows it: its trials and the rows each trial logged. */
export function readSweepDetail(logdir: Logdir, dir: string): SweepDetail {
  const sweep = readSweep(dir);
  const problems: string[] = [];
  const trialRows: SweepDetail['trialRows'] = {};
  for (const trial of sweep.trials) {
    const rows = rowsOf(existsSync(trial.runDirectory) ? trial.runDirectory : undefined, problems);
    if (rows.length > 0) trialRows[trial.id] = rows;
  }
  const detail: SweepDetail = {
    path: logdir.relativeOf(sweep.dir),
    name: sweep.name,
    status: sweep.status,
    parameterNames: sweep.parameterNames,
    trials: sweep.trials.map((t) => trialEntry(logdir, t)),
    bestIds: sweep.bestIds,
    configurations: sweep.configurations,
    trialRows,
    problems,
  };
  if (sweep.method !== undefined) detail.method = sweep.method;
  if (sweep.metric !== undefined) detail.metric = sweep.metric;
  if (sweep.goal !== undefined) detail.goal = sweep.goal;
  if (sweep.bestId !== undefined) detail.bestId = sweep.bestId;
  return detail;
}

/**
 * Runs side by side (as plots' compareRuns, without drawing): a sweep counts as each of its
 * trials; the config keys that differ, the final metrics and each run's rows for the curves.
 */
export function compareFolders(logdir: Logdir, folders: { dir: string; kind: 'run' | 'sweep' }[]): ComparisonResponse {
  const loaded: Omit<ComparedRunEntry, 'label'>[] = [];
  for (const folder of folders) {
    if (folder.kind === 'run') {
      const run = readRunDetail(logdir, folder.dir);
      loaded.push(comparedOf(run));
      continue;
    }
    const sweep = readSweep(folder.dir);
    for (const trial of sweep.trials) {
      const hasFolder = existsSync(trial.runDirectory) && logdir.relativeOf(trial.runDirectory).startsWith('..') === false;
      const base: Omit<ComparedRunEntry, 'label'> = hasFolder
        ? comparedOf(readRunDetail(logdir, trial.runDirectory))
        : { path: logdir.relativeOf(trial.runDirectory), kind: 'trial', name: sweep.name, status: trial.status, config: { ...trial.parameters }, metrics: trial.metrics, rows: [] };
      base.kind = 'trial';
      base.status = trial.status;
      base.sweep = { path: logdir.relativeOf(sweep.dir), trial: trial.id };
      if (trial.expectationsMet !== undefined) base.expectationsMet = trial.expectationsMet;
      loaded.push(base);
    }
  }
  const seen = new Set<string>();
  const unique = loaded.filter((run) => (seen.has(run.path) ? false : (seen.add(run.path), true)));
  const labels = uniqueLabels(unique.map((run) => join(logdir.root, run.path)));
  const runs = unique.map((run, index) => ({ label: labels[index]!, ...run }));
  return {
    runs,
    differingKeys: differingKeys(runs.map((r) => r.config)),
    metricKeys: orderMetrics(runs.flatMap((r) => Object.keys(r.metrics))),
  };
}

function comparedOf(run: RunDetail): Omit<ComparedRunEntry, 'label'> {
  const entry: Omit<ComparedRunEntry, 'label'> = {
    path: run.path,
    kind: run.kind,
    name: run.name,
    status: run.status,
    config: flattenConfig(run.config ?? {}),
    metrics: run.metrics,
    rows: run.rows,
  };
  if (run.seed !== undefined) entry.seed = run.seed;
  if (run.expectations.length > 0) entry.expectationsMet = run.expectations.every((e) => e.met);
  return entry;
}
