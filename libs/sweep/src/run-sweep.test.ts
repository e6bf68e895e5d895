import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { parseSweepConfig, type SweepConfig } from './config';
import { createInProcessExecutor, type TrialFunction } from './executor';
import type { ParameterValues } from './parameters';
import { runSweep, type SweepRunOptions } from './run-sweep';
import { inspectSweepFolder, recordedTrials, type SweepSummaryFile } from './sweep-folder';

const folder = () => join(mkdtempSync(join(tmpdir(), 'run-sweep-')), 'sweep');

function resolve(written: Partial<SweepConfig>) {
  const block = { metric: 'validation.loss', goal: 'minimize', parameters: { x: { min: -5, max: 5 }, act: { values: ['relu', 'tanh'] } }, ...written };
  const { config, problems } = parseSweepConfig(block);
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return { config: config!, block };
}

const objective = (v: ParameterValues) => ((v['x'] as number) - 1) ** 2 + (v['act'] === 'tanh' ? 0.5 : 0);

/** Six epochs falling to the objective; a trial with x above 4 diverges (NaN) at epoch 2. */
const trial: TrialFunction = async (spec, channel) => {
  let value = NaN;
  for (let epoch = 1; epoch <= 6; epoch++) {
    await new Promise<void>((r) => setImmediate(r));
    if (channel.signal.aborted) throw new Error('interrupted');
    value = (spec.values['x'] as number) > 4 && epoch >= 2 ? NaN : objective(spec.values) + 3 / epoch + 0.01 * spec.repeat;
    const verdict = channel.report(epoch, { 'validation.loss': value });
    if (Number.isNaN(value)) throw new Error('the loss became NaN at step 20');
    if (verdict.prune) break;
  }
  return { 'validation.loss': value, 'test.loss': value + 0.1 };
};

function options(out: string, written: Partial<SweepConfig>, extra: Partial<SweepRunOptions> = {}): SweepRunOptions {
  const { config, block } = resolve(written);
  return {
    name: 'objective',
    config,
    written: block as unknown as SweepRunOptions['written'],
    experimentHash: 'hash-1',
    experimentSeed: 7,
    out,
    defaultParallel: () => 2,
    resolveTrial: (draft) => ({ experiment: { values: draft.values }, budget: { epochs: 6 } }),
    executor: () => createInProcessExecutor(trial),
    ...extra,
  };
}

/** What must not depend on when the sweep stopped: every trial's values, seed, outcome and curve. */
const outcome = (file: SweepSummaryFile) => ({
  trials: file.trials.map(({ timing: _timing, ...rest }) => rest),
  configurations: file.configurations,
  ranking: file.ranking,
  best: file.best,
  epochs: file.epochs,
});

