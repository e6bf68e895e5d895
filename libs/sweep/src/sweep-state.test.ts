import { describe, expect, it } from 'vitest';
import { ConfigError, RandomStream } from '@dlexp/core';
import {
  createInProcessExecutor,
  createSweepState,
  driveSweep,
  parseSweepConfig,
  referenceCount,
  referenceLag,
  replaySweep,
  type ParameterValues,
  type RecordedTrial,
  type SweepConfig,
  type SweepEvent,
  type SweepState,
  type TrialFunction,
  type TrialRecord,
} from './index';

function resolve(written: Partial<SweepConfig>) {
  const { config, problems } = parseSweepConfig({
    metric: 'validation.loss',
    goal: 'minimize',
    parameters: { x: { min: -5, max: 5 }, lr: { min: 1e-6, max: 1, scale: 'log' }, act: { values: ['relu', 'tanh', 'sigmoid'] } },
    ...written,
  });
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!;
}

const offsets: Record<string, number> = { relu: 0, tanh: 1, sigmoid: 3 };
const finalLoss = (v: ParameterValues) => ((v['x'] as number) - 1.5) ** 2 + (Math.log10(v['lr'] as number) + 3) ** 2 + offsets[v['act'] as string]!;

/**
 * A trial as a nine-epoch curve falling to the objective (plus a little per seed). With a shuffle
 * seed, every epoch waits a random number of turns of the event loop, so trials finish in an order
 * that differs from run to run.
 */
function curveTrial(shuffleSeed?: number, failWhen?: (values: ParameterValues) => boolean): TrialFunction {
  const delays = shuffleSeed === undefined ? undefined : new RandomStream(shuffleSeed, 'delays');
  return async (spec, channel) => {
    const final = finalLoss(spec.values) + 0.05 * spec.repeat;
    let value = NaN;
    for (let epoch = 1; epoch <= 9; epoch++) {
      const turns = delays?.int(60) ?? 0;
      for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
      if (channel.signal.aborted) throw new Error('interrupted');
      if (failWhen?.(spec.values) === true && epoch === 2) throw new Error('loss is NaN at step 40');
      value = final + 2 / epoch;
      if (channel.report(epoch, { 'validation.loss': value, 'train.loss': value / 2 }).prune) break;
    }
    return { 'validation.loss': value, 'test.loss': value + 0.1 };
  };
}

/** What must not depend on timing: every trial's proposal, seed, outcome and curve. */
const outcome = (records: readonly TrialRecord[]) =>
  records.map((r) => ({
    id: r.spec.trialId,
    values: r.spec.values,
    seed: r.spec.seed,
    status: r.status,
    epoch: r.result?.epoch,
    metrics: r.result?.metrics,
    intermediate: r.intermediate,
  }));

async function drive(state: SweepState, trial: TrialFunction, events: SweepEvent[] = [], signal?: AbortSignal) {
  return driveSweep(state, createInProcessExecutor(trial), { onEvent: (e) => events.push(e), ...(signal === undefined ? {} : { signal }) });
}

