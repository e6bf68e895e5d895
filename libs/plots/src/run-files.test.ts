import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@dlexp/core';
import { describe, expect, it } from 'vitest';
import { folderKind, readMetricsRows, readPredictions, readResolvedConfig, readRun, readSummary, readSweep } from './run-files';
import { gridSweepFixture, regressionPredictions, repeatedSweepFixture, temporaryFolder, writeRunFixture, writeSweepFixture } from './test-fixtures';

function write(name: string, content: string): string {
  const file = join(temporaryFolder('files'), name);
  writeFileSync(file, content);
  return file;
}

describe('run folders', () => {
  it('reads a run: summary, metric rows, resolved config and predictions', () => {
    const dir = writeRunFixture(join(temporaryFolder('run'), 'run'), { predictions: regressionPredictions(5) });
    const run = readRun(dir);
    expect(run.summary).toMatchObject({ name: 'fixture-classifier', status: 'completed', seed: 1, backend: { name: 'cpu' }, startedAt: '2026-11-27T12:00:00.000Z' });
    expect(run.summary!.metrics['test.accuracy']).toBe(0.88);
    expect(run.rows[0]).toMatchObject({ step: 1, epoch: 0.05 });
    expect(run.config).toMatchObject({ name: 'fixture-classifier', train: { optimizer: { learningRate: 0.1 } } });
    expect(run.configText!.split('\n')[0]).toMatch(/^# fixture-classifier: resolved from/);
    expect(run.predictions!.columns).toEqual(['x', 'y', 'prediction']);
    expect(run.predictions!.rows).toHaveLength(5);
    expect(folderKind(dir)).toBe('run');
  });

  it('reads a run still going (no summary.json yet)', () => {
    const run = readRun(writeRunFixture(join(temporaryFolder('running'), 'run'), { withoutSummary: true }));
    expect(run.summary).toBeUndefined();
    expect(run.rows.length).toBeGreaterThan(0);
  });

  it('says which folder is not a run', () => {
    const empty = temporaryFolder('empty');
    expect(() => readRun(empty)).toThrow(`${empty}: not a run folder (it holds none of summary.json, metrics.jsonl, config.resolved.yaml)`);
    expect(() => readRun(join(empty, 'missing'))).toThrow(`${join(empty, 'missing')}: no such folder`);
    expect(folderKind(empty)).toBeUndefined();
  });

  it('names the file and line of a bad metrics.jsonl row, and skips only a cut-off last line', () => {
    const bad = write('metrics.jsonl', '{"step":1,"train.loss":1}\n{"step":2,"train.loss":\n{"step":3}\n');
    expect(() => readMetricsRows(bad)).toThrow(new RegExp(`^${bad}:2: not valid JSON`));
    const notObject = write('metrics.jsonl', '{"step":1}\n[1,2]\n');
    expect(() => readMetricsRows(notObject)).toThrow(`${notObject}:2: expected a JSON object per line`);
    // A run killed while writing leaves a last line without its newline.
    const cut = write('metrics.jsonl', '{"step":1,"train.loss":1}\n{"step":2,"train.lo');
    expect(readMetricsRows(cut)).toEqual([{ step: 1, 'train.loss': 1 }]);
  });

  it('names the file, line and column of bad JSON and YAML', () => {
    const summary = write('summary.json', '{\n  "name": "x",\n  "status": completed\n}\n');
    // Node gives the offset of a JSON error only in some messages; the file is always named.
    expect(() => readSummary(summary)).toThrow(new RegExp(`^${summary}(:3:\\d+)?: not valid JSON`));
    const list = write('summary.json', '[1]');
    expect(() => readSummary(list)).toThrow(`${list}: expected a JSON object, found an array`);
    const yaml = write('config.resolved.yaml', '# a\n# b\nname: x\ntrain:\n  steps: [1, 2\n');
    expect(() => readResolvedConfig(yaml)).toThrow(new RegExp(`^${yaml}:\\d+:\\d+: not valid YAML`));
  });

  it('names the line and column of a bad predictions.csv value, and keeps a run readable without it', () => {
    const short = write('predictions.csv', 'x,y,prediction\n1,2,3\n4,5\n');
    expect(() => readPredictions(short)).toThrow(`${short}:3: expected 3 values (x, y, prediction), found 2`);
    const word = write('predictions.csv', 'x,y,prediction\n1,2,undefined\n');
    expect(() => readPredictions(word)).toThrow(`${word}:2: column 'prediction': 'undefined' is not a number`);
    const dir = writeRunFixture(join(temporaryFolder('bad-predictions'), 'run'));
    writeFileSync(join(dir, 'predictions.csv'), 'x,y\n1\n');
    const run = readRun(dir);
    expect(run.predictions).toBeUndefined();
    expect(run.problems).toEqual([`${join(dir, 'predictions.csv')}:2: expected 2 values (x, y), found 1`]);
  });
});

describe('sweep folders', () => {
  it('reads the runner\'s sweep summary: parameters, trials, best', () => {
    const dir = gridSweepFixture(join(temporaryFolder('sweep'), 'sweep'));
    const sweep = readSweep(dir);
    expect(folderKind(dir)).toBe('sweep');
    expect(sweep).toMatchObject({ name: 'fixture-sweep', status: 'completed', method: 'grid', metric: 'test.accuracy', goal: 'maximize', bestId: 'trial-004' });
    expect(sweep.parameterNames).toEqual(['train.optimizer.learningRate', 'model.loss.type']);
    expect(sweep.trials.map((t) => t.id)).toEqual(['trial-001', 'trial-002', 'trial-003', 'trial-004']);
    expect(sweep.trials[3]).toMatchObject({ parameters: { 'train.optimizer.learningRate': 1, 'model.loss.type': 'categoricalCrossentropy' }, status: 'completed', runDirectory: join(dir, 'trials', 'trial-004') });
    expect(() => readRun(dir)).toThrow(`${dir}: a sweep folder, not a single run (read it as a sweep)`);
  });

  it('accepts trial values under `values`, pruned trials and repeats', () => {
    const dir = join(temporaryFolder('sweep-new'), 'sweep');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'summary.json'),
      JSON.stringify({
        name: 'later-sweep',
        status: 'completed',
        sweep: { method: 'random', metric: 'test.loss', goal: 'minimize' },
        trials: [
          { id: 't1', values: { lr: 0.1 }, status: 'completed', metrics: { 'test.loss': 0.2 }, repeats: [{ seed: 1, metrics: { 'test.loss': 0.19 } }, { seed: 2, metrics: { 'test.loss': 0.21 }, runDirectory: 'trials/t1/s2' }] },
          { id: 't2', values: { lr: 1 }, status: 'pruned', metrics: {} },
          { values: { lr: 10 }, status: 'failed' },
        ],
      }),
    );
    const sweep = readSweep(dir);
    expect(sweep.parameterNames).toEqual(['lr']);
    expect(sweep.goal).toBe('minimize');
    expect(sweep.trials.map((t) => [t.id, t.status])).toEqual([['t1', 'completed'], ['t2', 'pruned'], ['trial-003', 'failed']]);
    expect(sweep.trials[0]!.repeats).toEqual([{ seed: 1, metrics: { 'test.loss': 0.19 } }, { seed: 2, metrics: { 'test.loss': 0.21 }, runDirectory: join(dir, 'trials', 't1', 's2') }]);
  });

  it('reads the sweep library\'s richer summary: values by name, repeats as trials, configurations, a best configuration', () => {
    const sweep = readSweep(repeatedSweepFixture(join(temporaryFolder('sweep-repeated'), 'sweep')));
    expect(sweep.parameterNames).toEqual(['rate']);
    expect(sweep.trials.map((t) => [t.id, t.parameters, t.seed, t.repeat, t.configuration])).toEqual([
      ['trial-001', { rate: 0.01 }, 1, 0, 0],
      ['trial-002', { rate: 0.01 }, 2, 1, 0],
      ['trial-003', { rate: 0.1 }, 1, 0, 1],
      ['trial-004', { rate: 0.1 }, 2, 1, 1],
    ]);
    expect(sweep.bestIds).toEqual(['trial-003', 'trial-004']);
    expect(sweep.bestId).toBe('trial-003');
    expect(sweep.configurations[1]).toEqual({ configuration: 1, values: { rate: 0.1 }, trialIds: ['trial-003', 'trial-004'], status: 'completed', metric: { mean: 0.81, std: 0.01, count: 2 } });
  });

  it('reads a sweep still running from its trial folders', () => {
    const dir = writeSweepFixture(join(temporaryFolder('sweep-running'), 'sweep'), {
      parameters: { lr: [0.1, 1] },
      trials: [{ id: 'trial-001', parameters: { lr: 0.1 }, metrics: { 'test.accuracy': 0.8 } }, { id: 'trial-002', parameters: { lr: 1 }, run: { withoutSummary: true } }],
      withoutSummary: true,
    });
    expect(folderKind(dir)).toBe('sweep');
    const sweep = readSweep(dir);
    expect(sweep.status).toBe('incomplete');
    expect(sweep.name).toBe('fixture-sweep');
    expect(sweep.trials.map((t) => [t.id, t.status, t.parameters])).toEqual([['trial-001', 'completed', { lr: 0.1 }], ['trial-002', 'running', { lr: 1 }]]);
  });

  it('says when a folder is not a sweep', () => {
    const run = writeRunFixture(join(temporaryFolder('not-sweep'), 'run'));
    expect(() => readSweep(run)).toThrow(`${join(run, 'summary.json')}: a single run's summary, not a sweep's (it has no trials)`);
    expect(() => readSweep(temporaryFolder('nothing'))).toThrow(DataError);
  });
});
