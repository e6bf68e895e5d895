import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { DataError } from '@dlexp/core';

/**
 * Readers for the files a run or a sweep leaves behind (README "What a run leaves behind"). They
 * read defensively: every field is checked before use, unknown fields are kept in `raw`, and a file
 * that cannot be read ends in a DataError naming the file and the line.
 */

export const RUN_FILES = {
  summary: 'summary.json',
  metrics: 'metrics.jsonl',
  config: 'config.resolved.yaml',
  predictions: 'predictions.csv',
  invocation: 'invocation.json',
} as const;

export interface ExpectationRecord {
  metric: string;
  min?: number;
  max?: number;
  actual?: number;
  met: boolean;
}

export interface RunSummary {
  name: string;
  status: string;
  seed?: number;
  backend?: { name: string } & Record<string, unknown>;
  /** Final metrics (`<split>.<metric>` and fetched values); only finite numbers are kept. */
  metrics: Record<string, number>;
  timing: Record<string, unknown>;
  /** ISO time the run started (summary.timing.startedAt). */
  startedAt?: string;
  configHash?: string;
  versions: Record<string, string>;
  expectations: ExpectationRecord[];
  error?: string;
  raw: Record<string, unknown>;
}

/** One row of metrics.jsonl: step, epoch, timeMs and every metric logged at that step. */
export type MetricsRow = Record<string, number>;

export interface PredictionsTable {
  columns: string[];
  rows: number[][];
}

export interface RunFolder {
  dir: string;
  /** Absent while the run is still going (summary.json is written last). */
  summary?: RunSummary;
  rows: MetricsRow[];
  /** config.resolved.yaml parsed, and its text as written. */
  config?: Record<string, unknown>;
  configText?: string;
  predictions?: PredictionsTable;
  /** Files that could not be read but need not stop a plot or a report (predictions.csv). */
  problems: string[];
}

export interface SweepRepeat {
  runDirectory?: string;
  seed?: number;
  status?: string;
  metrics: Record<string, number>;
}

export interface SweepTrial {
  id: string;
  /** The trial's hyperparameters by sweep parameter name (`parameters`, or `values` in newer sweeps). */
  parameters: Record<string, unknown>;
  status: string;
  metrics: Record<string, number>;
  expectationsMet?: boolean;
  /** Absolute path of the trial's run folder. */
  runDirectory: string;
  /** Repeated runs of the same parameters with other seeds, when the sweep recorded them inside the trial. */
  repeats: SweepRepeat[];
  /** When each repeat is a trial of its own: the trial's seed, repeat number and configuration index. */
  seed?: number;
  repeat?: number;
  configuration?: number;
}

/** A configuration (one set of values) of a sweep that runs each configuration several times. */
export interface SweepConfiguration {
  configuration: number;
  values: Record<string, unknown>;
  trialIds: string[];
  status: string;
  /** The sweep metric over the completed repeats. */
  metric?: { mean: number; std: number; count: number };
}

export interface SweepFolder {
  dir: string;
  name: string;
  status: string;
  method?: string;
  metric?: string;
  goal?: 'maximize' | 'minimize';
  parameterNames: string[];
  trials: SweepTrial[];
  /** The best trial: `best.id`, or the first trial of the best configuration. */
  bestId?: string;
  /** Every trial of the best configuration (just bestId without repeats). */
  bestIds: string[];
  /** Per configuration, with the metric's mean ± std, when the summary has them. */
  configurations: SweepConfiguration[];
  /** summary.json as read; absent for a sweep still running (then read from its trials' folders). */
  raw?: Record<string, unknown>;
}

export type FolderKind = 'run' | 'sweep';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numbersOf(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!isRecord(value)) return out;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'number') out[key] = entry;
  return out;
}

function stringsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string' || typeof entry === 'number') out[key] = String(entry);
  return out;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new DataError(`${file}: cannot be read: ${(error as Error).message}`);
  }
}

