import { ConfigError, fillDefaults, isPlainObject } from '@dlexp/core';
import type { ResolvedSweepConfig } from './config';
import { inDomain, parametersByPath, type ParameterValues } from './parameters';
import { applyParameters, canonicalJson, fingerprint, type PlainValue } from './plain';
import { createPruner, type EpochValue, type Pruner, type PruneVerdict, type ReferenceTrial } from './pruners';
import { createSamplerRegistry, type Observation, type Sampler, type SamplerRegistry } from './samplers';
import { meanAndStd, trialId, type RecordedTrial, type TrialBudget, type TrialRecord, type TrialResult, type TrialSpec } from './trials';

/*
 * The determinism rule
 * --------------------
 * Trials are numbered in proposal order; with `repeats: R`, trials c·R … c·R+R−1 run configuration c
 * with seeds seed, seed+1, …. Configuration c is proposed from, and its trials' early-termination
 * decisions compare with, exactly the configurations 0 … c−L, where the lag
 *
 *     L = 1 + ⌈(parallel − 1) / R⌉          (parallel 1: L = 1, every earlier configuration)
 *
 * and every trial of those configurations must have finished before any trial of c starts. With
 * trials of equal length started in order, those configurations are finished anyway when a slot
 * frees (at most parallel − 1 trials run, all of later configurations), so nothing waits; a slow
 * trial holds back only the trials defined to see it. Proposals and decisions therefore depend only
 * on the seed, the index and the results of a fixed set of earlier trials: the same sweep with the
 * same `parallel` proposes the same trials and stops the same ones, whichever finishes first.
 * `parallel` is part of a sweep's identity: resuming with another value is a different sweep.
 */

/** The lag L of the rule above: configuration c sees configurations 0 … c − L. */
export function referenceLag(parallel: number, repeats: number): number {
  return 1 + Math.ceil((parallel - 1) / repeats);
}

/** How many configurations (0 … n − 1) configuration `configuration` is defined to see. */
export function referenceCount(configuration: number, parallel: number, repeats: number): number {
  return Math.max(0, configuration - referenceLag(parallel, repeats) + 1);
}

/** What a trial is made from before the experiment is resolved for it. */
export interface TrialDraft {
  index: number;
  configuration: number;
  repeat: number;
  seed: number;
  values: ParameterValues;
  parameters: Record<string, PlainValue>;
}

export interface SweepStateOptions {
  /** Names the sweep in every trial spec; default: a fingerprint of the sweep config and parallel. */
  sweepId?: string;
  /** The experiment the sweep varies (plain data), used by the default `resolveTrial`. */
  experiment?: PlainValue;
  /** The seed of repeat 0 (repeat r runs with seed + r) and the sampler's seed unless sweep.seed is set; default: experiment.seed, else 42. */
  experimentSeed?: number;
  /** Trials at once; default: sweep.parallel, else 1. Part of the sweep's identity (see the rule above). */
  parallel?: number;
  samplers?: SamplerRegistry;
  /**
   * Builds a trial's resolved experiment (the runner loads and validates the YAML with the overrides).
   * Default: the overrides and the trial's seed applied to `experiment`, hashed with `fingerprint`.
   */
  resolveTrial?: (draft: TrialDraft) => { experiment: PlainValue; configHash?: string; budget?: TrialBudget };
}

/** What to do next. */
export type SweepStep =
  | { type: 'trial'; spec: TrialSpec; resume: boolean }
  /** capacity: `parallel` trials run; results: the next trial needs these trials' results first. */
  | { type: 'wait'; reason: 'capacity' | 'results'; waitingFor: string[] }
  | { type: 'done' };

export interface MetricSummary {
  mean: number;
  std: number;
  count: number;
}

export interface ConfigurationSummary {
  configuration: number;
  values: ParameterValues;
  parameters: Record<string, PlainValue>;
  trialIds: string[];
  status: 'completed' | 'pruned' | 'failed' | 'running' | 'pending';
  /** The sweep metric over the completed repeats. */
  metric: MetricSummary;
  /** Every final metric over the completed repeats. */
  metrics: Record<string, MetricSummary>;
  /** pruned: the last epoch every repeat reached. */
  epoch?: number;
}