describe('a sweep in its folder', () => {
  it('writes trials/ and summary.json: every trial, the configurations with mean ± std, the best, the epochs spent', async () => {
    const out = folder();
    const sweep = { method: 'tpe', maxTrials: 6, repeats: 2, seed: 3, earlyTermination: { type: 'asha' as const } };
    const result = await runSweep(options(out, sweep));
    expect(result).toMatchObject({ status: 'completed', resumed: false, parallel: 2 });
    const file = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as SweepSummaryFile;
    expect(file).toEqual(JSON.parse(JSON.stringify(result.file)));
    expect(file.status).toBe('completed');
    expect(file.sweep).toMatchObject({ method: 'tpe', metric: 'validation.loss', goal: 'minimize', seed: 3, parallel: 2, repeats: 2, totalTrials: 12 });
    expect(file.trials.map((t) => [t.id, t.configuration, t.repeat, t.seed])).toEqual(Array.from({ length: 12 }, (_, i) => [`trial-${String(i + 1).padStart(3, '0')}`, i >> 1, i % 2, 7 + (i % 2)]));
    expect(file.trials.every((t) => t.runDirectory === join('trials', t.id))).toBe(true);
    const best = file.configurations[file.ranking[0]!]!;
    expect(file.best).toMatchObject({ configuration: best.configuration, id: best.trialIds[0], trialIds: best.trialIds, metric: best.metric });
    expect(file.best!.metric.count).toBe(2);
    expect(file.best!.metric.std).toBeCloseTo(0.01 / Math.SQRT2, 10);
    const pruned = file.trials.filter((t) => t.status === 'pruned');
    expect(file.epochs).toBe(file.trials.reduce((sum, t) => sum + (t.status === 'pruned' ? t.epoch! : t.intermediate.length), 0));
    expect(file.epochs).toBeLessThan(12 * 6);
    expect(pruned.length + file.trials.filter((t) => t.status !== 'pruned').length).toBe(12);
  });

  it('records a diverging trial as failed with its error, a NaN value as null, and goes on', async () => {
    const out = folder();
    const result = await runSweep(options(out, { method: 'grid', parameters: { x: { values: [1, 4.5, 2] }, act: { values: ['relu'] } } }));
    const file = result.file;
    expect(file.trials.map((t) => t.status)).toEqual(['completed', 'failed', 'completed']);
    expect(file.trials[1]).toMatchObject({ error: 'the loss became NaN at step 20', intermediate: [{ epoch: 1 }, { epoch: 2, value: null }] });
    expect(file.best!.values).toEqual({ x: 1, act: 'relu' });
    // Read back, the NaN is a NaN again.
    expect(recordedTrials(file)[1]!.result!.intermediate[1]!.value).toBeNaN();
  });

  it('resumes an interrupted sweep from its summary: finished trials are not run again, and it ends as an uninterrupted one', async () => {
    const sweep = { method: 'tpe', maxTrials: 10, seed: 5, earlyTermination: { type: 'median' as const, minTrials: 2 } };
    const whole = await runSweep(options(folder(), sweep));

    const out = folder();
    const stop = new AbortController();
    const first = await runSweep(
      options(out, sweep, {
        signal: stop.signal,
        onEvent: (event) => {
          if (event.type === 'started' && event.spec.index === 5) stop.abort();
        },
      }),
    );
    expect(first.status).toBe('interrupted');
    expect(first.file.status).toBe('interrupted');
    const unfinished = first.file.trials.filter((t) => t.status === 'pending' || t.status === 'running').map((t) => t.id);
    expect(unfinished.length).toBeGreaterThan(0);

    const ran: string[] = [];
    const resumed = await runSweep(
      options(out, sweep, {
        // The folder recorded parallel 2: the default is not asked for.
        defaultParallel: () => {
          throw new Error('the recorded parallel is reused');
        },
        executor: () =>
          createInProcessExecutor(async (spec, channel) => {
            ran.push(`${spec.trialId}${channel.resume ? ' (resumed)' : ''}`);
            return trial(spec, channel);
          }),
      }),
    );
    expect(resumed).toMatchObject({ status: 'completed', resumed: true, parallel: 2 });
    expect(ran.slice(0, unfinished.length)).toEqual(unfinished.map((id) => `${id} (resumed)`));
    expect(ran.every((r) => !first.file.trials.some((t) => `${t.id}` === r && t.status !== 'pending' && t.status !== 'running'))).toBe(true);
    expect(outcome(resumed.file)).toEqual(outcome(whole.file));
  });

  it('refuses a folder that holds anything but this sweep', async () => {
    const sweep = { method: 'random', maxTrials: 2, seed: 1 };
    const out = folder();
    await runSweep(options(out, sweep));
    // Another seed, another experiment, another parallel: each is another sweep.
    await expect(runSweep(options(out, { ...sweep, seed: 2 }))).rejects.toThrow(/holds another sweep .*its sweep block differs/);
    await expect(runSweep({ ...options(out, sweep), experimentHash: 'hash-2' })).rejects.toThrow(/the experiment has changed since it started/);
    await expect(runSweep(options(out, { ...sweep, parallel: 1 }))).rejects.toThrow(/holds this sweep run with parallel 2, not 1/);
    // The same sweep again: nothing left to run.
    const again = await runSweep(options(out, sweep, { executor: () => createInProcessExecutor(() => Promise.reject(new Error('nothing should run'))) }));
    expect(again.file.trials.map((t) => t.status)).toEqual(['completed', 'completed']);

    const other = folder();
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'notes.txt'), 'mine');
    await expect(runSweep(options(other, sweep))).rejects.toThrow(ConfigError);
    expect(() => inspectSweepFolder(other)).toThrow(/the folder is not empty and holds no sweep \(no summary.json; it has notes.txt\)/);
    writeFileSync(join(other, 'summary.json'), '{"status": "completed", "metrics": {}}');
    expect(() => inspectSweepFolder(other)).toThrow(/its summary.json is not a sweep's/);
    writeFileSync(join(other, 'summary.json'), '{"trials": [');
    expect(() => inspectSweepFolder(other)).toThrow(/its summary.json cannot be read/);
  });
});
