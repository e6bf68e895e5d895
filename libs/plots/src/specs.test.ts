import { describe, expect, it } from 'vitest';
import type { TopLevelSpec } from 'vega-lite';
import { sampleSurface } from './contours';
import { compileSpec, renderSvg } from './render';
import {
  comparisonCurvesSpec,
  finalMetricsSpec,
  metricHistorySpec,
  parallelCoordinatesSpec,
  regressionFitSpec,
  stackedSpec,
  surfaceTrajectoriesSpec,
  sweepMetricSpec,
  type MetricPoint,
  type SweepPoint,
} from './specs';
import { markGroups, svgTexts } from './test-fixtures';

const history: MetricPoint[] = [
  ...Array.from({ length: 30 }, (_, i) => ({ step: (i + 1) * 10, epoch: (i + 1) / 10, split: 'train', value: 2 / (i + 1) ** 2 })),
  ...[1, 2, 3].map((epoch) => ({ step: epoch * 100, epoch, split: 'test', value: 1 / epoch })),
  ...[1, 2, 3].map((epoch) => ({ step: epoch * 100, epoch, split: 'validation', value: 1.1 / epoch })),
];

const sweepPoints: SweepPoint[] = [0.001, 0.01, 0.1].flatMap((learningRate, i) =>
  ['meanSquaredError', 'categoricalCrossentropy'].map((loss, j) => ({ id: `trial-${i}${j}`, parameters: { 'train.optimizer.learningRate': learningRate, 'model.loss.type': loss }, value: 0.7 + 0.05 * i + 0.1 * j })),
);

const saddle = sampleSurface((x, y) => x * x - y * y, { x: [-1, 1], y: [-1, 1], samples: 21 });
const trajectories = [
  { name: 'sgd', points: Array.from({ length: 12 }, (_, step) => ({ x: 0.8 * 0.8 ** step, y: 0.01 * 1.4 ** step, step })) },
  { name: 'momentum', points: Array.from({ length: 12 }, (_, step) => ({ x: 0.8 * Math.cos(step / 2) * 0.8 ** step, y: 0.01 * 1.6 ** step, step })) },
];

/** Every chart: the marks it must draw and texts (titles, axis titles, legend entries) it must show. */
const charts: { name: string; spec: TopLevelSpec; marks: string[]; texts: string[] }[] = [
  { name: 'metric history', spec: metricHistorySpec({ metric: 'loss', points: history }), marks: ['line', 'symbol'], texts: ['loss per split', 'step', 'loss', 'train', 'validation', 'test'] },
  { name: 'metric history over epochs', spec: metricHistorySpec({ metric: 'accuracy', points: history, x: 'epoch', title: 'Accuracy' }), marks: ['line'], texts: ['Accuracy', 'epoch', 'accuracy'] },
  {
    name: 'regression fit',
    spec: regressionFitSpec({ points: Array.from({ length: 21 }, (_, i) => ({ x: i / 20, y: (i / 20) ** 2, prediction: 0.9 * (i / 20) ** 2 })) }),
    marks: ['symbol', 'line'],
    texts: ['x', 'y', 'data', 'model'],
  },
  {
    name: 'optimizer comparison',
    spec: comparisonCurvesSpec({ metric: 'train.loss', curves: [{ name: 'sgd', points: history.slice(0, 30) }, { name: 'adam', points: history.slice(0, 30).map((p) => ({ ...p, value: p.value / 3 })) }], seriesTitle: 'optimizer' }),
    marks: ['line'],
    texts: ['train.loss', 'step', 'optimizer', 'sgd', 'adam'],
  },
  { name: 'saddle surface', spec: surfaceTrajectoriesSpec({ surface: saddle, trajectories, xTitle: 'x1', yTitle: 'x2' }), marks: ['rule', 'line', 'symbol'], texts: ['x1', 'x2', 'height', 'optimizer', 'sgd', 'momentum'] },
  {
    name: 'sweep metric per hyperparameter',
    spec: sweepMetricSpec({ metric: 'test.accuracy', parameters: ['train.optimizer.learningRate', 'model.loss.type'], points: sweepPoints }),
    marks: ['symbol'],
    texts: ['train.optimizer.learningRate', 'model.loss.type', 'test.accuracy', 'meanSquaredError', 'categoricalCrossentropy'],
  },
  {
    name: 'parallel coordinates',
    spec: parallelCoordinatesSpec({ metric: 'test.accuracy', parameters: ['train.optimizer.learningRate', 'model.loss.type'], points: sweepPoints }),
    marks: ['rule', 'line', 'text'],
    texts: ['train.optimizer.learningRate', 'model.loss.type', 'test.accuracy', 'meanSquaredError', '0.001', '0.1'],
  },
  {
    name: 'final metrics',
    spec: finalMetricsSpec({ runs: [{ label: 'runs/a', metrics: { 'test.accuracy': 0.9, 'train.loss': 0.3 } }, { label: 'runs/b', metrics: { 'test.accuracy': 0.95, 'train.loss': 0.2 } }] }),
    marks: ['rect', 'text'],
    texts: ['Final metrics', 'test.accuracy', 'train.loss', 'runs/a', 'runs/b'],
  },
];

