import { describe, expect, it } from 'vitest';
import { configurationLabel, epochTable, formatValue, liveTable, shortLabels, sweepTable, bestLine, progressLine, varyingParameters } from './report';
import type { SweepSummaryFile, TrialEntry } from './sweep-folder';
import type { TrialRecord } from './trials';

function trial(index: number, configuration: number, repeat: number, values: TrialEntry['values'], status: TrialEntry['status'], metrics: TrialEntry['metrics'], extra: Partial<TrialEntry> = {}): TrialEntry {
  const id = `trial-${String(index + 1).padStart(3, '0')}`;
  return { id, index, configuration, repeat, seed: 1 + repeat, values, parameters: values, status, metrics, intermediate: [], runDirectory: `trials/${id}`, ...extra };
}

const sgd = { type: 'sgd', learningRate: 0.2 };
const adam = { type: 'adam', learningRate: 0.001 };
const rmsprop = { type: 'rmsprop', learningRate: 0.001 };

/** Three optimizers, two repeats each: adam best, sgd second, rmsprop diverged once. */
const file: SweepSummaryFile = {
  name: 'optimizers',
  status: 'completed',
  sweep: {
    id: 'sweep-x',
    identity: { id: 'sweep-x', sweep: 'a', experiment: 'b' },
    method: 'grid',
    metric: 'validation.accuracy',
    goal: 'maximize',
    parameters: {},
    maxTrials: null,
    seed: 1,
    parallel: 2,
    repeats: 2,
    earlyTermination: null,
    totalTrials: 6,
  },
  trials: [
    trial(0, 0, 0, { optimizer: sgd }, 'completed', { 'validation.accuracy': 0.9, 'test.accuracy': 0.89, 'train.accuracy': 0.93 }, { stopped: { reason: 'r', step: 40 } }),
    trial(1, 0, 1, { optimizer: sgd }, 'completed', { 'validation.accuracy': 0.92, 'test.accuracy': 0.91, 'train.accuracy': 0.95 }),
    trial(2, 1, 0, { optimizer: adam }, 'completed', { 'validation.accuracy': 0.95, 'test.accuracy': 0.94, 'train.accuracy': 0.97 }),
    trial(3, 1, 1, { optimizer: adam }, 'completed', { 'validation.accuracy': 0.97, 'test.accuracy': 0.96, 'train.accuracy': 0.99 }, { expectationsMet: true }),
    trial(4, 2, 0, { optimizer: rmsprop }, 'failed', {}, { error: 'the loss became NaN at step 20; try a smaller learning rate' }),
    trial(5, 2, 1, { optimizer: rmsprop }, 'completed', { 'validation.accuracy': 0.5, 'test.accuracy': null }),
  ],
  configurations: [],
  ranking: [1, 0],
  best: { configuration: 1, id: 'trial-003', trialIds: ['trial-003', 'trial-004'], values: { optimizer: adam }, parameters: { 'train.optimizer': adam }, metric: { mean: 0.96, std: 0.014, count: 2 }, metrics: { 'test.accuracy': 0.95 } },
  epochs: 12,
  timing: { startedAt: '', updatedAt: '', elapsedMs: 0 },
};

const rowsOf = (table: string) => table.split('\n').filter((line) => line.startsWith('│'));

