import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { DataError } from '@dlexp/core';
import type { SurfaceGrid } from './contours';
import { fileStem, formatValue } from './format';
import { renderSvg, svgToPng, type PngOptions } from './render';
import { folderKind, isRecord, readRun, readSweep, readTrialRun, type MetricsRow, type PredictionsTable, type RunFolder, type SweepFolder, type SweepTrial } from './run-files';
import {
  comparisonCurvesSpec,
  finalMetricsSpec,
  metricHistorySpec,
  parallelCoordinatesSpec,
  regressionFitSpec,
  surfaceTrajectoriesSpec,
  sweepMetricSpec,
  type Curve,
  type CurvePoint,
  type MetricPoint,
  type RegressionPoint,
  type StepAxis,
  type SweepPoint,
  type Trajectory,
} from './specs';

/** One chart of a run or sweep: `name` is its file name stem in `plots/`. */
export interface Figure {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/**
 * Which logged values are an optimizer's position, for the saddle-point picture: the two values
 * (fetched scalars in metrics.jsonl, such as `x1` and `x2`) and the surface to draw them over.
 */
export interface TrajectoryOptions {
  x: string;
  y: string;
  surface: SurfaceGrid;
  xTitle?: string;
  yTitle?: string;
}

export interface FigureOptions {
  trajectory?: TrajectoryOptions;
}

export type FigureFormat = 'svg' | 'png';

export interface WritePlotsOptions extends FigureOptions {
  /** Default both: SVG for documents and the report, PNG where a raster is wanted (READMEs, chats). */
  formats?: FigureFormat[];
  png?: PngOptions;
  onWarning?: (message: string) => void;
}

export interface WrittenPlots {
  /** The `plots/` folder. */
  dir: string;
  /** Every file written, absolute paths. */
  files: string[];
  figures: string[];
  /** Files that could not be read, so their figures are missing (a malformed predictions.csv). */
  problems: string[];
}

const NOT_METRICS = new Set(['step', 'epoch', 'timeMs']);

export interface RunSeries {
  /** Per metric name (`loss`, `accuracy`), its points on every split (`train.loss` → split train). */
  metrics: Map<string, MetricPoint[]>;
  /** Values logged without a split: the fetched scalars of an ops model (`k`, `b`). */
  values: Map<string, CurvePoint[]>;
}

/** metrics.jsonl rows grouped for charts: `<split>.<metric>` keys by metric, other keys as values. */
export function runSeries(rows: MetricsRow[]): RunSeries {
  const metrics = new Map<string, MetricPoint[]>();
  const values = new Map<string, CurvePoint[]>();
  for (const [index, row] of rows.entries()) {
    const step = row['step'] ?? index + 1;
    const epoch = row['epoch'];
    for (const [key, value] of Object.entries(row)) {
      if (NOT_METRICS.has(key)) continue;
      const dot = key.indexOf('.');
      const point = { step, ...(epoch !== undefined ? { epoch } : {}), value };
      if (dot <= 0) {
        if (!values.has(key)) values.set(key, []);
        values.get(key)!.push(point);
      } else {
        const metric = key.slice(dot + 1);
        if (!metrics.has(metric)) metrics.set(metric, []);
        metrics.get(metric)!.push({ ...point, split: key.slice(0, dot) });
      }
    }
  }
  return { metrics, values };
}

/** Epochs on the x axis when a run has several epochs of several steps each, steps otherwise. */
export function chooseStepAxis(rows: MetricsRow[]): StepAxis {
  let maxStep = 0;
  let maxEpoch = 0;
  for (const row of rows) {
    if (row['epoch'] === undefined) return 'step';
    maxStep = Math.max(maxStep, row['step'] ?? 0);
    maxEpoch = Math.max(maxEpoch, row['epoch']);
  }
  return maxEpoch >= 2 && maxStep >= 2 * maxEpoch ? 'epoch' : 'step';
}

/** Loss first, accuracy second, the rest by name. */
function metricOrder(a: string, b: string): number {
  const rank = (m: string) => (m === 'loss' ? 0 : m === 'accuracy' ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b);
}

function nodeToPlot(config: Record<string, unknown> | undefined): string | undefined {
  const model = config?.['model'];
  return isRecord(model) && typeof model['savePredictions'] === 'string' ? model['savePredictions'] : undefined;
}

/**
 * predictions.csv as data and fit: the ops model writes the batch's features (`x`, `y`) and then
 * the node named by `model.savePredictions`. The prediction is that node's column (else the last),
 * the target `y` (else the column before it), and x the first other column.
 */
export function regressionPoints(predictions: PredictionsTable, config?: Record<string, unknown>): { points: RegressionPoint[]; xTitle: string; yTitle: string } | undefined {
  const { columns } = predictions;
  if (columns.length < 3) return undefined;
  const declared = nodeToPlot(config);
  const prediction = declared !== undefined && columns.includes(declared) ? declared : columns[columns.length - 1]!;
  const others = columns.filter((c) => c !== prediction);
  const target = others.includes('y') ? 'y' : others[others.length - 1]!;
  const x = others.includes('x') && target !== 'x' ? 'x' : others.find((c) => c !== target)!;
  const [xi, yi, pi] = [x, target, prediction].map((c) => columns.indexOf(c)) as [number, number, number];
  return {
    points: predictions.rows.map((row) => ({ x: row[xi]!, y: row[yi]!, prediction: row[pi]! })),
    xTitle: x,
    yTitle: target,
  };
}

function trajectoryOf(name: string, rows: MetricsRow[], options: TrajectoryOptions): Trajectory {
  const points = rows.flatMap((row, index) => {
    const x = row[options.x];
    const y = row[options.y];
    return x === undefined || y === undefined ? [] : [{ x, y, step: row['step'] ?? index + 1 }];
  });
  return { name, points };
}

/** The figures a run's files support: a chart per metric, the fetched values, the regression fit. */
export function runFigures(run: RunFolder, options: FigureOptions = {}): Figure[] {
  const figures: Figure[] = [];
  const x = chooseStepAxis(run.rows);
  const series = runSeries(run.rows);
  for (const metric of [...series.metrics.keys()].sort(metricOrder)) {
    figures.push({ name: fileStem(metric), title: `${metric} per split`, spec: metricHistorySpec({ metric, points: series.metrics.get(metric)!, x }) });
  }
  const trajectoryKeys = new Set(options.trajectory === undefined ? [] : [options.trajectory.x, options.trajectory.y]);
  const values = [...series.values.keys()].filter((k) => !trajectoryKeys.has(k));
  if (values.length > 0) {
    const curves: Curve[] = values.map((name) => ({ name, points: series.values.get(name)! }));
    figures.push({ name: 'values', title: 'Logged values', spec: comparisonCurvesSpec({ metric: 'value', curves, x, seriesTitle: 'value', title: 'Logged values' }) });
  }
  if (run.predictions !== undefined) {
    const fit = regressionPoints(run.predictions, run.config);
    if (fit !== undefined) figures.push({ name: 'regression-fit', title: 'Data and fitted curve', spec: regressionFitSpec(fit) });
  }
  if (options.trajectory !== undefined) {
    const trajectory = trajectoryOf(run.summary?.name ?? 'run', run.rows, options.trajectory);
    if (trajectory.points.length > 0) figures.push({ name: 'trajectory', title: 'Path over the surface', spec: trajectorySpec([trajectory], options.trajectory) });
  }
  return figures;
}

function trajectorySpec(trajectories: Trajectory[], options: TrajectoryOptions): TopLevelSpec {
  return surfaceTrajectoriesSpec({ surface: options.surface, trajectories, xTitle: options.xTitle ?? options.x, yTitle: options.yTitle ?? options.y });
}

/** A trial's name in legends: its id and the values the sweep gave it. */
export function trialLabel(trial: SweepTrial, parameterNames: string[]): string {
  const shown = parameterNames.filter((p) => trial.parameters[p] !== undefined);
  if (shown.length === 0) return trial.id;
  if (shown.length === 1) return `${trial.id}: ${formatValue(trial.parameters[shown[0]!])}`;
  const short = (p: string) => p.slice(p.lastIndexOf('.') + 1);
  return `${trial.id}: ${shown.map((p) => `${short(p)}=${formatValue(trial.parameters[p])}`).join(', ')}`;
}

/** The sweep's metric: the one it ranks by, else the first test metric any trial reports. */
export function sweepMetric(sweep: SweepFolder): string | undefined {
  if (sweep.metric !== undefined) return sweep.metric;
  const reported = [...new Set(sweep.trials.flatMap((t) => Object.keys(t.metrics)))].sort();
  return reported.find((m) => m.startsWith('test.')) ?? reported.find((m) => m.startsWith('validation.')) ?? reported[0];
}

/** One point per finished trial, or per repeat when the sweep ran each trial with several seeds. */
export function sweepPoints(sweep: SweepFolder, metric: string): SweepPoint[] {
  return sweep.trials.flatMap((trial) => {
    if (trial.status !== 'completed') return [];
    const repeats = trial.repeats.filter((r) => r.metrics[metric] !== undefined && (r.status === undefined || r.status === 'completed'));
    if (repeats.length > 0) {
      return repeats.map((r, i) => ({ id: `${trial.id} (${r.seed !== undefined ? `seed ${r.seed}` : `repeat ${i + 1}`})`, parameters: trial.parameters, value: r.metrics[metric]! }));
    }
    const value = trial.metrics[metric];
    return value === undefined ? [] : [{ id: trial.id, parameters: trial.parameters, value }];
  });
}

/** Each trial's run folder, where it has one; unreadable ones are named in `problems`. */
export function readTrialRuns(sweep: SweepFolder): { runs: Map<string, RunFolder>; problems: string[] } {
  const runs = new Map<string, RunFolder>();
  const problems: string[] = [];
  for (const trial of sweep.trials) {
    try {
      const run = readTrialRun(trial);
      if (run !== undefined) runs.set(trial.id, run);
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      problems.push(error.message);
    }
  }
  return { runs, problems };
}

/**
 * The sweep's figures: its metric against each hyperparameter, parallel coordinates, every
 * trial's learning curves side by side (the optimizer comparison when the sweep varies the
 * optimizer), the trials' final metrics, and their paths over a surface when asked.
 */
export function sweepFigures(sweep: SweepFolder, trialRuns: Map<string, RunFolder>, options: FigureOptions = {}): Figure[] {
  const figures: Figure[] = [];
  const metric = sweepMetric(sweep);
  const parameters = sweep.parameterNames;
  if (metric !== undefined) {
    const points = sweepPoints(sweep, metric);
    if (points.length > 0 && parameters.length > 0) {
      figures.push({ name: `sweep-${fileStem(metric)}`, title: `${metric} against each hyperparameter`, spec: sweepMetricSpec({ metric, parameters, points }) });
      figures.push({ name: 'parallel-coordinates', title: 'Parallel coordinates', spec: parallelCoordinatesSpec({ metric, parameters, points }) });
    }
  }
  const labelled = sweep.trials.map((trial) => ({ trial, label: trialLabel(trial, parameters), run: trialRuns.get(trial.id) }));
  const withRows = labelled.filter((t) => t.run !== undefined && t.run.rows.length > 0);
  const x = withRows.every((t) => chooseStepAxis(t.run!.rows) === 'epoch') && withRows.length > 0 ? 'epoch' : 'step';
  const curveKeys = [...new Set([...(metric !== undefined ? [metric] : []), 'train.loss'])];
  for (const key of curveKeys) {
    const curves = withRows
      .map(({ label, run }) => ({
        name: label,
        points: run!.rows.flatMap((row, index) => (row[key] === undefined ? [] : [{ step: row['step'] ?? index + 1, ...(row['epoch'] !== undefined ? { epoch: row['epoch'] } : {}), value: row[key] }])),
      }))
      .filter((c) => c.points.length > 0);
    if (curves.length > 0) {
      figures.push({ name: `trials-${fileStem(key)}`, title: `${key} of every trial`, spec: comparisonCurvesSpec({ metric: key, curves, x, seriesTitle: 'trial', title: `${key} of every trial` }) });
    }
  }
  const finished = labelled.filter((t) => Object.keys(t.trial.metrics).length > 0);
  if (finished.length > 0) {
    figures.push({ name: 'final-metrics', title: 'Final metrics of every trial', spec: finalMetricsSpec({ runs: finished.map((t) => ({ label: t.label, metrics: t.trial.metrics })), title: 'Final metrics of every trial' }) });
  }
  if (options.trajectory !== undefined) {
    const trajectories = withRows.map(({ label, run }) => trajectoryOf(label, run!.rows, options.trajectory!)).filter((t) => t.points.length > 0);
    if (trajectories.length > 0) figures.push({ name: 'trajectories', title: 'Paths over the surface', spec: trajectorySpec(trajectories, options.trajectory) });
  }
  return figures;
}

function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/** Renders figures into `<dir>/plots/` as SVG and/or PNG. */
export async function writeFigures(dir: string, figures: Figure[], options: WritePlotsOptions = {}): Promise<{ dir: string; files: string[]; figures: string[] }> {
  const formats = options.formats ?? ['svg', 'png'];
  const plots = join(dir, 'plots');
  mkdirSync(plots, { recursive: true });
  const files: string[] = [];
  for (const figure of figures) {
    const svg = await renderSvg(figure.spec, options.onWarning === undefined ? {} : { onWarning: (m) => options.onWarning!(`${figure.name}: ${m}`) });
    if (formats.includes('svg')) {
      files.push(join(plots, `${figure.name}.svg`));
      writeFileAtomic(files[files.length - 1]!, svg);
    }
    if (formats.includes('png')) {
      files.push(join(plots, `${figure.name}.png`));
      writeFileAtomic(files[files.length - 1]!, svgToPng(svg, options.png));
    }
  }
  return { dir: plots, files, figures: figures.map((f) => f.name) };
}

/** Writes `<runDir>/plots/`: a figure for whatever the run holds (metrics, fetched values, predictions). */
export async function writeRunPlots(runDir: string, options: WritePlotsOptions = {}): Promise<WrittenPlots> {
  const run = readRun(runDir);
  const written = await writeFigures(run.dir, runFigures(run, options), options);
  return { ...written, problems: run.problems };
}

/** Writes `<sweepDir>/plots/` with the sweep's figures (see sweepFigures). */
export async function writeSweepPlots(sweepDir: string, options: WritePlotsOptions = {}): Promise<WrittenPlots> {
  const sweep = readSweep(sweepDir);
  const { runs, problems } = readTrialRuns(sweep);
  const written = await writeFigures(sweep.dir, sweepFigures(sweep, runs, options), options);
  return { ...written, problems: [...problems, ...[...runs.values()].flatMap((r) => r.problems)] };
}

/** Plots for a run folder or a sweep folder, whichever `dir` is. */
export async function writePlots(dir: string, options: WritePlotsOptions = {}): Promise<WrittenPlots> {
  const kind = folderKind(dir);
  if (kind === undefined) throw new DataError(`${dir}: neither a run folder nor a sweep folder (no summary.json, metrics.jsonl or trials/)`);
  return kind === 'sweep' ? writeSweepPlots(dir, options) : writeRunPlots(dir, options);
}
