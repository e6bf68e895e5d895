import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { DataError, formatPath, type PathSegment } from '@dlexp/core';
import { formatNumber, formatValue } from './format';
import { renderSvg, svgToPng, type PngOptions, type RenderOptions } from './render';
import { folderKind, isRecord, readRun, readSweep, readTrialRun, type MetricsRow, type RunFolder } from './run-files';
import { chooseStepAxis } from './run-plots';
import { comparisonCurvesSpec, finalMetricsSpec, stackedSpec } from './specs';

export interface ComparedRun {
  /** A short name unique among the compared runs: the folder's last path segments. */
  label: string;
  dir: string;
  kind: 'run' | 'trial';
  name: string;
  status: string;
  seed?: number;
  /** For a trial: its sweep's folder, its id and its hyperparameters. */
  sweep?: { dir: string; trial: string; parameters: Record<string, unknown> };
  /** The whole resolved config flattened to dotted paths (`train.optimizer.learningRate`). */
  config: Record<string, unknown>;
  metrics: Record<string, number>;
  expectationsMet?: boolean;
}

export interface TextTable {
  head: string[];
  rows: string[][];
}

export interface ComparisonJson {
  /** Config paths whose values are not the same in every run. */
  differingKeys: string[];
  metrics: string[];
  runs: {
    label: string;
    dir: string;
    kind: 'run' | 'trial';
    name: string;
    status: string;
    seed?: number;
    sweep?: { dir: string; trial: string };
    /** Only the differing keys; a key the run's config lacks is left out. */
    config: Record<string, unknown>;
    metrics: Record<string, number>;
  }[];
}

export interface Comparison {
  runs: ComparedRun[];
  differingKeys: string[];
  metricKeys: string[];
  /** One row per run: label, the differing config values, status, the final metrics. */
  table: TextTable;
  /** The same, one row per config key or metric and one column per run (for many keys). */
  transposed: TextTable;
  json: ComparisonJson;
  /** Final metrics side by side, and the training loss curves when the runs logged them. */
  chart: TopLevelSpec;
  svg: string;
}

export interface CompareOptions extends RenderOptions {
  /** Which metric's curves to draw under the bars (default `train.loss`). */
  curveMetric?: string;
}

/**
 * A config as dotted paths to leaf values, in the path grammar of `--set` (keys with dots in
 * brackets: `expect[test.accuracy].min`); an empty list or mapping is a leaf of its own.
 */
export function flattenConfig(value: unknown, prefix: PathSegment[] = [], into: Record<string, unknown> = {}): Record<string, unknown> {
  if (Array.isArray(value) && value.length > 0) value.forEach((item, index) => flattenConfig(item, [...prefix, index], into));
  else if (isRecord(value) && Object.keys(value).length > 0) for (const [key, item] of Object.entries(value)) flattenConfig(item, [...prefix, key], into);
  else if (prefix.length > 0) into[formatPath(prefix)] = value;
  return into;
}

/** The keys whose values differ between the configs, or that some configs lack, in first-seen order. */
export function differingKeys(configs: Record<string, unknown>[]): string[] {
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))];
  return keys.filter((key) => {
    const shown = configs.map((c) => (key in c ? JSON.stringify(c[key]) : undefined));
    return shown.some((s) => s !== shown[0]);
  });
}