describe('trial specs', () => {
  it('carry the resolved experiment, the values by name and by path, the seed and the repeat', () => {
    const config = resolve({ method: 'grid', parameters: { dropout: { paths: ['model.layers.1.rate', 'model.layers.3.rate'], values: [0, 0.5] } }, repeats: 2 });
    const layers: Record<string, string | number>[] = [{ type: 'dense' }, { type: 'dropout', rate: 0.1 }, { type: 'dense' }, { type: 'dropout', rate: 0.1 }];
    const experiment = { name: 'mnist', seed: 7, model: { layers } };
    const state = createSweepState(config, { experiment, sweepId: 'sweep-a', parallel: 4 });
    const specs = [];
    for (let step = state.ask(); step.type === 'trial'; step = state.ask()) specs.push(step.spec);
    expect(specs.map((s) => [s.trialId, s.index, s.configuration, s.repeat, s.seed, s.values['dropout']])).toEqual([
      ['trial-001', 0, 0, 0, 7, 0],
      ['trial-002', 1, 0, 1, 8, 0],
      ['trial-003', 2, 1, 0, 7, 0.5],
      ['trial-004', 3, 1, 1, 8, 0.5],
    ]);
    const last = specs[3]!;
    expect(last.sweepId).toBe('sweep-a');
    expect(last.parameters).toEqual({ 'model.layers.1.rate': 0.5, 'model.layers.3.rate': 0.5 });
    expect(last.experiment).toEqual({ ...experiment, seed: 8, model: { layers: [{ type: 'dense' }, { type: 'dropout', rate: 0.5 }, { type: 'dense' }, { type: 'dropout', rate: 0.5 }] } });
    expect(last.configHash).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(specs.map((s) => s.configHash)).size).toBe(4);
    expect(JSON.parse(JSON.stringify(last))).toEqual(last);
    expect(experiment.model.layers[1]!['rate']).toBe(0.1);
  });

  it('use the resolver the caller gives (the runner loads and hashes the YAML itself)', () => {
    const state = createSweepState(resolve({ method: 'random', maxTrials: 1 }), {
      experimentSeed: 3,
      resolveTrial: (draft) => ({ experiment: { loaded: draft.parameters }, configHash: 'abc', budget: { epochs: 9 } }),
    });
    const step = state.ask();
    expect(step.type === 'trial' && step.spec).toMatchObject({ seed: 3, configHash: 'abc', budget: { epochs: 9 }, experiment: { loaded: { x: expect.any(Number) } } });
  });
});

describe('the determinism rule', () => {
  it('configuration c sees configurations 0 … c − (1 + ⌈(parallel − 1) / repeats⌉)', () => {
    expect(referenceLag(1, 1)).toBe(1);
    expect(referenceLag(4, 1)).toBe(4);
    expect(referenceLag(2, 3)).toBe(2);
    expect(referenceLag(4, 3)).toBe(2);
    expect(referenceLag(7, 3)).toBe(3);
    expect([0, 1, 2, 3, 4].map((c) => referenceCount(c, 3, 1))).toEqual([0, 0, 0, 1, 2]);
  });

  it('a trial waits for the results it is defined to see, and no more than parallel run', () => {
    const state = createSweepState(resolve({ method: 'tpe', maxTrials: 6, parallel: 2 }));
    const ask = () => state.ask();
    const first = ask();
    const second = ask();
    expect([first.type, second.type]).toEqual(['trial', 'trial']);
    expect(ask()).toEqual({ type: 'wait', reason: 'capacity', waitingFor: ['trial-001', 'trial-002'] });
    expect(state.dependencies(2)).toEqual([0]);
    expect(state.dependencies(5)).toEqual([0, 1, 2, 3]);
    // trial-002 ends first, but trial-003 is defined to see trial-001.
    state.tell({ trialId: 'trial-002', status: 'completed', metrics: { 'validation.loss': 1 }, intermediate: [] });
    expect(ask()).toEqual({ type: 'wait', reason: 'results', waitingFor: ['trial-001'] });
    state.tell({ trialId: 'trial-001', status: 'completed', metrics: { 'validation.loss': 2 }, intermediate: [] });
    expect(ask()).toMatchObject({ type: 'trial', spec: { trialId: 'trial-003' } });
  });

  it('grid and random without early termination never wait for results', () => {
    const state = createSweepState(resolve({ method: 'random', maxTrials: 4, parallel: 2 }));
    expect(state.dependencies(3)).toEqual([]);
  });

  it('parallel TPE with ASHA proposes and stops the same trials however they finish', async () => {
    const config = resolve({ method: 'tpe', maxTrials: 16, parallel: 3, repeats: 1, seed: 11, earlyTermination: { type: 'asha', minEpochs: 1, reductionFactor: 3 } });
    const withStartup = { ...config, methodParams: { ...config.methodParams, startupTrials: 4 } };
    const runs = [];
    for (const shuffle of [1, 2, 3, 4]) {
      const events: SweepEvent[] = [];
      const state = createSweepState(withStartup);
      const { status } = await drive(state, curveTrial(shuffle), events);
      expect(status).toBe('completed');
      runs.push({ records: outcome(state.records()), finishOrder: events.flatMap((e) => (e.type === 'finished' ? [e.record.spec.trialId] : [])) });
    }
    for (const run of runs.slice(1)) expect(run.records).toEqual(runs[0]!.records);
    expect(new Set(runs.map((r) => r.finishOrder.join())).size).toBeGreaterThan(1);
    expect(runs[0]!.records.filter((r) => r.status === 'pruned').length).toBeGreaterThan(0);
    expect(runs[0]!.records.filter((r) => r.status === 'completed').length).toBeGreaterThan(0);
    // The same sweep sequentially is another sweep: it sees more results sooner.
    const sequential = createSweepState({ ...withStartup, parallel: 1 });
    await drive(sequential, curveTrial());
    const sequentialValues = sequential.records().map((r) => r.spec.values);
    expect(sequentialValues.slice(0, 4)).toEqual(runs[0]!.records.slice(0, 4).map((r) => r.values));
    expect(sequentialValues).not.toEqual(runs[0]!.records.map((r) => r.values));
  });
});

