import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRuns, differingKeys, flattenConfig, uniqueLabels, writeComparisonChart } from './compare';
import { defaultConfig, gridSweepFixture, markGroups, svgTexts, temporaryFolder, writeRunFixture } from './test-fixtures';

describe('config differences', () => {
  it('flattens a config to dotted paths, brackets for keys with dots, indexes for lists', () => {
    expect(flattenConfig({ train: { optimizer: { type: 'sgd', learningRate: 0.1 } }, model: { layers: [{ units: 10 }, { rate: 0.5 }] }, expect: { 'test.accuracy': { min: 0.9 } }, fetch: [], data: {} })).toEqual({
      'train.optimizer.type': 'sgd',
      'train.optimizer.learningRate': 0.1,
      'model.layers.0.units': 10,
      'model.layers.1.rate': 0.5,
      'expect[test.accuracy].min': 0.9,
      fetch: [],
      data: {},
    });
  });

  it('keeps exactly the keys whose values differ or that some configs lack', () => {
    const a = flattenConfig({ seed: 1, train: { lr: 0.1, epochs: 3 }, model: { layers: [{ units: 10 }] } });
    const b = flattenConfig({ seed: 1, train: { lr: 0.2, epochs: 3 }, model: { layers: [{ units: 10 }, { units: 5 }] } });
    expect(differingKeys([a, b])).toEqual(['train.lr', 'model.layers.1.units']);
    expect(differingKeys([a, a])).toEqual([]);
  });

  it('labels runs by the shortest distinct end of their paths', () => {
    expect(uniqueLabels(['/r/mnist/20261127-1', '/r/mnist/20261128-1'])).toEqual(['20261127-1', '20261128-1']);
    expect(uniqueLabels(['/r/a/trials/trial-001', '/r/b/trials/trial-001'])).toEqual(['a/trials/trial-001', 'b/trials/trial-001']);
  });
});

describe('compareRuns', () => {
  it('finds exactly the differing config keys of two runs and reports their final metrics', async () => {
    const root = temporaryFolder('compare');
    const slow = writeRunFixture(join(root, 'slow'), { config: defaultConfig('mnist', 0.01, 1), metrics: { 'test.accuracy': 0.8, 'train.loss': 0.5 } });
    const fast = writeRunFixture(join(root, 'fast'), { seed: 2, config: defaultConfig('mnist', 0.5, 2), metrics: { 'test.accuracy': 0.9, 'train.loss': 0.3 }, status: 'completed', expectations: [{ metric: 'test.accuracy', min: 0.95, actual: 0.9, met: false }] });
    const comparison = await compareRuns([slow, fast]);
    expect(comparison.differingKeys).toEqual(['seed', 'train.optimizer.learningRate']);
    expect(comparison.metricKeys).toEqual(['test.accuracy', 'train.loss']);
    expect(comparison.table).toEqual({
      head: ['run', 'seed', 'train.optimizer.learningRate', 'status', 'test.accuracy', 'train.loss'],
      rows: [
        ['slow', '1', '0.01', 'completed', '0.8', '0.5'],
        ['fast', '2', '0.5', 'expectations not met', '0.9', '0.3'],
      ],
    });
    expect(comparison.transposed.rows[1]).toEqual(['train.optimizer.learningRate', '0.01', '0.5']);
    expect(comparison.json.runs[1]).toEqual({ label: 'fast', dir: fast, kind: 'run', name: 'mnist', status: 'completed', seed: 2, config: { seed: 2, 'train.optimizer.learningRate': 0.5 }, metrics: { 'test.accuracy': 0.9, 'train.loss': 0.3 } });
    expect(JSON.parse(JSON.stringify(comparison.json))).toEqual(comparison.json);
    // The chart: a bar per run and metric, and both runs' loss curves.
    expect(markGroups(comparison.svg, 'rect')).toBeGreaterThan(0);
    expect(markGroups(comparison.svg, 'line')).toBeGreaterThan(0);
    expect(svgTexts(comparison.svg)).toEqual(expect.arrayContaining(['Comparison of 2 runs', 'test.accuracy', 'slow', 'fast']));
  });

  it('expands a sweep into its trials, whose differences are the swept values', async () => {
    const sweep = gridSweepFixture(join(temporaryFolder('compare-sweep'), 'sweep'));
    const comparison = await compareRuns([sweep]);
    expect(comparison.runs.map((r) => [r.label, r.kind, r.sweep?.trial])).toEqual([
      ['trial-001', 'trial', 'trial-001'],
      ['trial-002', 'trial', 'trial-002'],
      ['trial-003', 'trial', 'trial-003'],
      ['trial-004', 'trial', 'trial-004'],
    ]);
    // The fixture's trial configs differ in the learning rate only (the loss type is in the sweep's record).
    expect(comparison.differingKeys).toEqual(['train.optimizer.learningRate']);
    expect(comparison.table.rows.map((r) => r[1])).toEqual(['0.01', '0.01', '1', '1']);
  });

  it('compares a run with a sweep\'s trials, and writes the chart as SVG or PNG', async () => {
    const root = temporaryFolder('compare-mixed');
    const sweep = gridSweepFixture(join(root, 'sweep'));
    const run = writeRunFixture(join(root, 'single'), { config: defaultConfig('fixture-sweep', 0.3) });
    const comparison = await compareRuns([run, sweep]);
    expect(comparison.runs.map((r) => r.label)).toEqual(['single', 'trial-001', 'trial-002', 'trial-003', 'trial-004']);
    const png = writeComparisonChart(comparison, join(root, 'out', 'comparison.png'));
    expect(readFileSync(png).subarray(0, 4).toString('hex')).toBe('89504e47');
    const svg = writeComparisonChart(comparison, join(root, 'comparison.svg'));
    expect(readFileSync(svg, 'utf8').startsWith('<svg')).toBe(true);
  });

  it('refuses a folder that is neither a run nor a sweep, and an empty list', async () => {
    const empty = temporaryFolder('compare-empty');
    await expect(compareRuns([empty])).rejects.toThrow(`${empty}: neither a run folder nor a sweep folder`);
    await expect(compareRuns([])).rejects.toThrow('compare: give at least one run or sweep folder');
  });
});