describe('sweep tables', () => {
  it('formats registry entries by their type and parameters, and other values as data', () => {
    expect(formatValue(adam)).toBe('adam learningRate=0.001');
    expect(formatValue(0.000012345)).toBe('1.234e-5');
    expect(formatValue([16, 32])).toBe('[16,32]');
    expect(configurationLabel({ 'train.optimizer.learningRate': 0.1, 'model.layers[fc1].units': 64 })).toBe('learningRate=0.1, units=64');
    expect(configurationLabel({ 'model.layers[fc1].units': 64, 'model.layers[fc2].units': 32 })).toBe('model.layers[fc1].units=64, model.layers[fc2].units=32');
    expect(shortLabels([{ optimizer: sgd }, { optimizer: adam }])).toEqual(['sgd', 'adam']);
    expect(shortLabels([{ optimizer: sgd }, { optimizer: { ...sgd, learningRate: 0.1 } }])).toEqual(['sgd learningRate=0.2', 'sgd learningRate=0.1']);
    // A parameter with one value (the same validation split for every trial) tells nothing apart.
    const held = [{ rate: 0, 'data.validationSplit': 2000 }, { rate: 0.5, 'data.validationSplit': 2000 }];
    expect(varyingParameters(held)).toEqual(['rate']);
    expect(shortLabels(held)).toEqual(['0', '0.5']);
    expect(varyingParameters([{ a: 1 }])).toEqual(['a']);
  });

  it('ranks configurations by the metric, mean ± std over repeats, the unranked after, with gaps, stops and errors', () => {
    const rows = rowsOf(sweepTable(file, { stoppedColumn: true }));
    expect(rows[0]).toMatch(/│ # +│ trial +│ optimizer +│ status +│ validation\.accuracy \(max\) │ test\.accuracy │ train\.accuracy │ train−test accuracy │ stopped at step │ error/);
    expect(rows[1]).toMatch(/│ 1 +│ trial-003…004 │ adam learningRate=0\.001 +│ completed +│ 0\.96 ± 0\.014 +│ 0\.95 ± 0\.014 +│ 0\.98 +│ 0\.03 +│ never, never +│ +│/);
    expect(rows[2]).toMatch(/│ 2 +│ trial-001…002 │ sgd learningRate=0\.2 +│ completed +│ 0\.91 ± 0\.014 .*│ 40, never/);
    // Only the completed repeat of rmsprop is measured; its failure is named.
    expect(rows[3]).toMatch(/│ +│ trial-005…006 │ rmsprop learningRate=0\.001 │ 1 of 2 failed +│ 0\.5 +│ NaN +│ — .*│ the loss became NaN at step 20; try a smaller learning rate │/);
    expect(bestLine(file)).toBe('best: trial-003…004 (adam learningRate=0.001): validation.accuracy 0.96 ± 0.014; test.accuracy 0.95 ± 0.014');
    expect(progressLine(file)).toBe('6 of 6 trials done: 5 completed, 1 failed');
  });

  it('puts the metric of every epoch end side by side, one column per configuration, mean over repeats', () => {
    const rows = new Map<string, Record<string, number>[]>([
      ['trial-001', [{ step: 10, epoch: 0.5, 'train.loss': 1 }, { step: 20, epoch: 1, 'validation.loss': 0.5, 'validation.accuracy': 0.8 }, { step: 40, epoch: 2, 'validation.loss': 0.3, 'validation.accuracy': 0.9 }]],
      ['trial-002', [{ step: 20, epoch: 1, 'validation.loss': 0.7, 'validation.accuracy': 0.84 }]],
      ['trial-003', [{ step: 20, epoch: 1, 'validation.loss': 0.2, 'validation.accuracy': 0.95 }]],
    ]);
    const table = epochTable(file, rows, ['validation.loss', 'validation.accuracy'])!;
    expect(table.split('\n')[0]).toBe('validation.loss / validation.accuracy at each epoch end (mean of 2 repeats)');
    const lines = rowsOf(table);
    expect(lines[0]).toMatch(/│ epoch │ adam +│ sgd +│ rmsprop │/);
    expect(lines[1]).toMatch(/│ 1 +│ 0\.2 \/ 0\.95 │ 0\.6 \/ 0\.82 │ — \/ — +│/);
    expect(lines[2]).toMatch(/│ 2 +│ — \/ — +│ 0\.3 \/ 0\.9 +│ — \/ — +│/);
    expect(epochTable(file, new Map(), ['validation.loss'])).toBeUndefined();
  });

  it('shows running trials with their last epoch, then the latest finished', () => {
    const record = (id: string, status: TrialRecord['status'], intermediate: TrialRecord['intermediate'], result?: TrialRecord['result']): TrialRecord => ({
      spec: { sweepId: 's', trialId: id, index: 0, configuration: 0, values: { lr: 0.1 }, parameters: {}, seed: 1, repeat: 0, experiment: {} },
      status,
      intermediate,
      ...(result !== undefined ? { result } : {}),
    });
    const records = [
      record('trial-001', 'pruned', [{ epoch: 1, value: 0.3 }], { trialId: 'trial-001', status: 'pruned', metrics: {}, intermediate: [], epoch: 1 }),
      record('trial-002', 'running', [{ epoch: 2, value: 0.8 }]),
    ];
    const text = liveTable(records, { metric: 'validation.accuracy', totalTrials: 4, finishedOrder: ['trial-001'], started: new Map([['trial-002', 0]]), now: 5000 });
    expect(text.split('\n')[0]).toBe('1 of 4 trials done (0 completed, 1 pruned, 0 failed), 1 running');
    const lines = rowsOf(text);
    expect(lines[1]).toMatch(/│ trial-002 │ 0\.1 +│ running +│ 2 +│ 0\.8 +│ 5 s +│/);
    expect(lines[2]).toMatch(/│ trial-001 │ 0\.1 +│ pruned at 1 │ 1 +│ 0\.3 +│/);
  });
});