/** A JSON file that must hold an object; a syntax error names the file and the line and column. */
export function readJsonObject(file: string): Record<string, unknown> {
  const text = readText(file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError(`${file}${jsonErrorPosition(text, error as Error)}: not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(value)) throw new DataError(`${file}: expected a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`);
  return value;
}

/** `:line:col` from the offset in a JSON.parse message, when it gives one. */
function jsonErrorPosition(text: string, error: Error): string {
  const offset = /position (\d+)/.exec(error.message)?.[1];
  if (offset === undefined) return '';
  const before = text.slice(0, Number(offset));
  const line = before.split('\n').length;
  return `:${line}:${Number(offset) - before.lastIndexOf('\n')}`;
}

export function readSummary(file: string): RunSummary {
  const raw = readJsonObject(file);
  const timing = isRecord(raw['timing']) ? raw['timing'] : {};
  const backend = isRecord(raw['backend']) && typeof raw['backend']['name'] === 'string' ? (raw['backend'] as { name: string } & Record<string, unknown>) : undefined;
  const expectations: ExpectationRecord[] = [];
  if (Array.isArray(raw['expectations'])) {
    for (const entry of raw['expectations']) {
      if (!isRecord(entry) || typeof entry['metric'] !== 'string') continue;
      const record: ExpectationRecord = { metric: entry['metric'], met: entry['met'] === true };
      if (typeof entry['min'] === 'number') record.min = entry['min'];
      if (typeof entry['max'] === 'number') record.max = entry['max'];
      if (typeof entry['actual'] === 'number') record.actual = entry['actual'];
      expectations.push(record);
    }
  }
  const summary: RunSummary = {
    name: typeof raw['name'] === 'string' ? raw['name'] : '',
    status: typeof raw['status'] === 'string' ? raw['status'] : 'unknown',
    metrics: numbersOf(raw['metrics']),
    timing,
    versions: stringsOf(raw['versions']),
    expectations,
    raw,
  };
  if (typeof raw['seed'] === 'number') summary.seed = raw['seed'];
  if (backend !== undefined) summary.backend = backend;
  if (typeof timing['startedAt'] === 'string') summary.startedAt = timing['startedAt'];
  if (typeof raw['configHash'] === 'string') summary.configHash = raw['configHash'];
  if (typeof raw['error'] === 'string') summary.error = raw['error'];
  return summary;
}

/**
 * metrics.jsonl: one JSON object per line; only numeric fields are kept. A last line without its
 * newline that does not parse is what a killed run leaves, so it is skipped; any other bad line is
 * an error naming the file and line.
 */
export function readMetricsRows(file: string): MetricsRow[] {
  const text = readText(file);
  const lines = text.split('\n');
  const rows: MetricsRow[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      const isUnterminatedLast = index === lines.length - 1 && !text.endsWith('\n');
      if (isUnterminatedLast) continue;
      throw new DataError(`${file}:${index + 1}: not valid JSON: ${(error as Error).message}`);
    }
    if (!isRecord(value)) throw new DataError(`${file}:${index + 1}: expected a JSON object per line`);
    rows.push(numbersOf(value));
  }
  return rows;
}

/** config.resolved.yaml as an object; a YAML error names the file, line and column. */
export function readResolvedConfig(file: string): { config: Record<string, unknown>; text: string } {
  const text = readText(file);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const position = error.linePos?.[0];
      const where = position === undefined ? '' : `:${position.line}:${position.col}`;
      throw new DataError(`${file}${where}: not valid YAML: ${error.message.split('\n')[0]}`);
    }
    throw error;
  }
  if (!isRecord(value)) throw new DataError(`${file}: expected a YAML mapping (the resolved experiment)`);
  return { config: value, text };
}

/** predictions.csv: a header line of column names, then one line of numbers per example. */
export function readPredictions(file: string): PredictionsTable {
  const lines = readText(file).split('\n');
  const header = lines[0]?.trim() ?? '';
  if (header === '') throw new DataError(`${file}:1: expected a header line of column names`);
  const columns = header.split(',').map((c) => c.trim());
  const rows: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const cells = line.split(',');
    if (cells.length !== columns.length) throw new DataError(`${file}:${i + 1}: expected ${columns.length} values (${columns.join(', ')}), found ${cells.length}`);
    rows.push(
      cells.map((cell, c) => {
        const value = Number(cell);
        if (cell.trim() === '' || (Number.isNaN(value) && cell.trim() !== 'NaN')) {
          throw new DataError(`${file}:${i + 1}: column '${columns[c]}': '${cell}' is not a number`);
        }
        return value;
      }),
    );
  }
  return { columns, rows };
}

/** Whether a parsed summary.json is a sweep's (it lists trials) rather than a single run's. */
export function isSweepSummary(raw: Record<string, unknown>): boolean {
  return Array.isArray(raw['trials']) || isRecord(raw['sweep']);
}

function hasRunFiles(dir: string): boolean {
  return [RUN_FILES.summary, RUN_FILES.metrics, RUN_FILES.config].some((f) => existsSync(join(dir, f)));
}

/** A sweep still running has no summary.json yet, only `trials/<id>/` run folders. */
function trialFolders(dir: string): string[] {
  const trials = join(dir, 'trials');
  if (!isDirectory(trials)) return [];
  return readdirSync(trials, { withFileTypes: true })
    .filter((e) => e.isDirectory() && hasRunFiles(join(trials, e.name)))
    .map((e) => e.name)
    .sort();
}

/** What a folder holds: a single run, a sweep, or neither (undefined). */
export function folderKind(dir: string): FolderKind | undefined {
  if (!isDirectory(dir)) return undefined;
  const summaryFile = join(dir, RUN_FILES.summary);
  if (existsSync(summaryFile)) {
    try {
      return isSweepSummary(readJsonObject(summaryFile)) ? 'sweep' : 'run';
    } catch {
      return 'run';
    }
  }
  if (existsSync(join(dir, RUN_FILES.metrics)) || existsSync(join(dir, RUN_FILES.config))) return 'run';
  return trialFolders(dir).length > 0 ? 'sweep' : undefined;
}

function requireFolder(dir: string): string {
  const absolute = resolve(dir);
  if (!isDirectory(absolute)) throw new DataError(`${dir}: no such folder`);
  return absolute;
}

/** Everything a run folder holds that plots and reports use; missing files are left out. */
export function readRun(dir: string): RunFolder {
  const absolute = requireFolder(dir);
  if (!hasRunFiles(absolute)) {
    throw new DataError(`${dir}: not a run folder (it holds none of ${RUN_FILES.summary}, ${RUN_FILES.metrics}, ${RUN_FILES.config})`);
  }
  const file = (name: string) => join(absolute, name);
  const run: RunFolder = { dir: absolute, rows: [], problems: [] };
  if (existsSync(file(RUN_FILES.summary))) {
    const summary = readSummary(file(RUN_FILES.summary));
    if (isSweepSummary(summary.raw)) throw new DataError(`${dir}: a sweep folder, not a single run (read it as a sweep)`);
    run.summary = summary;
  }
  if (existsSync(file(RUN_FILES.metrics))) run.rows = readMetricsRows(file(RUN_FILES.metrics));
  if (existsSync(file(RUN_FILES.config))) {
    const { config, text } = readResolvedConfig(file(RUN_FILES.config));
    run.config = config;
    run.configText = text;
  }
  if (existsSync(file(RUN_FILES.predictions))) {
    try {
      run.predictions = readPredictions(file(RUN_FILES.predictions));
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      run.problems.push(error.message);
    }
  }
  return run;
}

function readRepeats(value: unknown, sweepDir: string): SweepRepeat[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((entry) => {
    const repeat: SweepRepeat = { metrics: numbersOf(entry['metrics']) };
    if (typeof entry['runDirectory'] === 'string') repeat.runDirectory = resolve(sweepDir, entry['runDirectory']);
    if (typeof entry['seed'] === 'number') repeat.seed = entry['seed'];
    if (typeof entry['status'] === 'string') repeat.status = entry['status'];
    return repeat;
  });
}

/**
 * A sweep folder. What is read from summary.json (apps/runner/src/sweep/run-sweep.ts today):
 * `name`, `status`, `sweep: {method, metric, goal, parameters: {<name>: {values, paths?}}}`,
 * `trials: [{id, parameters, status, metrics, expectationsMet, runDirectory}]` and `best: {id}`.
 * Also accepted, for the sweep library's richer summaries: a trial's `values` (preferred over
 * `parameters`), `seed`, `repeat` and `configuration`; statuses such as `pruned` and `pending`;
 * `repeats: [{seed, status, metrics, runDirectory}]` inside a trial; `configurations: [{values,
 * trialIds, status, metric: {mean, std, count}}]`; and `best: {trialIds}` (a best configuration). Without summary.json (a sweep still running),
 * the trials are read from `trials/<id>/` (summary.json, and invocation.json's `trial` values).
 */
export function readSweep(dir: string): SweepFolder {
  const absolute = requireFolder(dir);
  const summaryFile = join(absolute, RUN_FILES.summary);
  if (!existsSync(summaryFile)) {
    const folders = trialFolders(absolute);
    if (folders.length === 0) throw new DataError(`${dir}: not a sweep folder (no ${RUN_FILES.summary} and no trials/ run folders)`);
    return sweepFromTrialFolders(absolute, folders);
  }
  const raw = readJsonObject(summaryFile);
  if (!isSweepSummary(raw)) throw new DataError(`${summaryFile}: a single run's summary, not a sweep's (it has no trials)`);
  const sweep = isRecord(raw['sweep']) ? raw['sweep'] : {};
  const trials: SweepTrial[] = [];
  const entries = Array.isArray(raw['trials']) ? raw['trials'] : [];
  for (const [index, entry] of entries.entries()) {
    if (!isRecord(entry)) throw new DataError(`${summaryFile}: trials[${index}] is not an object`);
    const id = typeof entry['id'] === 'string' ? entry['id'] : `trial-${String(index + 1).padStart(3, '0')}`;
    // `values` (by parameter name) when the trial has them; `parameters` holds the same by name in
    // today's summaries, and by config path in the sweep library's trial specs.
    const parameters = isRecord(entry['values']) ? entry['values'] : isRecord(entry['parameters']) ? entry['parameters'] : {};
    const runDirectory = typeof entry['runDirectory'] === 'string' ? entry['runDirectory'] : join('trials', id);
    const trial: SweepTrial = {
      id,
      parameters,
      status: typeof entry['status'] === 'string' ? entry['status'] : 'unknown',
      metrics: numbersOf(entry['metrics']),
      runDirectory: resolve(absolute, runDirectory),
      repeats: readRepeats(entry['repeats'], absolute),
    };
    if (typeof entry['expectationsMet'] === 'boolean') trial.expectationsMet = entry['expectationsMet'];
    for (const key of ['seed', 'repeat', 'configuration'] as const) if (typeof entry[key] === 'number') trial[key] = entry[key];
    trials.push(trial);
  }
  const declared = isRecord(sweep['parameters']) ? Object.keys(sweep['parameters']) : [];
  const folder: SweepFolder = {
    dir: absolute,
    name: typeof raw['name'] === 'string' ? raw['name'] : '',
    status: typeof raw['status'] === 'string' ? raw['status'] : 'unknown',
    parameterNames: declared.length > 0 ? declared : [...new Set(trials.flatMap((t) => Object.keys(t.parameters)))],
    trials,
    bestIds: [],
    configurations: readConfigurations(raw['configurations']),
    raw,
  };
  if (typeof sweep['method'] === 'string') folder.method = sweep['method'];
  if (typeof sweep['metric'] === 'string') folder.metric = sweep['metric'];
  if (sweep['goal'] === 'maximize' || sweep['goal'] === 'minimize') folder.goal = sweep['goal'];
  const best = isRecord(raw['best']) ? raw['best'] : undefined;
  const bestTrialIds = Array.isArray(best?.['trialIds']) ? best['trialIds'].filter((id): id is string => typeof id === 'string') : [];
  folder.bestIds = typeof best?.['id'] === 'string' ? [best['id']] : bestTrialIds;
  if (folder.bestIds[0] !== undefined) folder.bestId = folder.bestIds[0];
  return folder;
}

function readConfigurations(value: unknown): SweepConfiguration[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((entry, index) => {
    const configuration: SweepConfiguration = {
      configuration: typeof entry['configuration'] === 'number' ? entry['configuration'] : index,
      values: isRecord(entry['values']) ? entry['values'] : {},
      trialIds: Array.isArray(entry['trialIds']) ? entry['trialIds'].filter((id): id is string => typeof id === 'string') : [],
      status: typeof entry['status'] === 'string' ? entry['status'] : 'unknown',
    };
    const metric = entry['metric'];
    if (isRecord(metric) && typeof metric['mean'] === 'number' && typeof metric['std'] === 'number' && typeof metric['count'] === 'number') {
      configuration.metric = { mean: metric['mean'], std: metric['std'], count: metric['count'] };
    }
    return configuration;
  });
}

function sweepFromTrialFolders(dir: string, folders: string[]): SweepFolder {
  const trials: SweepTrial[] = folders.map((id) => {
    const runDirectory = join(dir, 'trials', id);
    const summaryFile = join(runDirectory, RUN_FILES.summary);
    const invocationFile = join(runDirectory, RUN_FILES.invocation);
    const summary = existsSync(summaryFile) ? readSummary(summaryFile) : undefined;
    const invocation = existsSync(invocationFile) ? readJsonObject(invocationFile) : {};
    const trial: SweepTrial = {
      id,
      parameters: isRecord(invocation['trial']) ? invocation['trial'] : {},
      status: summary?.status ?? 'running',
      metrics: summary?.metrics ?? {},
      runDirectory,
      repeats: [],
    };
    if (summary !== undefined && summary.expectations.length > 0) trial.expectationsMet = summary.expectations.every((e) => e.met);
    return trial;
  });
  let name = '';
  for (const trial of trials) {
    const summaryFile = join(trial.runDirectory, RUN_FILES.summary);
    if (existsSync(summaryFile)) name = readSummary(summaryFile).name;
    if (name !== '') break;
  }
  return {
    dir,
    name,
    status: 'incomplete',
    parameterNames: [...new Set(trials.flatMap((t) => Object.keys(t.parameters)))],
    trials,
    bestIds: [],
    configurations: [],
  };
}

/** The run folder of a trial, or undefined when it holds nothing readable (a trial that never started). */
export function readTrialRun(trial: SweepTrial): RunFolder | undefined {
  if (!isDirectory(trial.runDirectory) || !hasRunFiles(trial.runDirectory)) return undefined;
  return readRun(trial.runDirectory);
}