export interface SweepSummary {
  /** In proposal order. */
  configurations: ConfigurationSummary[];
  /** Configuration indices, best mean first: those whose every repeat completed with the metric. */
  ranking: number[];
  best: ConfigurationSummary | undefined;
  trials: { total: number; completed: number; pruned: number; failed: number; running: number; pending: number };
}

export interface SweepState {
  readonly config: ResolvedSweepConfig;
  readonly sweepId: string;
  readonly parallel: number;
  /** Configurations × repeats. */
  readonly totalTrials: number;
  /** The next trial to start, or why none can start now, or that the sweep is done. */
  ask(): SweepStep;
  /** The trial indices whose results trial `index` needs before it starts (the rule above). */
  dependencies(index: number): number[];
  /**
   * The sweep metric at an epoch end of a running trial (a number, or the epoch's metrics from which
   * the sweep metric is taken); says whether the trial should stop there. Once stopped, always stop.
   */
  report(trialId: string, epoch: number, metrics: number | Record<string, number>): PruneVerdict;
  /**
   * A trial ended. A trial the sweep decided to stop is recorded as pruned at that epoch, whatever
   * the executor saw after the decision (so the record does not depend on timing).
   */
  tell(result: TrialResult): TrialRecord;
  /** A running trial was interrupted (Ctrl-C, a lost worker): it will be offered again, to resume. */
  interrupt(trialId: string): void;
  records(): TrialRecord[];
  summary(): SweepSummary;
}

const NOTHING_TO_DECIDE: PruneVerdict = { prune: false, reason: '' };

function finished(record: TrialRecord | undefined): boolean {
  return record !== undefined && (record.status === 'completed' || record.status === 'failed' || record.status === 'pruned');
}

function mergeIntermediate(recorded: readonly EpochValue[], reported: readonly EpochValue[]): EpochValue[] {
  const byEpoch = new Map<number, number>();
  for (const v of recorded) byEpoch.set(v.epoch, v.value);
  for (const v of reported) byEpoch.set(v.epoch, v.value);
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([epoch, value]) => ({ epoch, value }));
}

function lastEpoch(record: TrialRecord): number | undefined {
  if (record.status === 'pruned') return record.result?.epoch ?? record.prunedAt;
  const epochs = record.intermediate.map((v) => v.epoch);
  return epochs.length === 0 ? undefined : Math.max(...epochs);
}

/** Creates the state of a new sweep (use `replaySweep` to continue a recorded one). */
export function createSweepState(config: ResolvedSweepConfig, options: SweepStateOptions = {}): SweepState {
  return buildSweepState(config, options).state;
}

/** The state and the internals replay needs to re-issue recorded trials. */
interface SweepStateParts {
  state: SweepState;
  records: TrialRecord[];
  issue(index: number): TrialRecord;
  decide(record: TrialRecord, epoch: number): PruneVerdict;
}

