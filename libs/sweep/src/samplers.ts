import { ConfigError, param, RandomStream, Registry, type JsonSchema, type RegistryEntry } from '@dlexp/core';
import { sweepSchema } from './config';
import type { Goal } from './config';
import { categoryIndex, drawUniform, gridPoint, gridSize, type Parameter, type ParameterSpace, type ParameterValues } from './parameters';
import { createCategoricalParzen, createNumericParzen, type Parzen } from './parzen';

/**
 * A finished configuration as a sampler sees it. `value` is the sweep metric (the mean over the
 * configuration's repeats); a pruned configuration gives the last epoch every repeat reached and
 * its value there; a failed one gives neither.
 */
export interface Observation {
  /** The configuration's index in proposal order. */
  index: number;
  values: ParameterValues;
  state: 'completed' | 'pruned' | 'failed';
  value?: number;
  epoch?: number;
}

/**
 * Proposes configurations. A sampler holds no state between calls: `ask` is a pure function of the
 * sampler's seed, the configuration index and the observations it is given (in index order). The
 * sweep state decides which observations those are (see `referenceConfigurations`), which is what
 * makes a sweep reproducible however its trials finish.
 */
export interface Sampler {
  /** How many configurations it can propose: the grid's combinations, or Infinity. */
  readonly size: number;
  /** Whether proposals depend on observations (TPE); grid and random ignore them. */
  readonly learns: boolean;
  ask(index: number, observations: readonly Observation[]): ParameterValues;
}

export interface SamplerContext {
  space: ParameterSpace;
  seed: number;
  goal: Goal;
}

export type SamplerRegistry = Registry<SamplerContext, Sampler>;

/** A method cannot handle some parameters of a space (grid and ranges): a config error. */
export class UnsupportedParameterError extends ConfigError {
  constructor(readonly parameters: { name: string; message: string }[]) {
    super(parameters.map((p) => `sweep.parameters.${p.name}: ${p.message}`).join('\n'));
    this.name = 'UnsupportedParameterError';
  }
}

/** One configuration drawn uniformly; each parameter from its own stream, so adding one leaves the others' draws unchanged. */
function randomConfiguration(space: ParameterSpace, seed: number, index: number): ParameterValues {
  return Object.fromEntries(space.parameters.map((p) => [p.name, drawUniform(p, new RandomStream(seed, 'sweep-random', index, p.name))]));
}

const grid: RegistryEntry<Record<string, never>, SamplerContext, Sampler> = {
  name: 'grid',
  description: 'Every combination of the listed values, the first parameter varying slowest.',
  params: {},
  create: (_params, { space }) => {
    const ranges = space.parameters.filter((p) => p.kind !== 'categorical');
    if (ranges.length > 0) {
      throw new UnsupportedParameterError(
        ranges.map((p) => ({ name: p.name, message: 'grid tries listed values only: give values: [...], or sample the range with method random or tpe' })),
      );
    }
    return { size: gridSize(space), learns: false, ask: (index) => gridPoint(space, index) };
  },
};

const random: RegistryEntry<Record<string, never>, SamplerContext, Sampler> = {
  name: 'random',
  description: 'Each configuration drawn independently: values uniformly, ranges uniformly (in log space for log scales).',
  params: {},
  create: (_params, { space, seed }) => ({ size: Infinity, learns: false, ask: (index) => randomConfiguration(space, seed, index) }),
};

export interface TpeParams {
  startupTrials: number;
  candidates: number;
  priorWeight: number;
  gamma: number;
}

/**
 * Observations ranked best first: completed ones by their value; then pruned ones, those that got
 * further first, each group by its last value; a pruned one with no value last. Ties keep index order.
 */
function rankObservations(observations: readonly Observation[], goal: Goal): Observation[] {
  const sign = goal === 'minimize' ? 1 : -1;
  const key = (o: Observation): [number, number] => {
    const signed = o.value !== undefined && Number.isFinite(o.value) ? sign * o.value : Infinity;
    if (o.state === 'completed') return [-Infinity, signed];
    if (o.epoch === undefined || o.value === undefined) return [Infinity, 0];
    return [-o.epoch, signed];
  };
  return observations
    .map((o) => ({ o, k: key(o) }))
    .sort((a, b) => (a.k[0] !== b.k[0] ? (a.k[0] < b.k[0] ? -1 : 1) : a.k[1] !== b.k[1] ? (a.k[1] < b.k[1] ? -1 : 1) : a.o.index - b.o.index))
    .map(({ o }) => o);
}

