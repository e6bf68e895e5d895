import type { Config, TopLevelSpec } from 'vega-lite';
import { checkSurfaceGrid, contourLevels, contourSegments, type SurfaceGrid } from './contours';

/**
 * Every chart of the project as a Vega-Lite spec, in this one module, so the files written next to
 * a run, the HTML report and a later web view all show the same charts. Each function takes plain
 * data (never paths) and returns a spec with its data inline. Data rows use fixed field names
 * (`value`, `series`, ...) so metric and parameter names with dots need no escaping in Vega-Lite.
 * Imports nothing from Node.
 */

/** DejaVu is what the PNG rasterizer loads; browsers without it fall back to their sans-serif. */
export const CHART_FONT = 'DejaVu Sans, Verdana, sans-serif';

export const CHART_CONFIG: Config = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: '#dddddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eeeeee', labelLimit: 180 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 380 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555555', anchor: 'start', offset: 8 },
};

/** Splits keep their colours from chart to chart: train blue, validation orange, test green. */
const SPLIT_COLORS: Record<string, string> = { train: '#1f77b4', validation: '#ff7f0e', test: '#2ca02c' };
const OTHER_COLORS = ['#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#d62728'];

/** A series with this many points or fewer also gets a dot per point (sparse ones: per-epoch test metrics). */
const DOTS_UP_TO = 40;

export type StepAxis = 'step' | 'epoch';

export interface MetricPoint {
  step: number;
  epoch?: number;
  /** The split (`train`, `validation`, `test`) the value was measured on. */
  split: string;
  value: number;
}

export interface MetricHistoryInput {
  /** The metric's name without its split: `loss`, `accuracy`. */
  metric: string;
  points: MetricPoint[];
  x?: StepAxis;
  /** Default: logarithmic when every value is positive and they span more than two decades. */
  logScale?: boolean;
  title?: string;
  width?: number;
  height?: number;
}

export interface RegressionPoint {
  x: number;
  y: number;
  prediction: number;
}

export interface RegressionFitInput {
  points: RegressionPoint[];
  xTitle?: string;
  yTitle?: string;
  title?: string;
  width?: number;
  height?: number;
}

export interface CurvePoint {
  step: number;
  epoch?: number;
  value: number;
}

export interface Curve {
  /** The legend entry: a run, a trial or an optimizer. */
  name: string;
  points: CurvePoint[];
}

export interface ComparisonCurvesInput {
  metric: string;
  curves: Curve[];
  x?: StepAxis;
  logScale?: boolean;
  /** The legend's title (default `run`). */
  seriesTitle?: string;
  title?: string;
  width?: number;
  height?: number;
}

export interface TrajectoryPoint {
  x: number;
  y: number;
  step: number;
}

export interface Trajectory {
  name: string;
  points: TrajectoryPoint[];
}

export interface SurfaceTrajectoriesInput {
  surface: SurfaceGrid;
  trajectories: Trajectory[];
  /** How many contour levels, evenly spaced (default 15), or the levels themselves. */
  levels?: number | number[];
  xTitle?: string;
  yTitle?: string;
  title?: string;
  width?: number;
  height?: number;
}

export type ParameterValue = string | number | boolean | null;

export interface SweepPoint {
  /** The trial (or repeat) this value comes from, shown in tooltips. */
  id: string;
  parameters: Record<string, unknown>;
  value: number;
}

export interface SweepChartInput {
  metric: string;
  /** The hyperparameters to show, in order. */
  parameters: string[];
  points: SweepPoint[];
  title?: string;
  panelWidth?: number;
  height?: number;
}

export interface RunMetrics {
  label: string;
  metrics: Record<string, number>;
}

export interface FinalMetricsInput {
  runs: RunMetrics[];
  /** Which metrics, in order (default: every metric any run has, sorted). */
  metrics?: string[];
  title?: string;
  columns?: number;
}

function wantsLogScale(values: number[]): boolean {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0 || finite.some((v) => v <= 0)) return false;
  return Math.max(...finite) / Math.min(...finite) >= 100;
}

function colorsFor(splits: string[]): string[] {
  let other = 0;
  return splits.map((s) => SPLIT_COLORS[s] ?? OTHER_COLORS[other++ % OTHER_COLORS.length]!);
}

/** Known splits first in their usual order, then the others in order of appearance. */
function orderSplits(splits: Iterable<string>): string[] {
  const unique = [...new Set(splits)];
  const known = ['train', 'validation', 'test'].filter((s) => unique.includes(s));
  return [...known, ...unique.filter((s) => !known.includes(s))];
}

