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
export { formatNumber } from './format';