function buildSweepState(config: ResolvedSweepConfig, options: SweepStateOptions): SweepStateParts {
  const samplers = options.samplers ?? createSamplerRegistry();
  const experiment = options.experiment ?? {};
  const writtenSeed = isPlainObject(experiment) && typeof experiment['seed'] === 'number' ? experiment['seed'] : undefined;
  const baseSeed = options.experimentSeed ?? writtenSeed ?? 42;
  const parallel = options.parallel ?? config.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1) throw new ConfigError(`parallel is a whole number of at least 1, not ${parallel}`);
  const repeats = config.repeats;
  const samplerSeed = config.seed ?? baseSeed;
  const entry = samplers.get(config.method);
  const sampler: Sampler = entry.create(fillDefaults(entry.params, config.methodParams, () => undefined), { space: config.space, seed: samplerSeed, goal: config.goal });
  const configurations = Math.min(sampler.size, config.maxTrials ?? sampler.size);
  if (!Number.isFinite(configurations)) throw new ConfigError(`sweep.maxTrials is missing: method ${config.method} samples until it has tried maxTrials configurations`);
  const totalTrials = configurations * repeats;
  const pruner: Pruner | undefined = config.earlyTermination === undefined ? undefined : createPruner(config.earlyTermination, config.goal);
  const sweepId = options.sweepId ?? `sweep-${sweepFingerprint(config, { parallel, seed: samplerSeed })}`;
  const resolveTrial: NonNullable<SweepStateOptions['resolveTrial']> =
    options.resolveTrial ??
    ((draft: TrialDraft) => {
      const base = isPlainObject(experiment) ? applyParameters(experiment, { seed: draft.seed }) : experiment;
      const resolved = applyParameters(base, draft.parameters);
      return { experiment: resolved, configHash: fingerprint(resolved) };
    });

  const records: TrialRecord[] = [];
  const proposals: ParameterValues[] = [];

  const recordOf = (id: string): TrialRecord => {
    const record = records.find((r) => r.spec.trialId === id);
    if (record === undefined) throw new Error(`no trial '${id}' in sweep ${sweepId}`);
    return record;
  };

  const dependencies = (index: number): number[] => {
    if (!sampler.learns && pruner === undefined) return [];
    const seen = referenceCount(Math.floor(index / repeats), parallel, repeats);
    return Array.from({ length: seen * repeats }, (_, i) => i);
  };

  const trialsOf = (configuration: number): TrialRecord[] => records.slice(configuration * repeats, (configuration + 1) * repeats);

  /** A finished configuration as the sampler sees it: mean over repeats, or how far its pruned repeats got. */
  const observe = (configuration: number): Observation => {
    const trials = trialsOf(configuration);
    const values = proposals[configuration]!;
    if (trials.some((t) => t.status === 'pruned')) {
      const epochs = trials.map(lastEpoch).filter((e): e is number => e !== undefined);
      const epoch = epochs.length === trials.length ? Math.min(...epochs) : undefined;
      if (epoch === undefined) return { index: configuration, values, state: 'pruned' };
      const at = trials.map((t) => t.intermediate.find((v) => v.epoch === epoch)?.value).filter((v): v is number => v !== undefined);
      if (at.length === 0) return { index: configuration, values, state: 'pruned' };
      return { index: configuration, values, state: 'pruned', epoch, value: at.reduce((a, b) => a + b, 0) / at.length };
    }
    const metricValues = trials.map((t) => (t.status === 'completed' ? t.result?.metrics[config.metric] : undefined));
    if (metricValues.some((v) => v === undefined || !Number.isFinite(v))) return { index: configuration, values, state: 'failed' };
    return { index: configuration, values, state: 'completed', value: meanAndStd(metricValues as number[]).mean };
  };

  const referenceTrials = (configuration: number): ReferenceTrial[] =>
    records.slice(0, referenceCount(configuration, parallel, repeats) * repeats).map((r) => ({
      index: r.spec.index,
      intermediate: r.prunedAt === undefined ? r.intermediate : r.intermediate.filter((v) => v.epoch <= r.prunedAt!),
    }));

  /** Proposes trial `index` (its dependencies finished) and records it as running. */
  const issue = (index: number): TrialRecord => {
    const configuration = Math.floor(index / repeats);
    const repeat = index % repeats;
    if (proposals[configuration] === undefined) {
      const seen = referenceCount(configuration, parallel, repeats);
      const observations = sampler.learns ? Array.from({ length: seen }, (_, c) => observe(c)) : [];
      proposals[configuration] = sampler.ask(configuration, observations);
    }
    const values = proposals[configuration]!;
    const draft: TrialDraft = {
      index,
      configuration,
      repeat,
      seed: baseSeed + repeat,
      values,
      parameters: parametersByPath(config.space, values),
    };
    const resolved = resolveTrial(draft);
    const spec: TrialSpec = {
      sweepId,
      trialId: trialId(index),
      ...draft,
      ...(resolved.budget === undefined ? {} : { budget: resolved.budget }),
      ...(resolved.configHash === undefined ? {} : { configHash: resolved.configHash }),
      experiment: resolved.experiment,
    };
    const record: TrialRecord = { spec, status: 'running', intermediate: [] };
    records.push(record);
    return record;
  };

  const decide = (record: TrialRecord, epoch: number): PruneVerdict => {
    if (record.prunedAt !== undefined) return { prune: true, reason: `stopped at epoch ${record.prunedAt}` };
    if (pruner === undefined) return NOTHING_TO_DECIDE;
    // At its last epoch a trial ends anyway: stopping it there would only cost its final metrics.
    const budget = record.spec.budget?.epochs;
    if (budget !== undefined && epoch >= budget) return NOTHING_TO_DECIDE;
    const verdict = pruner.decide({
      epoch,
      own: record.intermediate.filter((v) => v.epoch <= epoch),
      reference: referenceTrials(record.spec.configuration),
    });
    if (verdict.prune) record.prunedAt = epoch;
    return verdict;
  };

  const state: SweepState = {
    config,
    sweepId,
    parallel,
    totalTrials,
    dependencies,

    ask() {
      const running = records.filter((r) => r.status === 'running');
      if (running.length >= parallel) return { type: 'wait', reason: 'capacity', waitingFor: running.map((r) => r.spec.trialId) };
      const pending = records.find((r) => r.status === 'pending');
      if (pending !== undefined) {
        pending.status = 'running';
        return { type: 'trial', spec: pending.spec, resume: true };
      }
      const index = records.length;
      if (index >= totalTrials) {
        return running.length > 0 ? { type: 'wait', reason: 'results', waitingFor: running.map((r) => r.spec.trialId) } : { type: 'done' };
      }
      const missing = dependencies(index).filter((i) => !finished(records[i]));
      if (missing.length > 0) return { type: 'wait', reason: 'results', waitingFor: missing.map(trialId) };
      return { type: 'trial', spec: issue(index).spec, resume: false };
    },

    report(id, epoch, metrics) {
      const record = recordOf(id);
      if (finished(record)) throw new Error(`trial '${id}' reported epoch ${epoch} after it ended`);
      const value = typeof metrics === 'number' ? metrics : metrics[config.metric];
      if (value === undefined) return NOTHING_TO_DECIDE;
      if (record.prunedAt === undefined) record.intermediate = mergeIntermediate(record.intermediate, [{ epoch, value }]);
      return decide(record, epoch);
    },

    tell(result) {
      const record = recordOf(result.trialId);
      if (finished(record)) throw new Error(`trial '${result.trialId}' ended twice`);
      let intermediate = mergeIntermediate(record.intermediate, result.intermediate);
      let status = result.status;
      let epoch = result.epoch;
      if (record.prunedAt !== undefined) {
        status = 'pruned';
        epoch = record.prunedAt;
        intermediate = intermediate.filter((v) => v.epoch <= record.prunedAt!);
      } else {
        epoch = epoch ?? intermediate[intermediate.length - 1]?.epoch;
      }
      const stored: TrialResult = { ...result, status, intermediate, ...(epoch === undefined ? {} : { epoch }) };
      record.status = status;
      record.intermediate = intermediate;
      record.result = stored;
      return record;
    },

    interrupt(id) {
      const record = recordOf(id);
      if (record.status === 'running') record.status = 'pending';
    },

    records: () => records.map((r) => ({ ...r, intermediate: [...r.intermediate] })),

    summary() {
      const configurations: ConfigurationSummary[] = [];
      for (let c = 0; c * repeats < records.length; c++) {
        const trials = trialsOf(c);
        const done = trials.length === repeats && trials.every(finished);
        const status: ConfigurationSummary['status'] = !done
          ? trials.some((t) => t.status === 'running')
            ? 'running'
            : 'pending'
          : trials.some((t) => t.status === 'pruned')
            ? 'pruned'
            : trials.some((t) => t.status === 'failed')
              ? 'failed'
              : 'completed';
        const completed = trials.filter((t) => t.status === 'completed');
        const names = [...new Set(completed.flatMap((t) => Object.keys(t.result?.metrics ?? {})))].sort();
        const metrics = Object.fromEntries(names.map((name) => [name, meanAndStd(completed.map((t) => t.result?.metrics[name] ?? NaN))]));
        const summary: ConfigurationSummary = {
          configuration: c,
          values: proposals[c]!,
          parameters: parametersByPath(config.space, proposals[c]!),
          trialIds: trials.map((t) => t.spec.trialId),
          status,
          metric: meanAndStd(completed.map((t) => t.result?.metrics[config.metric] ?? NaN)),
          metrics,
        };
        if (status === 'pruned') {
          const observation = observe(c);
          if (observation.epoch !== undefined) summary.epoch = observation.epoch;
        }
        configurations.push(summary);
      }
      const sign = config.goal === 'minimize' ? 1 : -1;
      const ranking = configurations
        .filter((c) => c.status === 'completed' && c.metric.count === repeats)
        .sort((a, b) => sign * (a.metric.mean - b.metric.mean) || a.configuration - b.configuration)
        .map((c) => c.configuration);
      const count = (status: TrialRecord['status']) => records.filter((r) => r.status === status).length;
      return {
        configurations,
        ranking,
        best: ranking.length === 0 ? undefined : configurations[ranking[0]!],
        trials: {
          total: totalTrials,
          completed: count('completed'),
          pruned: count('pruned'),
          failed: count('failed'),
          running: count('running'),
          pending: count('pending') + (totalTrials - records.length),
        },
      };
    },
  };

  return { state, records, issue, decide };
}

