import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@dlexp/core';
import { describe, expect, it } from 'vitest';
import { keyMetricsOf, listRuns, pruneRuns, removeRun, runsTable } from './runs';
import { gridSweepFixture, repeatedSweepFixture, temporaryFolder, writeRunFixture, writeSweepFixture } from './test-fixtures';

/** A log folder as `runs/` looks after some work: runs at different depths, a sweep, a run in progress. */
function logFolder(): string {
  const logdir = temporaryFolder('logdir');
  writeRunFixture(join(logdir, 'mnist', '20261127-120000-s1'), { name: 'mnist', startedAt: '2026-11-27T12:00:00.000Z' });
  writeRunFixture(join(logdir, 'mnist', '20261128-120000-s1'), { name: 'mnist', startedAt: '2026-11-28T12:00:00.000Z', status: 'failed', error: 'loss became NaN at step 3' });
  writeRunFixture(join(logdir, 'mnist', '20261129-120000-s1'), { name: 'mnist', startedAt: '2026-11-29T12:00:00.000Z' });
  writeRunFixture(join(logdir, 'mnist', '20261126-120000-s1'), { name: 'mnist', startedAt: '2026-11-26T12:00:00.000Z', status: 'interrupted' });
  writeRunFixture(join(logdir, 'deep', 'er', 'still', 'linear'), { name: 'linear', metrics: { 'train.loss': 1e-11, k: 0.1, b: 0.2 }, startedAt: '2026-11-20T08:00:00.000Z' });
  writeRunFixture(join(logdir, 'mnist', '20261130-090000-s1'), { name: 'mnist', withoutSummary: true });
  gridSweepFixture(join(logdir, 'fixture-sweep', 'sweep-20261125-100000-s1'));
  return logdir;
}

describe('listRuns', () => {
  it('finds runs at any depth, sweeps with their trials, and runs still going', () => {
    const logdir = logFolder();
    const runs = listRuns(logdir);
    expect(runs.map((r) => [r.relativePath, r.kind, r.name, r.status])).toEqual([
      ['fixture-sweep/sweep-20261125-100000-s1', 'sweep', 'fixture-sweep', 'completed'],
      ['fixture-sweep/sweep-20261125-100000-s1/trials/trial-001', 'trial', 'fixture-sweep', 'completed'],
      ['fixture-sweep/sweep-20261125-100000-s1/trials/trial-002', 'trial', 'fixture-sweep', 'completed'],
      ['fixture-sweep/sweep-20261125-100000-s1/trials/trial-003', 'trial', 'fixture-sweep', 'completed'],
      ['fixture-sweep/sweep-20261125-100000-s1/trials/trial-004', 'trial', 'fixture-sweep', 'completed'],
      ['deep/er/still/linear', 'run', 'linear', 'completed'],
      ['mnist/20261126-120000-s1', 'run', 'mnist', 'interrupted'],
      ['mnist/20261127-120000-s1', 'run', 'mnist', 'completed'],
      ['mnist/20261128-120000-s1', 'run', 'mnist', 'failed'],
      ['mnist/20261129-120000-s1', 'run', 'mnist', 'completed'],
      ['mnist/20261130-090000-s1', 'run', 'mnist', 'running'],
    ]);
    const linear = runs.find((r) => r.name === 'linear')!;
    expect(linear).toMatchObject({ seed: 1, backend: 'cpu', startedAt: '2026-11-20T08:00:00.000Z', keyMetrics: { 'train.loss': 1e-11, b: 0.2, k: 0.1 } });
    // Without summary.json, the start time comes from the run id in the folder name.
    expect(runs.find((r) => r.status === 'running')!.startedAt).toBe('2026-11-30T09:00:00.000Z');
    expect(runs[0]).toMatchObject({ trials: 4, keyMetrics: { 'best test.accuracy': 0.9 }, startedAt: '2026-11-25T10:00:00.000Z' });
    expect(listRuns(logdir, { trials: false }).some((r) => r.kind === 'trial')).toBe(false);
  });

  it('shows the listing as a table with key metrics', () => {
    const table = runsTable(listRuns(logFolder(), { trials: false }));
    expect(table.head).toEqual(['name', 'kind', 'status', 'started', 'seed', 'backend', 'best test.accuracy', 'test.accuracy', 'test.loss', 'train.loss', 'b', 'k', 'folder']);
    expect(table.rows[0]!.slice(0, 4)).toEqual(['fixture-sweep', 'sweep', 'completed', '2026-11-25 10:00:00Z']);
  });

  it('shows a sweep with repeats by its best configuration\'s mean', () => {
    const logdir = temporaryFolder('logdir-repeated');
    repeatedSweepFixture(join(logdir, 'repeated', 'sweep-20261201-000000-s1'));
    expect(listRuns(logdir, { trials: false })).toMatchObject([{ kind: 'sweep', name: 'repeated', trials: 4, keyMetrics: { 'best validation.accuracy': 0.81 } }]);
  });

  it('picks test metrics first and leaves train metrics other than the loss out', () => {
    expect(Object.keys(keyMetricsOf({ 'train.accuracy': 1, 'train.loss': 1, 'test.loss': 1, 'test.accuracy': 1, 'validation.accuracy': 1, k: 1 }))).toEqual(['test.accuracy', 'test.loss', 'validation.accuracy', 'train.loss']);
  });

  it('lists a malformed summary as unreadable instead of failing, and refuses a missing log folder', () => {
    const logdir = temporaryFolder('logdir-bad');
    mkdirSync(join(logdir, 'broken'));
    writeFileSync(join(logdir, 'broken', 'summary.json'), '{"name": ');
    expect(listRuns(logdir)).toMatchObject([{ relativePath: 'broken', status: 'unreadable' }]);
    expect(() => listRuns(join(logdir, 'nope'))).toThrow(ConfigError);
  });
});