describe('resume', () => {
  const written: Partial<SweepConfig> = { method: 'tpe', maxTrials: 14, parallel: 2, repeats: 2, seed: 4, earlyTermination: { type: 'median', minEpochs: 2, minTrials: 2 } };
  const config = () => {
    const c = resolve(written);
    return { ...c, methodParams: { ...c.methodParams, startupTrials: 3 } };
  };
  const options = { sweepId: 'sweep-resume', experiment: { seed: 1 } };

  /** What the runner keeps on disk for each trial, after a JSON round trip. */
  const recorded = (records: readonly TrialRecord[]): RecordedTrial[] =>
    JSON.parse(
      JSON.stringify(
        records.map((r) => ({
          index: r.spec.index,
          values: r.spec.values,
          seed: r.spec.seed,
          ...(r.result === undefined ? { intermediate: r.intermediate } : { result: r.result }),
        })),
      ),
    );

  it('a sweep stopped partway and replayed from its records ends exactly like an uninterrupted one', async () => {
    const uninterrupted = createSweepState(config(), options);
    await drive(uninterrupted, curveTrial(5));

    for (const stopAfter of [1, 6, 13]) {
      const controller = new AbortController();
      const first = createSweepState(config(), options);
      let finished = 0;
      const result = await driveSweep(first, createInProcessExecutor(curveTrial(6)), {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'finished' && ++finished === stopAfter) controller.abort();
        },
      });
      expect(result.status).toBe('interrupted');
      const partial = first.records();
      expect(partial.some((r) => r.status === 'pending')).toBe(true);

      const resumed = replaySweep(config(), options, recorded(partial));
      const events: SweepEvent[] = [];
      await drive(resumed, curveTrial(7), events);
      const resumedIds = events.flatMap((e) => (e.type === 'started' && e.resume ? [e.spec.trialId] : []));
      expect(resumedIds).toEqual(partial.filter((r) => r.status === 'pending').map((r) => r.spec.trialId));
      expect(outcome(resumed.records())).toEqual(outcome(uninterrupted.records()));
      expect(resumed.summary()).toEqual(uninterrupted.summary());
    }
  });

  it('replaying a finished sweep has nothing left to run', () => {
    const state = createSweepState(resolve({ method: 'grid', parameters: { a: { values: [1, 2] } } }));
    for (let step = state.ask(); step.type === 'trial'; step = state.ask()) {
      state.tell({ trialId: step.spec.trialId, status: 'completed', metrics: { 'validation.loss': 1 }, intermediate: [] });
    }
    const replayed = replaySweep(state.config, {}, recorded(state.records()));
    expect(replayed.ask()).toEqual({ type: 'done' });
  });

  it('records of another sweep are a config error naming the first trial that differs', async () => {
    const state = createSweepState(config(), options);
    await drive(state, curveTrial());
    const records = recorded(state.records());
    expect(() => replaySweep({ ...config(), seed: 5 }, options, records)).toThrow(ConfigError);
    expect(() => replaySweep({ ...config(), seed: 5 }, options, records)).toThrow(/^trial-001 ran with \{.*\} \(seed 1\), but this sweep proposes .*: the records belong to another sweep/);
    // Another parallel: the first configurations are the random start-up ones; the first TPE one differs.
    expect(() => replaySweep(config(), { ...options, parallel: 1 }, records)).toThrow(/^trial-007 ran with/);
    expect(() => replaySweep(config(), options, records.filter((r) => r.index !== 2))).toThrow(/the recorded trials skip trial-003/);
    const unfinished = records.map((r) => (r.index === 0 ? { index: 0, values: r.values } : r));
    // With parallel 2 and repeats 2 the lag is 2 configurations: trial-005 (configuration 2) is the first to see trial-001.
    expect(() => replaySweep(config(), options, unfinished)).toThrow(/trial-005 is recorded, but trial-001 \(whose results it is defined to see\) never finished/);
  });
});

