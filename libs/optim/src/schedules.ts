import { ConfigError, param, Registry, type RegistryEntry } from '@dlexp/core';

/** A learning-rate schedule: the value to use at a 0-based training step. */
export type Schedule = (step: number) => number;

export type ScheduleRegistry = Registry<void, Schedule>;

type ScheduleEntry<P> = RegistryEntry<P, void, Schedule>;

const initial = (description = 'Value at step 0.') => param.number({ description, required: true, exclusiveMinimum: 0 });

const constant: ScheduleEntry<{ value: number }> = {
  name: 'constant',
  description: 'The same value at every step.',
  params: { value: initial('The value.') },
  create: (p) => () => p.value,
};

const exponentialDecay: ScheduleEntry<{ initial: number; decayRate: number; decaySteps: number; staircase: boolean }> = {
  name: 'exponentialDecay',
  description: 'initial · decayRate^(step / decaySteps) (the course decays Adam\'s rate by 0.95 per epoch this way).',
  params: {
    initial: initial(),
    decayRate: param.number({ description: 'Factor applied every decaySteps steps.', required: true, exclusiveMinimum: 0 }),
    decaySteps: param.integer({ description: 'Steps over which the rate is multiplied by decayRate.', required: true, minimum: 1 }),
    staircase: param.boolean({ description: 'Decay in whole steps of decaySteps instead of smoothly.', default: false }),
  },
  create: (p) => (step) => {
    const exponent = p.staircase ? Math.floor(step / p.decaySteps) : step / p.decaySteps;
    return p.initial * Math.pow(p.decayRate, exponent);
  },
};

const piecewiseConstant: ScheduleEntry<{ boundaries: number[]; values: number[] }> = {
  name: 'piecewiseConstant',
  description: 'values[i] from boundaries[i-1] (inclusive) to boundaries[i] (exclusive); needs one more value than boundaries.',
  params: {
    boundaries: param.numberList({ description: 'Increasing step numbers where the value changes.', required: true, integer: true }),
    values: param.numberList({ description: 'The values, one more than there are boundaries.', required: true, minItems: 1 }),
  },
  create: (p) => {
    if (p.values.length !== p.boundaries.length + 1) {
      throw new ConfigError(`piecewiseConstant needs ${p.boundaries.length + 1} values for ${p.boundaries.length} boundaries, got ${p.values.length}`);
    }
    if (p.boundaries.some((b, i) => i > 0 && b <= p.boundaries[i - 1]!)) {
      throw new ConfigError(`piecewiseConstant boundaries must increase, got [${p.boundaries.join(', ')}]`);
    }
    return (step) => {
      const index = p.boundaries.findIndex((b) => step < b);
      return p.values[index === -1 ? p.values.length - 1 : index]!;
    };
  },
};

const cosineDecay: ScheduleEntry<{ initial: number; decaySteps: number; alpha: number; warmupSteps: number }> = {
  name: 'cosineDecay',
  description: 'Linear warm-up over warmupSteps, then a half cosine from initial down to alpha · initial over decaySteps.',
  params: {
    initial: initial('Peak value (reached at the end of warm-up).'),
    decaySteps: param.integer({ description: 'Steps of the cosine after warm-up.', required: true, minimum: 1 }),
    alpha: param.number({ description: 'Final value as a fraction of initial.', default: 0, minimum: 0, maximum: 1 }),
    warmupSteps: param.integer({ description: 'Steps of linear warm-up from 0.', default: 0, minimum: 0 }),
  },
  create: (p) => (step) => {
    if (step < p.warmupSteps) return (p.initial * (step + 1)) / p.warmupSteps;
    const progress = Math.min(1, (step - p.warmupSteps) / p.decaySteps);
    const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
    return p.initial * ((1 - p.alpha) * cosine + p.alpha);
  },
};

export function createScheduleRegistry(): ScheduleRegistry {
  const registry: ScheduleRegistry = new Registry('schedule', 'schedules');
  for (const entry of [constant, exponentialDecay, piecewiseConstant, cosineDecay]) registry.register(entry as ScheduleEntry<unknown>);
  return registry;
}
