import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadedExperiment } from '@dlexp/config';
import type { RunSummary } from '@dlexp/train';
import { createRunSinks, writeJUnitStartError, writeSweepJUnitReport } from './run-sinks';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'run-sinks-'));
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

/** The parts of a loaded experiment the sinks read. */
const experiment = {
  resolved: { name: 'lin', seed: 1, tensorboard: false, plots: false },
  expectations: { k: { min: 0.09, max: 0.11 } },
} as unknown as LoadedExperiment;

function summary(overrides: Partial<RunSummary>): RunSummary {
  return {
    name: 'lin',
    status: 'completed',
    seed: 1,
    backend: { name: 'cpu', tfBackend: 'cpu' },
    metrics: { k: 0.1 },
    timing: { startedAt: '2026-11-27T12:00:00.000Z', totalMs: 1500 },
    configHash: 'h',
    versions: {},
    expectations: [{ metric: 'k', min: 0.09, max: 0.11, actual: 0.1, met: true }],
    ...overrides,
  };
}

describe('--junit', () => {
  it('adds a sink that writes the run report when the run ends, into a folder it creates', async () => {
    const file = join(folder, 'reports', 'lin.xml');
    const sinks = createRunSinks(experiment, () => undefined, { interactive: false, junit: file });
    for (const sink of sinks) await sink.start?.({} as never);
    for (const sink of sinks) await sink.end?.({ summary: summary({ metrics: { k: 0.2 }, expectations: [{ metric: 'k', min: 0.09, max: 0.11, actual: 0.2, met: false }] }), files: new Map() });
    const xml = readFileSync(file, 'utf8');
    expect(xml).toContain('<testsuites name="lin" tests="2" failures="1" errors="0" skipped="0" time="1.500">');
    expect(xml).toContain('<testcase name="k &gt;= 0.09" classname="lin" time="1.500"/>');
    expect(xml).toContain('<failure message="k = 0.2, expected k &lt;= 0.11" type="expectation">measured k = 0.2</failure>');
  });

  it('adds none without the option, and none for a sweep trial (the sweep writes one report for all)', () => {
    expect(createRunSinks(experiment, () => undefined, { interactive: false })).toHaveLength(1);
    expect(createRunSinks(experiment, () => undefined, { interactive: false, junit: join(folder, 'r.xml') }, { seed: 1 })).toHaveLength(1);
  });
});

describe('writeJUnitStartError', () => {
  it('reports a run refused before it started as one test case in error', () => {
    const file = join(folder, 'r.xml');
    writeJUnitStartError(undefined, 'lin', 'never written');
    writeJUnitStartError(file, 'lin', 'experiments/lin.yaml:3:1: train: missing required key \'optimizer\'');
    const xml = readFileSync(file, 'utf8');
    expect(xml).toContain('<testsuites name="lin" tests="1" failures="0" errors="1" skipped="0" time="0.000">');
    expect(xml).toContain(`<testcase name="run starts" classname="lin" time="0.000"><error message="experiments/lin.yaml:3:1: train: missing required key &apos;optimizer&apos;" type="not-started"/></testcase>`);
  });
});

describe('writeSweepJUnitReport', () => {
  function trial(id: string, run: RunSummary | undefined): void {
    mkdirSync(join(folder, 'trials', id), { recursive: true });
    if (run !== undefined) writeFileSync(join(folder, 'trials', id, 'summary.json'), JSON.stringify(run));
  }

  it('writes one suite per trial from the trials summaries, with their values, pruned trials skipped', () => {
    trial('trial-001', summary({}));
    trial('trial-002', summary({ expectations: [{ metric: 'k', min: 0.09, max: 0.11, actual: 0.5, met: false }] }));
    trial('trial-003', summary({ status: 'interrupted' }));
    trial('trial-004', undefined);
    const trials = [
      { id: 'trial-001', status: 'completed', values: { lr: 0.1 }, runDirectory: 'trials/trial-001' },
      { id: 'trial-002', status: 'completed', values: { lr: 1 }, runDirectory: 'trials/trial-002' },
      { id: 'trial-003', status: 'pruned', epoch: 2, values: { lr: 9 }, runDirectory: 'trials/trial-003' },
      { id: 'trial-004', status: 'failed', error: 'the loss became NaN', values: { lr: 99 }, runDirectory: 'trials/trial-004' },
    ];
    writeFileSync(join(folder, 'summary.json'), JSON.stringify({ name: 'lin', trials }));
    const file = join(folder, 'out', 'sweep.xml');
    writeSweepJUnitReport(file, folder, experiment);
    const xml = readFileSync(file, 'utf8');
    expect(xml).toContain('<testsuites name="lin" tests="9" failures="1" errors="3" skipped="2"');
    expect([...xml.matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1])).toEqual(['lin/trial-001', 'lin/trial-002', 'lin/trial-003', 'lin/trial-004']);
    expect(xml).toContain('<property name="lr" value="1"/>');
    expect(xml).toContain('<failure message="k = 0.5, expected k &lt;= 0.11"');
    expect(xml).toContain(`<skipped message="pruned by the sweep&apos;s early termination after epoch 2"/>`);
    expect(xml).toContain('<error message="not checked: the run failed: the loss became NaN" type="not-checked"/>');
  });

  it('finds the trials by their folders when the sweep left no summary, and does nothing without --junit', () => {
    trial('trial-001', summary({}));
    writeSweepJUnitReport(undefined, folder, experiment);
    const file = join(folder, 'r.xml');
    writeSweepJUnitReport(file, folder, experiment);
    expect(readFileSync(file, 'utf8')).toContain('<testsuite name="lin/trial-001" tests="2" failures="0" errors="0" skipped="0"');
  });
});
