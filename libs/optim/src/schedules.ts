import { ConfigError, fillEntry, param, Registry, type ParamSpec, type RegistryEntry } from '@dlexp/core';

/** A learning-rate schedule: the value to use at a 0-based training step. */
export type Schedule = (step: number) => number;

/** A learning rate as written: a number, or a schedule entry (`{type: exponentialDecay, ...}`). */
export type LearningRateConfig = number | { type: string; [key: string]: unknown };

/** What a schedule is built with: the registry, for schedules that wrap another (`warmup`). */
export interface ScheduleContext {
  schedules: ScheduleRegistry;
}

export type ScheduleRegistry = Registry<ScheduleContext, Schedule>;

type ScheduleEntry<P> = RegistryEntry<P, ScheduleContext, Schedule>;

/** A parameter that is a number or a schedule (an optimizer's learning rate, the schedule a warm-up leads into). */
export function numberOrScheduleParam(options: { description: string; default?: number; required?: boolean }): ParamSpec<LearningRateConfig> {
  return param.custom<LearningRateConfig>({ anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { $ref: '#/$defs/schedule' }] }, options, { union: 'schedule' });
}

/** Turns a written learning rate into a schedule (filling the defaults of a schedule entry). */
export function resolveLearningRate(value: LearningRateConfig, schedules: ScheduleRegistry): Schedule {
  if (typeof value === 'number') return () => value;
  const entry = schedules.get(value.type);
  const filled = fillEntry('schedule', value, (_kind, name) => schedules.get(name).params) as Record<string, unknown>;
  return entry.create(filled, { schedules });
}

/**
 * A linear ramp over the first `steps` steps from `from` up to `peak`, then `after` counted from
 * the end of the ramp. The ramp reaches the peak on its last step and never gives a rate equal to
 * `from` (step 0 already moves 1/steps of the way), so no step is spent with a zero rate.
 */
function linearWarmup(steps: number, from: number, peak: number, after: Schedule): Schedule {
  return (step) => (step < steps ? from + ((peak - from) * (step + 1)) / steps : after(step - steps));
}

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
  description: 'A half cosine from initial down to alpha · initial over decaySteps, after an optional linear warm-up from 0 (the same ramp as {type: warmup}).',
  params: {
    initial: initial('Peak value (reached at the end of warm-up).'),
    decaySteps: param.integer({ description: 'Steps of the cosine after warm-up.', required: true, minimum: 1 }),
    alpha: param.number({ description: 'Final value as a fraction of initial.', default: 0, minimum: 0, maximum: 1 }),
    warmupSteps: param.integer({ description: 'Steps of linear warm-up from 0 before the cosine starts (shorthand for wrapping it in {type: warmup}).', default: 0, minimum: 0 }),
  },
  create: (p) => {
    const decay: Schedule = (step) => {
      const progress = Math.min(1, step / p.decaySteps);
      const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
      return p.initial * ((1 - p.alpha) * cosine + p.alpha);
    };
    return p.warmupSteps === 0 ? decay : linearWarmup(p.warmupSteps, 0, p.initial, decay);
  },
};

const warmup: ScheduleEntry<{ steps: number; from: number; then: LearningRateConfig }> = {
  name: 'warmup',
  description:
    'Linear warm-up in front of any schedule or constant: rises from `from` to the value `then` starts with over `steps` steps, ' +
    'then follows `then`, counted from the end of the warm-up. Example: {type: warmup, steps: 500, then: {type: cosineDecay, initial: 0.001, decaySteps: 10000}}.',
  params: {
    steps: param.integer({ description: 'Length of the warm-up in steps; its last step reaches the peak.', required: true, minimum: 1 }),
    from: param.number({ description: 'Where the ramp starts (step 0 already moves 1/steps of the way from it, so no step has a zero rate).', default: 0, minimum: 0 }),
    then: numberOrScheduleParam({ description: 'What follows the warm-up: a number, or a schedule started at the end of the warm-up; its first value is the peak.', required: true }),
  },
  create: (p, context) => {
    const after = resolveLearningRate(p.then, context.schedules);
    return linearWarmup(p.steps, p.from, after(0), after);
  },
};

export function createScheduleRegistry(): ScheduleRegistry {
  const registry: ScheduleRegistry = new Registry('schedule', 'schedules');
  for (const entry of [constant, exponentialDecay, piecewiseConstant, cosineDecay, warmup]) registry.register(entry as ScheduleEntry<unknown>);
  return registry;
}