describe('chart specs', () => {
  it.each(charts)('$name compiles without warnings and renders its marks and titles', async ({ spec, marks, texts }) => {
    const warnings: string[] = [];
    compileSpec(spec, { onWarning: (m) => warnings.push(m) });
    const svg = await renderSvg(spec, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const mark of marks) expect(markGroups(svg, mark), mark).toBeGreaterThan(0);
    const shown = svgTexts(svg);
    for (const text of texts) expect(shown, text).toContain(text);
  });

  it('uses a log scale for a loss spanning more than two decades, and a linear one otherwise', () => {
    const scaleTypes = (spec: TopLevelSpec) => (compileSpec(spec).scales ?? []).map((s) => ('type' in s ? s.type : undefined));
    expect(scaleTypes(metricHistorySpec({ metric: 'loss', points: history }))).toContain('log');
    const narrow = history.map((p) => ({ ...p, value: 1 + p.value / 10 }));
    expect(scaleTypes(metricHistorySpec({ metric: 'loss', points: narrow }))).not.toContain('log');
    expect(scaleTypes(metricHistorySpec({ metric: 'loss', points: history, logScale: false }))).not.toContain('log');
  });

  it('leaves out values that are not finite (a NaN loss) instead of failing', async () => {
    const spec = metricHistorySpec({ metric: 'loss', points: [...history, { step: 400, split: 'train', value: NaN }, { step: 410, split: 'train', value: Infinity }] });
    const values = (spec as { data: { values: unknown[] } }).data.values;
    expect(values).toHaveLength(history.length);
    await expect(renderSvg(spec)).resolves.toContain('mark-line');
  });

  it('places categorical and numeric hyperparameters on parallel axes from 0 to 1, logarithmically for a wide range', () => {
    const spec = parallelCoordinatesSpec({ metric: 'test.accuracy', parameters: ['train.optimizer.learningRate', 'model.loss.type'], points: sweepPoints }) as { layer: { data: { values: Record<string, unknown>[] } }[] };
    const lines = spec.layer[1]!.data.values;
    expect(lines).toHaveLength(sweepPoints.length * 3);
    for (const row of lines) {
      expect(row['position']).toBeGreaterThanOrEqual(0);
      expect(row['position']).toBeLessThanOrEqual(1);
    }
    const rate = (value: number) => lines.find((r) => r['dimension'] === 'train.optimizer.learningRate' && r['shown'] === JSON.stringify(value))!['position'];
    // 0.001, 0.01, 0.1 span two decades: a log axis spaces them evenly.
    expect(rate(0.001)).toBe(0);
    expect(rate(0.01)).toBeCloseTo(0.5, 10);
    expect(rate(0.1)).toBe(1);
    const labels = spec.layer[2]!.data.values.filter((l) => l['dimension'] === 'model.loss.type').map((l) => l['label']);
    expect(labels).toEqual(['meanSquaredError', 'categoricalCrossentropy']);
  });

  it('draws error bars on the sweep chart only where trials repeat the same values', async () => {
    const once = await renderSvg(sweepMetricSpec({ metric: 'm', parameters: ['p'], points: [{ id: 'a', parameters: { p: 1 }, value: 1 }, { id: 'b', parameters: { p: 2 }, value: 2 }] }));
    const repeated = await renderSvg(
      sweepMetricSpec({ metric: 'm', parameters: ['p'], points: [{ id: 'a', parameters: { p: 1 }, value: 1 }, { id: 'a2', parameters: { p: 1 }, value: 1.2 }, { id: 'b', parameters: { p: 2 }, value: 2 }] }),
    );
    expect(markGroups(once, 'rule')).toBe(0);
    expect(markGroups(repeated, 'rule')).toBeGreaterThan(0);
  });

  it('stacks several charts into one figure that keeps every title', async () => {
    const spec = stackedSpec([finalMetricsSpec({ runs: [{ label: 'a', metrics: { m: 1 } }] }), comparisonCurvesSpec({ metric: 'train.loss', curves: [{ name: 'a', points: history.slice(0, 5) }] })], 'Both');
    const shown = svgTexts(await renderSvg(spec));
    expect(shown).toEqual(expect.arrayContaining(['Both', 'Final metrics', 'train.loss by run']));
  });

  it('rejects a ragged surface grid, saying which row', () => {
    const ragged = { xs: [0, 1, 2], ys: [0, 1], values: [[0, 1, 2], [0, 1]] };
    expect(() => surfaceTrajectoriesSpec({ surface: ragged, trajectories: [] })).toThrow(/row 1 of the surface has 2 values for 3 x samples/);
  });
});