/**
 * A sweep's state rebuilt from its recorded trials (for resume): each recorded trial is proposed
 * again, checked against what it ran with, and given its recorded result; unfinished ones are
 * offered again by `ask` (with `resume: true`) before any new trial. The result is the state an
 * uninterrupted sweep would have had, so the trials that follow are the same. Records that this
 * sweep would not have proposed (another seed, parameters, method or parallel) are a ConfigError.
 */
export function replaySweep(config: ResolvedSweepConfig, options: SweepStateOptions, recorded: readonly RecordedTrial[]): SweepState {
  const { state, records, issue, decide } = buildSweepState(config, options);
  const sorted = [...recorded].sort((a, b) => a.index - b.index);
  for (const [position, trial] of sorted.entries()) {
    const id = trialId(trial.index);
    if (trial.index !== position) {
      throw new ConfigError(`the recorded trials skip ${trialId(position)}${trial.index === position - 1 ? '' : ` (next recorded: ${id})`}: the records are incomplete`);
    }
    if (trial.index >= state.totalTrials) throw new ConfigError(`${id} is recorded, but this sweep runs only ${state.totalTrials} trials`);
    const missing = state.dependencies(trial.index).filter((i) => records[i]?.result === undefined);
    if (missing.length > 0) {
      throw new ConfigError(`${id} is recorded, but ${missing.map(trialId).join(', ')} (whose results it is defined to see) never finished: the records were not written by this sweep`);
    }
    const record = issue(trial.index);
    const problems = config.space.parameters.filter((p) => !inDomain(p, trial.values[p.name]) || canonicalJson(trial.values[p.name]) !== canonicalJson(record.spec.values[p.name]));
    if (problems.length > 0 || (trial.seed !== undefined && trial.seed !== record.spec.seed)) {
      throw new ConfigError(
        `${id} ran with ${canonicalJson(trial.values)}${trial.seed === undefined ? '' : ` (seed ${trial.seed})`}, but this sweep proposes ${canonicalJson(record.spec.values)} (seed ${record.spec.seed}): the records belong to another sweep (its seed, parameters, method or parallel differ)`,
      );
    }
    if (trial.result !== undefined) {
      if (trial.result.trialId !== id) throw new ConfigError(`the result recorded for ${id} names ${trial.result.trialId}`);
      state.tell(trial.result);
      continue;
    }
    record.status = 'pending';
    for (const v of trial.intermediate ?? []) {
      record.intermediate = mergeIntermediate(record.intermediate, [v]);
      if (decide(record, v.epoch).prune) break;
    }
  }
  return state;
}

/** Identifies a sweep: its resolved config, the parallel it ran with and its sampler seed (all shape its proposals). */
export function sweepFingerprint(config: ResolvedSweepConfig, run: { parallel: number; seed: number }): string {
  return fingerprint({ ...config, seed: run.seed, parallel: run.parallel } as unknown as PlainValue);
}