/** test first, then validation, then train, then values without a split; by name within each. */
export function orderMetrics(keys: Iterable<string>): string[] {
  const rank = (k: string) => (k.startsWith('test.') ? 0 : k.startsWith('validation.') ? 1 : k.startsWith('train.') ? 2 : 3);
  return [...new Set(keys)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The shortest trailing part of each path that tells it apart from the others. */
export function uniqueLabels(paths: string[]): string[] {
  const parts = paths.map((p) => resolve(p).split(sep).filter((s) => s !== ''));
  return parts.map((segments, index) => {
    for (let n = 1; n <= segments.length; n++) {
      const label = segments.slice(-n).join('/');
      const clashes = parts.some((other, j) => j !== index && other.slice(-n).join('/') === label);
      if (!clashes) return label;
    }
    return segments.join('/');
  });
}

interface Loaded {
  compared: Omit<ComparedRun, 'label'>;
  rows: MetricsRow[];
}

function fromRun(run: RunFolder, kind: 'run' | 'trial'): Loaded {
  const compared: Omit<ComparedRun, 'label'> = {
    dir: run.dir,
    kind,
    name: run.summary?.name ?? (typeof run.config?.['name'] === 'string' ? run.config['name'] : ''),
    status: run.summary?.status ?? 'running',
    config: flattenConfig(run.config ?? {}),
    metrics: run.summary?.metrics ?? {},
  };
  if (run.summary?.seed !== undefined) compared.seed = run.summary.seed;
  if (run.summary !== undefined && run.summary.expectations.length > 0) compared.expectationsMet = run.summary.expectations.every((e) => e.met);
  return { compared, rows: run.rows };
}

/** Every run a folder stands for: itself, or each trial of a sweep. */
function load(dir: string): Loaded[] {
  const kind = folderKind(dir);
  if (kind === undefined) throw new DataError(`${dir}: neither a run folder nor a sweep folder (no summary.json, metrics.jsonl or trials/)`);
  if (kind === 'run') return [fromRun(readRun(dir), 'run')];
  const sweep = readSweep(dir);
  return sweep.trials.map((trial) => {
    const run = readTrialRun(trial);
    const loaded: Loaded =
      run !== undefined
        ? fromRun(run, 'trial')
        : // A trial that left no folder: what the sweep's summary says about it is all there is.
          { compared: { dir: trial.runDirectory, kind: 'trial', name: sweep.name, status: trial.status, config: { ...trial.parameters }, metrics: trial.metrics }, rows: [] };
    loaded.compared.status = trial.status;
    loaded.compared.sweep = { dir: sweep.dir, trial: trial.id, parameters: trial.parameters };
    if (trial.expectationsMet !== undefined) loaded.compared.expectationsMet = trial.expectationsMet;
    return loaded;
  });
}

function statusCell(run: ComparedRun): string {
  return run.status === 'completed' && run.expectationsMet === false ? 'expectations not met' : run.status;
}

/**
 * Compares run folders and sweep folders (a sweep counts as each of its trials): the config keys
 * that differ (from config.resolved.yaml, flattened to dotted paths), the final metrics, as tables,
 * as JSON, and as a chart.
 */
export async function compareRuns(dirs: string[], options: CompareOptions = {}): Promise<Comparison> {
  if (dirs.length === 0) throw new DataError('compare: give at least one run or sweep folder');
  const loaded = dirs.flatMap(load);
  const seen = new Set<string>();
  const unique = loaded.filter((l) => (seen.has(l.compared.dir) ? false : (seen.add(l.compared.dir), true)));
  const labels = uniqueLabels(unique.map((l) => l.compared.dir));
  const runs: ComparedRun[] = unique.map((l, i) => ({ label: labels[i]!, ...l.compared }));
  const keys = differingKeys(runs.map((r) => r.config));
  const metricKeys = orderMetrics(runs.flatMap((r) => Object.keys(r.metrics)));

  const table: TextTable = {
    head: ['run', ...keys, 'status', ...metricKeys],
    rows: runs.map((r) => [r.label, ...keys.map((k) => formatValue(r.config[k])), statusCell(r), ...metricKeys.map((m) => formatNumber(r.metrics[m]))]),
  };
  const transposed: TextTable = {
    head: ['', ...runs.map((r) => r.label)],
    rows: [
      ...keys.map((k) => [k, ...runs.map((r) => formatValue(r.config[k]))]),
      ['status', ...runs.map(statusCell)],
      ...metricKeys.map((m) => [m, ...runs.map((r) => formatNumber(r.metrics[m]))]),
    ],
  };
  const json: ComparisonJson = {
    differingKeys: keys,
    metrics: metricKeys,
    runs: runs.map((r) => ({
      label: r.label,
      dir: r.dir,
      kind: r.kind,
      name: r.name,
      status: r.status,
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      ...(r.sweep !== undefined ? { sweep: { dir: r.sweep.dir, trial: r.sweep.trial } } : {}),
      config: Object.fromEntries(keys.filter((k) => k in r.config).map((k) => [k, r.config[k]])),
      metrics: r.metrics,
    })),
  };

  const charts: TopLevelSpec[] = [];
  if (metricKeys.length > 0) charts.push(finalMetricsSpec({ runs: runs.map((r) => ({ label: r.label, metrics: r.metrics })), metrics: metricKeys }));
  const curveMetric = options.curveMetric ?? 'train.loss';
  const withCurves = unique.map((l, i) => ({ label: labels[i]!, rows: l.rows.filter((row) => row[curveMetric] !== undefined) })).filter((c) => c.rows.length > 0);
  if (withCurves.length > 0) {
    const x = withCurves.every((c) => chooseStepAxis(c.rows) === 'epoch') ? 'epoch' : 'step';
    const curves = withCurves.map((c) => ({
      name: c.label,
      points: c.rows.map((row, index) => ({ step: row['step'] ?? index + 1, ...(row['epoch'] !== undefined ? { epoch: row['epoch'] } : {}), value: row[curveMetric]! })),
    }));
    charts.push(comparisonCurvesSpec({ metric: curveMetric, curves, x }));
  }
  const chart = stackedSpec(charts, `Comparison of ${runs.length} run${runs.length === 1 ? '' : 's'}`);
  const svg = await renderSvg(chart, options);
  return { runs, differingKeys: keys, metricKeys, table, transposed, json, chart, svg };
}

/** Writes the comparison chart: PNG when the file name ends in .png, SVG otherwise. */
export function writeComparisonChart(comparison: Comparison, file: string, png: PngOptions = {}): string {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(file, file.toLowerCase().endsWith('.png') ? svgToPng(comparison.svg, png) : comparison.svg);
  return resolve(file);
}
