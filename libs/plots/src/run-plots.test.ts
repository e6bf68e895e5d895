import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleSurface } from './contours';
import { readRun, readSweep } from './run-files';
import { renderSvg } from './render';
import { chooseStepAxis, readTrialRuns, regressionPoints, runFigures, runSeries, sweepFigures, sweepPoints, trialLabel, writePlots, writeRunPlots, writeSweepPlots } from './run-plots';
import { gridSweepFixture, markGroups, regressionPredictions, repeatedSweepFixture, svgTexts, temporaryFolder, writeRunFixture, writeSweepFixture } from './test-fixtures';

const PNG_SIGNATURE = '89504e470d0a1a0a';

describe('run plots', () => {
  it('writes a figure per metric into <run>/plots/, as SVG and PNG', async () => {
    const dir = writeRunFixture(join(temporaryFolder('plots'), 'run'));
    const warnings: string[] = [];
    const written = await writeRunPlots(dir, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(written.dir).toBe(join(dir, 'plots'));
    expect(written.figures).toEqual(['loss', 'accuracy']);
    expect(readdirSync(join(dir, 'plots')).sort()).toEqual(['accuracy.png', 'accuracy.svg', 'loss.png', 'loss.svg']);
    const loss = readFileSync(join(dir, 'plots', 'loss.svg'), 'utf8');
    expect(markGroups(loss, 'line')).toBeGreaterThan(0);
    // Three epochs of twenty steps: plotted over epochs, train and test in the legend.
    expect(svgTexts(loss)).toEqual(expect.arrayContaining(['loss per split', 'epoch', 'loss', 'train', 'test']));
    expect(svgTexts(readFileSync(join(dir, 'plots', 'accuracy.svg'), 'utf8'))).toEqual(expect.arrayContaining(['validation', 'test']));
    expect(readFileSync(join(dir, 'plots', 'loss.png')).subarray(0, 8).toString('hex')).toBe(PNG_SIGNATURE);
  });

  it('adds the fitted curve when the run saved predictions, and the fetched values it logged', async () => {
    const rows = Array.from({ length: 11 }, (_, i) => ({ step: i * 20 + 1, epoch: i * 20 + 1, 'train.loss': 0.1 / (i + 1), k: 0.1 - 0.1 / (i + 1), b: 0.2, timeMs: i }));
    const dir = writeRunFixture(join(temporaryFolder('regression'), 'run'), { rows, predictions: regressionPredictions(), config: { name: 'nonlinear', model: { type: 'ops', savePredictions: 'prediction' } } });
    const written = await writeRunPlots(dir, { formats: ['svg'] });
    expect(written.figures).toEqual(['loss', 'values', 'regression-fit']);
    expect(written.files.every((f) => f.endsWith('.svg'))).toBe(true);
    const fit = readFileSync(join(dir, 'plots', 'regression-fit.svg'), 'utf8');
    expect(markGroups(fit, 'symbol')).toBeGreaterThan(0);
    expect(markGroups(fit, 'line')).toBeGreaterThan(0);
    expect(svgTexts(fit)).toEqual(expect.arrayContaining(['x', 'y', 'data', 'model']));
    // Steps equal epochs (full-batch training): the x axis is steps.
    expect(svgTexts(readFileSync(join(dir, 'plots', 'values.svg'), 'utf8'))).toEqual(expect.arrayContaining(['step', 'k', 'b']));
  });

  it('splits metrics.jsonl keys into per-split metrics and values without a split', () => {
    const series = runSeries([{ step: 1, epoch: 0.5, 'train.loss': 2, 'train.head1.loss': 3, k: 0.1, timeMs: 5 }, { step: 2, 'test.accuracy': 0.9 }]);
    expect([...series.metrics.keys()]).toEqual(['loss', 'head1.loss', 'accuracy']);
    expect(series.metrics.get('loss')).toEqual([{ step: 1, epoch: 0.5, split: 'train', value: 2 }]);
    expect(series.values.get('k')).toEqual([{ step: 1, epoch: 0.5, value: 0.1 }]);
    expect(series.values.has('timeMs')).toBe(false);
  });

  it('plots over epochs only when there are several epochs of several steps', () => {
    expect(chooseStepAxis([{ step: 600, epoch: 1 }, { step: 1200, epoch: 2 }])).toBe('epoch');
    expect(chooseStepAxis([{ step: 20, epoch: 1 }])).toBe('step');
    expect(chooseStepAxis([{ step: 200, epoch: 200 }])).toBe('step');
    expect(chooseStepAxis([{ step: 200 }])).toBe('step');
  });

  it('finds x, target and prediction columns of predictions.csv by the config, else by position', () => {
    const table = { columns: ['x', 'y', 'yHat'], rows: [[1, 2, 3]] };
    expect(regressionPoints(table, { model: { savePredictions: 'yHat' } })).toEqual({ points: [{ x: 1, y: 2, prediction: 3 }], xTitle: 'x', yTitle: 'y' });
    expect(regressionPoints({ columns: ['input', 'target', 'out'], rows: [[1, 2, 3]] })).toEqual({ points: [{ x: 1, y: 2, prediction: 3 }], xTitle: 'input', yTitle: 'target' });
    expect(regressionPoints({ columns: ['x', 'prediction'], rows: [[1, 2]] })).toBeUndefined();
  });

  it('draws a run\'s path over a surface when told which logged values are its position', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ step: i + 1, loss: 0, x1: 0.8 * 0.7 ** i, x2: 0.01 * 1.5 ** i }));
    const run = readRun(writeRunFixture(join(temporaryFolder('trajectory'), 'run'), { rows }));
    const surface = sampleSurface((x, y) => x * x - y * y, { x: [-1, 1], y: [-1, 1], samples: 15 });
    const figures = runFigures(run, { trajectory: { x: 'x1', y: 'x2', surface } });
    expect(figures.map((f) => f.name)).toEqual(['values', 'trajectory']);
  });

  it('refuses a folder that is neither a run nor a sweep', async () => {
    const empty = temporaryFolder('empty');
    await expect(writePlots(empty)).rejects.toThrow(`${empty}: neither a run folder nor a sweep folder`);
    expect(existsSync(join(empty, 'plots'))).toBe(false);
  });
});