/**
 * Observation weights (in index order): equal up to 25; beyond, the 25 newest weigh 1 and older ones
 * less, down to 1/n for the oldest, since early trials were proposed knowing less.
 */
export function observationWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const weights: number[] = [];
  for (let i = 0; i < ramp; i++) weights.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) weights.push(1);
  return weights;
}

/** How many of n observations form the good group l(x): the best γ fraction, rounded up, at most 25. */
export function goodCount(n: number, gamma: number): number {
  return Math.min(Math.ceil(gamma * n), 25);
}

function parzenFor(parameter: Parameter, values: readonly Observation[], options: { priorWeight: number }): Parzen<number> {
  const weights = observationWeights(values.length);
  if (parameter.kind === 'categorical') {
    return createCategoricalParzen(parameter, values.map((o) => categoryIndex(parameter, o.values[parameter.name])), weights, options);
  }
  return createNumericParzen(parameter, values.map((o) => o.values[parameter.name] as number), weights, options);
}

/**
 * The Tree-structured Parzen Estimator (independent, per parameter): the first `startupTrials`
 * configurations at random; then the observations are split into the best γ fraction and the rest,
 * a Parzen estimator is fitted to each group, l(x) and g(x), and of `candidates` draws from l the one
 * with the largest l(x)/g(x) is proposed.
 */
export function createTpeSampler(space: ParameterSpace, seed: number, goal: Goal, params: TpeParams): Sampler {
  return {
    size: Infinity,
    learns: true,
    ask(index, history) {
      // Failed configurations say nothing about where the metric is good.
      const usable = history.filter((o) => o.state !== 'failed' && o.values !== undefined && space.parameters.every((p) => o.values[p.name] !== undefined));
      if (usable.length < params.startupTrials || usable.length === 0) return randomConfiguration(space, seed, index);
      const ranked = rankObservations(usable, goal);
      const nGood = goodCount(usable.length, params.gamma);
      const byIndex = (a: Observation, b: Observation) => a.index - b.index;
      const good = ranked.slice(0, nGood).sort(byIndex);
      const bad = ranked.slice(nGood).sort(byIndex);
      const values: ParameterValues = {};
      for (const parameter of space.parameters) {
        const stream = new RandomStream(seed, 'sweep-tpe', index, parameter.name);
        const l = parzenFor(parameter, good, params);
        const g = parzenFor(parameter, bad, params);
        let best = l.sample(stream);
        let bestScore = l.logDensity(best) - g.logDensity(best);
        for (let i = 1; i < params.candidates; i++) {
          const candidate = l.sample(stream);
          const score = l.logDensity(candidate) - g.logDensity(candidate);
          if (score > bestScore) {
            best = candidate;
            bestScore = score;
          }
        }
        values[parameter.name] = parameter.kind === 'categorical' ? parameter.values[best]! : best;
      }
      return values;
    },
  };
}

const tpe: RegistryEntry<TpeParams, SamplerContext, Sampler> = {
  name: 'tpe',
  description: 'Tree-structured Parzen Estimator: random at first, then proposals where l(x)/g(x), the density of the best trials over the rest, is largest.',
  params: {
    startupTrials: param.integer({ description: 'Configurations drawn at random before the estimator takes over.', default: 10, minimum: 1 }),
    candidates: param.integer({ description: 'Draws from l(x) per parameter, of which the largest l(x)/g(x) is proposed.', default: 24, minimum: 1 }),
    priorWeight: param.number({ description: 'Weight of the broad prior kernel in each estimator.', default: 1, minimum: 0 }),
    gamma: param.number({ description: 'Fraction of the observations (rounded up, at most 25) that form the good group.', default: 0.1, exclusiveMinimum: 0, maximum: 1 }),
  },
  create: (params, { space, seed, goal }) => createTpeSampler(space, seed, goal, params),
};

/**
 * The sweep methods, which also define the JSON Schema of the `sweep:` block over their names: the
 * experiment schema takes the block from here (through the engine's catalog), so it is written once.
 */
export class SweepMethodRegistry extends Registry<SamplerContext, Sampler> {
  blockSchema(): JsonSchema {
    return sweepSchema(this);
  }
}

export function createSamplerRegistry(): SweepMethodRegistry {
  const registry = new SweepMethodRegistry('sweep method', 'sweeps');
  registry.register(grid).register(random).register(tpe);
  return registry;
}