describe('pruneRuns', () => {
  it('keeps the newest N finished runs of each experiment and never deletes unfinished ones', () => {
    const logdir = logFolder();
    const result = pruneRuns(logdir, { keep: 1 });
    // The run in progress does not count: the newest finished mnist run stays.
    expect(result.kept.map((r) => r.relativePath).sort()).toEqual(['deep/er/still/linear', 'fixture-sweep/sweep-20261125-100000-s1', 'mnist/20261129-120000-s1']);
    expect(result.removed.map((r) => r.relativePath).sort()).toEqual(['mnist/20261127-120000-s1', 'mnist/20261128-120000-s1']);
    expect(result.spared.map((s) => [s.run.relativePath, s.reason])).toEqual([
      ['mnist/20261130-090000-s1', 'running, not finished'],
      ['mnist/20261126-120000-s1', 'interrupted, not finished'],
    ]);
    expect(existsSync(join(logdir, 'mnist', '20261127-120000-s1'))).toBe(false);
    expect(existsSync(join(logdir, 'mnist', '20261128-120000-s1'))).toBe(false);
    expect(existsSync(join(logdir, 'mnist', '20261126-120000-s1'))).toBe(true);
    expect(existsSync(join(logdir, 'mnist', '20261130-090000-s1'))).toBe(true);
  });

  it('deletes unfinished runs only when told, and nothing on a dry run', () => {
    const logdir = logFolder();
    const dry = pruneRuns(logdir, { keep: 0, dryRun: true });
    expect(dry.removed).toHaveLength(5);
    expect(listRuns(logdir, { trials: false })).toHaveLength(7);
    const all = pruneRuns(logdir, { keep: 0, includeUnfinished: true });
    expect(all.removed).toHaveLength(7);
    expect(listRuns(logdir)).toEqual([]);
  });

  it('refuses to delete anything outside the log folder or through a symbolic link', () => {
    const logdir = logFolder();
    const outside = writeRunFixture(join(temporaryFolder('outside'), 'run'), { name: 'mnist', startedAt: '2020-01-01T00:00:00.000Z' });
    expect(() => removeRun(logdir, outside)).toThrow(`${outside}: refusing to delete a folder outside the log folder ${logdir}`);
    expect(() => removeRun(logdir, join(logdir, '..'))).toThrow(/refusing to delete a folder outside the log folder/);
    expect(() => removeRun(logdir, logdir)).toThrow(/refusing to delete a folder outside the log folder/);
    symlinkSync(outside, join(logdir, 'mnist', 'linked'));
    // The link is not followed while listing, so pruning never sees the run behind it ...
    expect(listRuns(logdir).some((r) => r.path.endsWith('linked'))).toBe(false);
    pruneRuns(logdir, { keep: 0, includeUnfinished: true });
    expect(existsSync(outside)).toBe(true);
    // ... and deleting through it is refused.
    expect(() => removeRun(logdir, join(logdir, 'mnist', 'linked'))).toThrow(/refusing to delete a folder outside the log folder/);
    const inside = writeRunFixture(join(logdir, 'kept'));
    symlinkSync(inside, join(logdir, 'alias'));
    expect(() => removeRun(logdir, join(logdir, 'alias'))).toThrow(/reached through a symbolic link/);
    expect(existsSync(inside)).toBe(true);
  });

  it('refuses a folder that is not a run, and a bad --keep', () => {
    const logdir = logFolder();
    mkdirSync(join(logdir, 'notes'));
    expect(() => removeRun(logdir, join(logdir, 'notes'))).toThrow(/not a run or sweep folder; refusing to delete it/);
    expect(() => pruneRuns(logdir, { keep: -1 })).toThrow('--keep -1: expected a whole number ≥ 0');
    expect(() => pruneRuns(logdir, { keep: 1.5 })).toThrow(ConfigError);
  });

  it('counts a sweep as one unit with its trials, apart from single runs of the same name', () => {
    const logdir = temporaryFolder('logdir-sweeps');
    gridSweepFixture(join(logdir, 'fixture-sweep', 'sweep-20261125-100000-s1'));
    gridSweepFixture(join(logdir, 'fixture-sweep', 'sweep-20261126-100000-s1'));
    writeSweepFixture(join(logdir, 'fixture-sweep', 'sweep-20261127-100000-s1'), { parameters: { lr: [1] }, trials: [{ id: 'trial-001', parameters: { lr: 1 }, run: { withoutSummary: true } }], withoutSummary: true });
    writeRunFixture(join(logdir, 'fixture-sweep', '20261101-000000-s1'), { name: 'fixture-sweep', startedAt: '2026-11-01T00:00:00.000Z' });
    const result = pruneRuns(logdir, { keep: 1 });
    // The newest sweep is still running: spared and not counted, so the newer finished sweep stays.
    expect(result.kept.map((r) => r.relativePath).sort()).toEqual(['fixture-sweep/20261101-000000-s1', 'fixture-sweep/sweep-20261126-100000-s1']);
    expect(result.removed.map((r) => r.relativePath)).toEqual(['fixture-sweep/sweep-20261125-100000-s1']);
    expect(result.spared.map((s) => [s.run.relativePath, s.reason])).toEqual([['fixture-sweep/sweep-20261127-100000-s1', 'incomplete, not finished']]);
    expect(existsSync(join(logdir, 'fixture-sweep', 'sweep-20261125-100000-s1'))).toBe(false);
  });
});