describe('sweep plots', () => {
  it('writes the metric per hyperparameter, parallel coordinates, every trial\'s curves and final metrics', async () => {
    const dir = gridSweepFixture(join(temporaryFolder('sweep-plots'), 'sweep'));
    const warnings: string[] = [];
    const written = await writePlots(dir, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(written.figures).toEqual(['sweep-test.accuracy', 'parallel-coordinates', 'trials-test.accuracy', 'trials-train.loss', 'final-metrics']);
    const perParameter = readFileSync(join(dir, 'plots', 'sweep-test.accuracy.svg'), 'utf8');
    expect(svgTexts(perParameter)).toEqual(expect.arrayContaining(['train.optimizer.learningRate', 'model.loss.type', 'test.accuracy', 'meanSquaredError']));
    const curves = readFileSync(join(dir, 'plots', 'trials-train.loss.svg'), 'utf8');
    expect(svgTexts(curves)).toEqual(expect.arrayContaining(['trial-004: learningRate=1, type=categoricalCrossentropy']));
    expect(readFileSync(join(dir, 'plots', 'parallel-coordinates.png')).subarray(0, 8).toString('hex')).toBe(PNG_SIGNATURE);
  });

  it('leaves failed and pruned trials out of the metric charts and counts repeats one by one', () => {
    const dir = writeSweepFixture(join(temporaryFolder('sweep-repeats'), 'sweep'), {
      parameters: { lr: [0.1, 1, 10] },
      trials: [
        { id: 't1', parameters: { lr: 0.1 }, metrics: { 'test.accuracy': 0.8 }, repeats: [{ seed: 1, metrics: { 'test.accuracy': 0.79 } }, { seed: 2, metrics: { 'test.accuracy': 0.81 } }] },
        { id: 't2', parameters: { lr: 1 }, metrics: { 'test.accuracy': 0.9 } },
        { id: 't3', parameters: { lr: 10 }, status: 'pruned', metrics: { 'test.accuracy': 0.2 } },
        { id: 't4', parameters: { lr: 10 }, status: 'failed', withoutFolder: true },
      ],
    });
    const sweep = readSweep(dir);
    expect(sweepPoints(sweep, 'test.accuracy')).toEqual([
      { id: 't1 (seed 1)', parameters: { lr: 0.1 }, value: 0.79 },
      { id: 't1 (seed 2)', parameters: { lr: 0.1 }, value: 0.81 },
      { id: 't2', parameters: { lr: 1 }, value: 0.9 },
    ]);
    expect(trialLabel(sweep.trials[0]!, sweep.parameterNames)).toBe('t1: 0.1');
    // The trial that never started has no curve; the pruned one still shows what it logged.
    const figures = sweepFigures(sweep, new Map([['t1', readRun(join(dir, 'trials', 't1'))]]));
    expect(figures.map((f) => f.name)).toContain('trials-test.accuracy');
  });

  it('draws mean ± std where a sweep repeated each configuration with other seeds', async () => {
    const sweep = readSweep(repeatedSweepFixture(join(temporaryFolder('sweep-repeated-plots'), 'sweep')));
    const { runs } = readTrialRuns(sweep);
    const figure = sweepFigures(sweep, runs).find((f) => f.name === 'sweep-validation.accuracy')!;
    const svg = await renderSvg(figure.spec);
    // The error bars are rules; without repeats the chart has none (see specs.test.ts).
    expect(markGroups(svg, 'rule')).toBeGreaterThan(0);
    expect(svgTexts(svg)).toEqual(expect.arrayContaining(['rate', 'validation.accuracy']));
  });

  it('writes a sweep\'s trials\' paths over a surface into one figure', async () => {
    const rows = (scale: number) => Array.from({ length: 8 }, (_, i) => ({ step: i + 1, x1: scale * 0.7 ** i, x2: 0.01 * 1.5 ** i }));
    const dir = writeSweepFixture(join(temporaryFolder('sweep-trajectories'), 'sweep'), {
      metric: 'loss',
      parameters: { 'train.optimizer.type': ['sgd', 'momentum'] },
      trials: [
        { id: 'trial-001', parameters: { 'train.optimizer.type': 'sgd' }, metrics: { loss: -1 }, run: { rows: rows(0.8) } },
        { id: 'trial-002', parameters: { 'train.optimizer.type': 'momentum' }, metrics: { loss: -2 }, run: { rows: rows(0.5) } },
      ],
    });
    const surface = sampleSurface((x, y) => x * x - y * y, { x: [-1, 1], y: [-1, 1], samples: 15 });
    const written = await writeSweepPlots(dir, { formats: ['svg'], trajectory: { x: 'x1', y: 'x2', surface } });
    expect(written.figures).toContain('trajectories');
    const svg = readFileSync(join(dir, 'plots', 'trajectories.svg'), 'utf8');
    expect(svgTexts(svg)).toEqual(expect.arrayContaining(['trial-001: sgd', 'trial-002: momentum', 'x1', 'x2']));
  });
});