function sparseSeries(rows: { series: string }[]): string[] {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.series, (counts.get(row.series) ?? 0) + 1);
  return [...counts].filter(([, n]) => n <= DOTS_UP_TO).map(([name]) => name);
}

/** Lines over steps or epochs, one per series, with dots on the sparse series. */
function seriesOverTime(options: {
  rows: { series: string; step: number; epoch?: number; value: number }[];
  x: StepAxis;
  yTitle: string;
  logScale: boolean;
  seriesTitle: string;
  seriesOrder: string[];
  colors?: string[];
  title: string;
  width: number;
  height: number;
}): TopLevelSpec {
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: options.seriesTitle,
    sort: options.seriesOrder,
    scale: options.colors === undefined ? { domain: options.seriesOrder, scheme: 'category10' } : { domain: options.seriesOrder, range: options.colors },
  };
  // Steps end where training ended, unless there is a single step: then a nice domain around it.
  const distinctX = new Set(options.rows.map((r) => (options.x === 'step' ? r.step : r.epoch))).size;
  const x = { field: options.x, type: 'quantitative' as const, title: options.x, scale: { zero: false, nice: distinctX <= 1 } };
  const y = { field: 'value', type: 'quantitative' as const, title: options.yTitle, scale: options.logScale ? { type: 'log' as const } : { zero: false } };
  const tooltip = [
    { field: 'series', type: 'nominal' as const, title: options.seriesTitle },
    { field: 'step', type: 'quantitative' as const },
    { field: 'epoch', type: 'quantitative' as const, format: '.3~f' },
    { field: 'value', type: 'quantitative' as const, title: options.yTitle, format: '.5~g' },
  ];
  const dotted = sparseSeries(options.rows);
  return {
    title: options.title,
    width: options.width,
    height: options.height,
    config: CHART_CONFIG,
    data: { values: options.rows },
    layer: [
      { mark: { type: 'line', clip: true, strokeWidth: 1.8 }, encoding: { x, y, color, tooltip } },
      ...(dotted.length > 0
        ? // Not clipped: the x domain ends at the first and last dot, which clipping would halve.
          [{ transform: [{ filter: { field: 'series', oneOf: dotted } }], mark: { type: 'point' as const, filled: true, size: 36 }, encoding: { x, y, color, tooltip } }]
        : []),
    ],
  };
}

/** A metric over steps or epochs, one line per split (train, validation, test). */
export function metricHistorySpec(input: MetricHistoryInput): TopLevelSpec {
  const x = input.x ?? 'step';
  const rows = input.points
    .filter((p) => Number.isFinite(p.value) && (x === 'step' || p.epoch !== undefined))
    .map((p) => ({ series: p.split, step: p.step, ...(p.epoch !== undefined ? { epoch: p.epoch } : {}), value: p.value }));
  const splits = orderSplits(rows.map((r) => r.series));
  return seriesOverTime({
    rows,
    x,
    yTitle: input.metric,
    logScale: input.logScale ?? wantsLogScale(rows.map((r) => r.value)),
    seriesTitle: 'split',
    seriesOrder: splits,
    colors: colorsFor(splits),
    title: input.title ?? `${input.metric} per split`,
    width: input.width ?? 480,
    height: input.height ?? 280,
  });
}

/** The same metric of several runs over steps: the optimizer comparison, one curve per run or trial. */
export function comparisonCurvesSpec(input: ComparisonCurvesInput): TopLevelSpec {
  const x = input.x ?? 'step';
  const rows = input.curves.flatMap((curve) =>
    curve.points
      .filter((p) => Number.isFinite(p.value) && (x === 'step' || p.epoch !== undefined))
      .map((p) => ({ series: curve.name, step: p.step, ...(p.epoch !== undefined ? { epoch: p.epoch } : {}), value: p.value })),
  );
  return seriesOverTime({
    rows,
    x,
    yTitle: input.metric,
    logScale: input.logScale ?? wantsLogScale(rows.map((r) => r.value)),
    seriesTitle: input.seriesTitle ?? 'run',
    seriesOrder: [...new Set(input.curves.map((c) => c.name))],
    title: input.title ?? `${input.metric} by ${input.seriesTitle ?? 'run'}`,
    width: input.width ?? 480,
    height: input.height ?? 280,
  });
}

