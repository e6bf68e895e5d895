// Chart specs (plain data in, Vega-Lite out; no Node imports) and the contours they draw.
export {
  CHART_CONFIG,
  CHART_FONT,
  metricHistorySpec,
  comparisonCurvesSpec,
  regressionFitSpec,
  surfaceTrajectoriesSpec,
  sweepMetricSpec,
  parallelCoordinatesSpec,
  finalMetricsSpec,
  stackedSpec,
} from './specs';
export type {
  StepAxis,
  MetricPoint,
  MetricHistoryInput,
  RegressionPoint,
  RegressionFitInput,
  CurvePoint,
  Curve,
  ComparisonCurvesInput,
  TrajectoryPoint,
  Trajectory,
  SurfaceTrajectoriesInput,
  SweepPoint,
  SweepChartInput,
  RunMetrics,
  FinalMetricsInput,
} from './specs';
export { sampleSurface, contourLevels, contourSegments } from './contours';
export type { SurfaceGrid, ContourSegment } from './contours';

// Rendering: SVG with vega's headless view, PNG with resvg.
export { compileSpec, renderSvg, renderPng, svgToPng, scopeSvgIds, DEFAULT_FONT_DIRS } from './render';
export type { RenderOptions, PngOptions } from './render';

// Reading run and sweep folders.
export { readRun, readSweep, readTrialRun, folderKind, readSummary, readMetricsRows, readResolvedConfig, readPredictions, RUN_FILES } from './run-files';
export type { RunFolder, RunSummary, MetricsRow, PredictionsTable, ExpectationRecord, SweepFolder, SweepTrial, SweepRepeat, FolderKind } from './run-files';

// Figures of a run or a sweep, and writing them to <dir>/plots/.
export { runFigures, sweepFigures, runSeries, chooseStepAxis, regressionPoints, trialLabel, sweepMetric, sweepPoints, readTrialRuns, writeFigures, writeRunPlots, writeSweepPlots, writePlots } from './run-plots';
export type { Figure, FigureOptions, FigureFormat, TrajectoryOptions, WritePlotsOptions, WrittenPlots, RunSeries } from './run-plots';

// Comparing runs, listing and pruning a log folder, the HTML report.
export { compareRuns, writeComparisonChart, flattenConfig, differingKeys, orderMetrics, uniqueLabels } from './compare';
export type { Comparison, ComparedRun, ComparisonJson, CompareOptions, TextTable } from './compare';
export { listRuns, runsTable, pruneRuns, removeRun, insideLogdir, keyMetricsOf } from './runs';
export type { ListedRun, ListedKind, ListOptions, PruneOptions, PruneResult } from './runs';
export { renderReport, writeReport, escapeHtml } from './report';
export type { ReportOptions } from './report';
export { formatNumber } from './format';
export { createPlotsSink } from './sink';