describe('results', () => {
  it('a trial the sweep stopped is recorded as pruned at the decision epoch, whatever the executor saw after', () => {
    const state = createSweepState(resolve({ method: 'grid', parameters: { a: { values: [1, 2] } }, earlyTermination: { type: 'median', minEpochs: 1, minTrials: 1 } }));
    const first = state.ask();
    if (first.type !== 'trial') throw new Error('expected a trial');
    state.report(first.spec.trialId, 1, 1);
    state.report(first.spec.trialId, 2, 0.5);
    state.tell({ trialId: first.spec.trialId, status: 'completed', metrics: { 'validation.loss': 0.5 }, intermediate: [] });
    const second = state.ask();
    if (second.type !== 'trial') throw new Error('expected a trial');
    expect(state.report(second.spec.trialId, 1, 0.9).prune).toBe(false);
    expect(state.report(second.spec.trialId, 2, 0.8)).toEqual({ prune: true, reason: 'best so far 0.8 is worse than the median 0.5 of 1 earlier trials at epoch 2' });
    // The executor ran one more epoch before it heard, and then called it completed.
    expect(state.report(second.spec.trialId, 3, 0.1).prune).toBe(true);
    const record = state.tell({ trialId: second.spec.trialId, status: 'completed', metrics: { 'validation.loss': 0.1 }, intermediate: [{ epoch: 3, value: 0.1 }] });
    expect(record.status).toBe('pruned');
    expect(record.result).toMatchObject({ status: 'pruned', epoch: 2, intermediate: [{ epoch: 1, value: 0.9 }, { epoch: 2, value: 0.8 }] });
    expect(state.summary().ranking).toEqual([0]);
  });

  it('no trial is stopped at the last epoch of its budget: it ends there anyway, with its final metrics', () => {
    const asha = { type: 'asha' as const, minEpochs: 1, reductionFactor: 3 };
    const state = createSweepState(resolve({ method: 'grid', parameters: { a: { values: [1, 2] } }, earlyTermination: asha }), {
      resolveTrial: (draft) => ({ experiment: { a: draft.values['a']! }, budget: { epochs: 3 } }),
    });
    const first = state.ask();
    if (first.type !== 'trial') throw new Error('expected a trial');
    for (const [epoch, value] of [[1, 1], [2, 1], [3, 1]]) state.report(first.spec.trialId, epoch!, value!);
    state.tell({ trialId: first.spec.trialId, status: 'completed', metrics: { 'validation.loss': 1 }, intermediate: [] });
    const second = state.ask();
    if (second.type !== 'trial') throw new Error('expected a trial');
    // At rung 1 it beats the first trial; rung 3 would stop it, but epoch 3 is its budget's end.
    expect(state.report(second.spec.trialId, 1, 0.5).prune).toBe(false);
    expect(state.report(second.spec.trialId, 3, 2)).toEqual({ prune: false, reason: '' });
    expect(state.tell({ trialId: second.spec.trialId, status: 'completed', metrics: { 'validation.loss': 2 }, intermediate: [] }).status).toBe('completed');
  });

  it('a failing trial is recorded with its error and the sweep goes on', async () => {
    const state = createSweepState(resolve({ method: 'tpe', maxTrials: 14, seed: 3 }));
    const diverges = (v: ParameterValues) => (v['lr'] as number) > 0.1;
    await drive(state, curveTrial(undefined, diverges));
    const records = state.records();
    const failed = records.filter((r) => r.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.result).toMatchObject({ status: 'failed', error: 'loss is NaN at step 40', intermediate: [{ epoch: 1 }] });
    expect(records).toHaveLength(14);
    expect(records.filter((r) => r.status === 'completed').length + failed.length).toBe(14);
    expect(state.summary().ranking.every((c) => !diverges(records[c]!.spec.values))).toBe(true);
  });

  it('repeats: seeds seed, seed + 1, …; mean ± sample std per configuration; ranked on the mean', () => {
    const state = createSweepState(resolve({ method: 'grid', parameters: { a: { values: ['p', 'q', 'r'] } }, repeats: 3, goal: 'maximize', metric: 'validation.accuracy' }), {
      experiment: { seed: 10 },
    });
    const scores: Record<string, number[]> = { p: [0.8, 0.9, 1.0], q: [0.95, 0.85, 0.9], r: [0.97, 0.1, 0.95] };
    for (let step = state.ask(); step.type === 'trial'; step = state.ask()) {
      const { values, repeat, seed, trialId } = step.spec;
      expect(seed).toBe(10 + repeat);
      const accuracy = scores[values['a'] as string]![repeat]!;
      if (values['a'] === 'r' && repeat === 1) state.tell({ trialId, status: 'failed', metrics: {}, intermediate: [], error: 'diverged' });
      else state.tell({ trialId, status: 'completed', metrics: { 'validation.accuracy': accuracy, 'test.accuracy': accuracy - 0.01 }, intermediate: [] });
    }
    const summary = state.summary();
    const [p, q, r] = summary.configurations;
    expect(p!.metric.mean).toBeCloseTo(0.9, 12);
    expect(p!.metric.std).toBeCloseTo(0.1, 12);
    expect(q!.metric).toEqual({ mean: expect.closeTo(0.9, 12), std: expect.closeTo(0.05, 12), count: 3 });
    expect(p!.metrics['test.accuracy']!.mean).toBeCloseTo(0.89, 12);
    expect(r!.status).toBe('failed');
    expect(r!.metric.count).toBe(2);
    // p and q tie on the mean (0.9): the earlier configuration ranks first; r is not ranked.
    expect(summary.ranking).toEqual([0, 1]);
    expect(summary.best!.values).toEqual({ a: 'p' });
    expect(summary.best!.trialIds).toEqual(['trial-001', 'trial-002', 'trial-003']);
    expect(summary.trials).toEqual({ total: 9, completed: 8, pruned: 0, failed: 1, running: 0, pending: 0 });
  });

  it('an interrupted trial is offered again, to resume, before any new one', () => {
    const state = createSweepState(resolve({ method: 'random', maxTrials: 3, parallel: 2 }));
    const a = state.ask();
    state.ask();
    if (a.type !== 'trial') throw new Error('expected a trial');
    state.interrupt(a.spec.trialId);
    expect(state.ask()).toEqual({ type: 'trial', spec: a.spec, resume: true });
  });

  it('a report after the end, or about an unknown trial, is a bug in the caller', () => {
    const state = createSweepState(resolve({ method: 'random', maxTrials: 1 }));
    const a = state.ask();
    if (a.type !== 'trial') throw new Error('expected a trial');
    state.tell({ trialId: a.spec.trialId, status: 'completed', metrics: {}, intermediate: [] });
    expect(() => state.report(a.spec.trialId, 1, 1)).toThrow(/reported epoch 1 after it ended/);
    expect(() => state.tell({ trialId: a.spec.trialId, status: 'completed', metrics: {}, intermediate: [] })).toThrow(/ended twice/);
    expect(() => state.report('trial-009', 1, 1)).toThrow(/no trial 'trial-009'/);
  });
});