/** Regression: the data as dots and the model's prediction as a line over x. */
export function regressionFitSpec(input: RegressionFitInput): TopLevelSpec {
  const rows = input.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xTitle = input.xTitle ?? 'x';
  const yTitle = input.yTitle ?? 'y';
  const x = { field: 'x', type: 'quantitative' as const, title: xTitle, scale: { zero: false } };
  const color = { scale: { domain: ['data', 'model'], range: ['#7f7f7f', '#d62728'] }, title: null };
  return {
    title: input.title ?? `${yTitle} and the model's prediction over ${xTitle}`,
    width: input.width ?? 480,
    height: input.height ?? 300,
    config: CHART_CONFIG,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 20, opacity: 0.6 },
        encoding: { x, y: { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: false } }, color: { datum: 'data', ...color } },
      },
      {
        transform: [{ filter: 'isFinite(datum.prediction)' }],
        mark: { type: 'line', strokeWidth: 2.5 },
        encoding: { x, y: { field: 'prediction', type: 'quantitative' }, color: { datum: 'model', ...color } },
      },
    ],
  };
}

/**
 * The saddle-point picture: the surface's contour lines coloured by height, and each optimizer's
 * path over it (a diamond marks where the paths start). Paths that leave the sampled area are clipped.
 */
export function surfaceTrajectoriesSpec(input: SurfaceTrajectoriesInput): TopLevelSpec {
  checkSurfaceGrid(input.surface);
  const { xs, ys } = input.surface;
  const levels = Array.isArray(input.levels) ? input.levels : contourLevels(input.surface, input.levels ?? 15);
  const segments = contourSegments(input.surface, levels);
  const xDomain = [Math.min(...xs), Math.max(...xs)];
  const yDomain = [Math.min(...ys), Math.max(...ys)];
  const xTitle = input.xTitle ?? 'x';
  const yTitle = input.yTitle ?? 'y';
  const x = { type: 'quantitative' as const, title: xTitle, scale: { domain: xDomain, nice: false, zero: false } };
  const y = { type: 'quantitative' as const, title: yTitle, scale: { domain: yDomain, nice: false, zero: false } };
  const paths = input.trajectories.flatMap((t) =>
    t.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => ({ name: t.name, x: p.x, y: p.y, step: p.step })),
  );
  const starts = input.trajectories.flatMap((t) => {
    const first = [...t.points].sort((a, b) => a.step - b.step)[0];
    return first === undefined ? [] : [{ name: t.name, x: first.x, y: first.y }];
  });
  const names = [...new Set(input.trajectories.map((t) => t.name))];
  return {
    title: input.title ?? 'Contours of the surface and each optimizer\'s path',
    width: input.width ?? 420,
    height: input.height ?? 420,
    config: CHART_CONFIG,
    layer: [
      {
        data: { values: segments },
        mark: { type: 'rule', clip: true, strokeWidth: 1 },
        encoding: {
          x: { field: 'x', ...x },
          y: { field: 'y', ...y },
          x2: { field: 'x2' },
          y2: { field: 'y2' },
          color: { field: 'level', type: 'quantitative', title: 'height', scale: { scheme: 'viridis' }, legend: { format: '.3~g' } },
        },
      },
      {
        data: { values: paths },
        mark: { type: 'line', clip: true, strokeWidth: 2.2, point: { filled: true, size: 14 } },
        encoding: {
          x: { field: 'x', ...x },
          y: { field: 'y', ...y },
          order: { field: 'step', type: 'quantitative' },
          color: { field: 'name', type: 'nominal', title: 'optimizer', sort: names, scale: { domain: names, range: OTHER_COLORS.slice().reverse() } },
          tooltip: [{ field: 'name', type: 'nominal' }, { field: 'step', type: 'quantitative' }, { field: 'x', type: 'quantitative', format: '.4~g' }, { field: 'y', type: 'quantitative', format: '.4~g' }],
        },
      },
      {
        data: { values: starts },
        mark: { type: 'point', shape: 'diamond', filled: true, size: 90, color: 'black', clip: true },
        encoding: { x: { field: 'x', ...x }, y: { field: 'y', ...y } },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

interface Dimension {
  name: string;
  numeric: boolean;
  log: boolean;
  categories: string[];
  low: number;
  high: number;
  read(point: SweepPoint): ParameterValue | undefined;
}

function displayValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined';
}

function describeDimension(name: string, points: SweepPoint[], read: (p: SweepPoint) => unknown): Dimension {
  const values = points.map(read).filter((v) => v !== undefined);
  const numeric = values.length > 0 && values.every((v) => typeof v === 'number' && Number.isFinite(v));
  const numbers = numeric ? (values as number[]) : [];
  const log = numeric && wantsLogScale(numbers);
  const scaled = numbers.map((v) => (log ? Math.log10(v) : v));
  return {
    name,
    numeric,
    log,
    categories: numeric ? [] : [...new Set(values.map(displayValue))],
    low: numeric ? Math.min(...scaled) : 0,
    high: numeric ? Math.max(...scaled) : 0,
    read: (p) => read(p) as ParameterValue | undefined,
  };
}

/** Where a value sits on a dimension's axis, from 0 (bottom) to 1 (top). */
function positionOn(dimension: Dimension, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!dimension.numeric) {
    const index = dimension.categories.indexOf(displayValue(value));
    return dimension.categories.length <= 1 ? 0.5 : index / (dimension.categories.length - 1);
  }
  const scaled = dimension.log ? Math.log10(value as number) : (value as number);
  return dimension.high > dimension.low ? (scaled - dimension.low) / (dimension.high - dimension.low) : 0.5;
}

function axisLabels(dimension: Dimension): { position: number; label: string }[] {
  if (!dimension.numeric) return dimension.categories.map((c) => ({ position: positionOn(dimension, c)!, label: c }));
  const unscale = (v: number) => (dimension.log ? 10 ** v : v);
  const format = (v: number) => String(Number(v.toPrecision(3)));
  if (dimension.high === dimension.low) return [{ position: 0.5, label: format(unscale(dimension.low)) }];
  return [0, 0.5, 1].map((t) => ({ position: t, label: format(unscale(dimension.low + t * (dimension.high - dimension.low))) }));
}

/** The sweep's metric against each hyperparameter: one panel per parameter, mean ± std where values repeat. */
export function sweepMetricSpec(input: SweepChartInput): TopLevelSpec {
  const points = input.points.filter((p) => Number.isFinite(p.value));
  const panels = input.parameters.map((parameter) => {
    const dimension = describeDimension(parameter, points, (p) => p.parameters[parameter]);
    const rows = points
      .filter((p) => p.parameters[parameter] !== undefined)
      .map((p) => ({ trial: p.id, x: dimension.numeric ? (p.parameters[parameter] as number) : displayValue(p.parameters[parameter]), value: p.value }));
    const x = dimension.numeric
      ? { field: 'x', type: 'quantitative' as const, title: parameter, scale: dimension.log ? { type: 'log' as const } : { zero: false } }
      : { field: 'x', type: 'nominal' as const, title: parameter, sort: dimension.categories, axis: { labelAngle: -30 } };
    const y = { field: 'value', type: 'quantitative' as const, title: input.metric, scale: { zero: false } };
    const repeated = new Set(rows.map((r) => String(r.x))).size < rows.length;
    return {
      width: input.panelWidth ?? 240,
      height: input.height ?? 220,
      data: { values: rows },
      layer: [
        ...(repeated ? [{ mark: { type: 'errorbar' as const, extent: 'stdev' as const, ticks: true }, encoding: { x, y } }] : []),
        {
          mark: dimension.numeric ? { type: 'line' as const, color: '#999999', strokeDash: [4, 3] } : { type: 'tick' as const, color: '#555555', thickness: 2 },
          encoding: { x, y: { ...y, aggregate: 'mean' as const } },
        },
        {
          mark: { type: 'point' as const, filled: true, size: 60, opacity: 0.85 },
          encoding: {
            x,
            y,
            tooltip: [
              { field: 'trial', type: 'nominal' as const },
              { field: 'x', type: dimension.numeric ? ('quantitative' as const) : ('nominal' as const), title: parameter },
              { field: 'value', type: 'quantitative' as const, title: input.metric, format: '.5~g' },
            ],
          },
        },
      ],
    };
  });
  return {
    title: { text: input.title ?? `${input.metric} against each hyperparameter`, subtitle: `${points.length} trials with a value; dashes join the means, bars show ± one standard deviation where values repeat` },
    config: CHART_CONFIG,
    columns: Math.min(3, Math.max(1, panels.length)),
    concat: panels,
    resolve: { scale: { y: 'shared' } },
  };
}

/** Parallel coordinates: one vertical axis per hyperparameter and one for the metric; one line per trial. */
export function parallelCoordinatesSpec(input: SweepChartInput & { width?: number }): TopLevelSpec {
  const points = input.points.filter((p) => Number.isFinite(p.value));
  const dimensions = [
    ...input.parameters.map((name) => describeDimension(name, points, (p) => p.parameters[name])),
    describeDimension(input.metric, points, (p) => p.value),
  ];
  const order = dimensions.map((d) => d.name);
  const lines = points.flatMap((p) =>
    dimensions.flatMap((d, index) => {
      const value = d.read(p);
      const position = positionOn(d, value);
      return position === undefined ? [] : [{ trial: p.id, dimension: d.name, order: index, position, shown: displayValue(value), metric: p.value }];
    }),
  );
  const labels = dimensions.flatMap((d) => axisLabels(d).map((l) => ({ dimension: d.name, ...l })));
  const x = { field: 'dimension', type: 'nominal' as const, sort: order, scale: { type: 'point' as const, padding: 0.25 }, axis: { title: null, labelAngle: 0, orient: 'top' as const, domain: false, ticks: false, labelFontWeight: 'bold' as const, labelLimit: 240 } };
  // A little room above and below, so the top labels do not sit on the lines.
  const y = { field: 'position', type: 'quantitative' as const, scale: { domain: [-0.04, 1.04] }, axis: null };
  return {
    title: { text: input.title ?? `Trials across hyperparameters and ${input.metric}`, subtitle: `${points.length} trials; colour is ${input.metric}` },
    width: input.width ?? Math.max(320, 190 * dimensions.length),
    height: input.height ?? 280,
    config: { ...CHART_CONFIG, view: { stroke: null } },
    layer: [
      { data: { values: dimensions.map((d) => ({ dimension: d.name })) }, mark: { type: 'rule', color: '#999999' }, encoding: { x } },
      {
        data: { values: lines },
        mark: { type: 'line', strokeWidth: 2, opacity: 0.85, point: { filled: true, size: 30 } },
        encoding: {
          x,
          y,
          detail: { field: 'trial', type: 'nominal' },
          order: { field: 'order', type: 'quantitative' },
          color: { field: 'metric', type: 'quantitative', title: input.metric, scale: { scheme: 'viridis' }, legend: { type: 'gradient', format: '.4~g' } },
          tooltip: [{ field: 'trial', type: 'nominal' }, { field: 'dimension', type: 'nominal' }, { field: 'shown', type: 'nominal', title: 'value' }],
        },
      },
      {
        data: { values: labels },
        mark: { type: 'text', align: 'left', dx: 5, fontSize: 10, color: '#333333' },
        encoding: { x, y, text: { field: 'label', type: 'nominal' } },
      },
    ],
  };
}

/** Several runs' final metrics side by side: one panel per metric, one bar per run. */
export function finalMetricsSpec(input: FinalMetricsInput): TopLevelSpec {
  const metrics = input.metrics ?? [...new Set(input.runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const labels = input.runs.map((r) => r.label);
  const rows = input.runs.flatMap((run) =>
    metrics.flatMap((metric) => {
      const value = run.metrics[metric];
      return value === undefined || !Number.isFinite(value) ? [] : [{ run: run.label, metric, value }];
    }),
  );
  const y = { field: 'run', type: 'nominal' as const, sort: labels, title: null, axis: { labelLimit: 280 } };
  const x = { field: 'value', type: 'quantitative' as const, title: null, axis: { tickCount: 4 } };
  return {
    title: input.title ?? 'Final metrics',
    config: CHART_CONFIG,
    data: { values: rows },
    columns: input.columns ?? Math.min(3, Math.max(1, metrics.length)),
    facet: { field: 'metric', type: 'nominal', sort: metrics, title: null },
    spec: {
      width: 220,
      height: { step: 22 },
      layer: [
        { mark: { type: 'bar' }, encoding: { y, x, color: { field: 'run', type: 'nominal', sort: labels, legend: null, scale: { scheme: 'tableau10' } }, tooltip: [{ field: 'run', type: 'nominal' }, { field: 'value', type: 'quantitative', format: '.5~g' }] } },
        { mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 }, encoding: { y, x, text: { field: 'value', type: 'quantitative', format: '.4~g' } } },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  };
}

/** Several charts one above the other in one figure (each keeps its own data, scales and title). */
export function stackedSpec(charts: TopLevelSpec[], title?: string): TopLevelSpec {
  const parts = charts.map((chart) => {
    const { config: _config, $schema: _schema, ...rest } = chart as TopLevelSpec & { $schema?: string };
    return rest;
  });
  return { ...(title !== undefined ? { title } : {}), config: CHART_CONFIG, vconcat: parts, spacing: 28 } as TopLevelSpec;
}
