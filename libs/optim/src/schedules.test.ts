import { describe, expect, it } from 'vitest';
import { ConfigError, fillEntry, UnknownNameError, type ParamSpec } from '@dlexp/core';
import { createOptimizer, createOptimizerRegistry, createScheduleRegistry, resolveLearningRate, type LearningRateConfig } from './index';

const schedules = createScheduleRegistry();
const make = (config: LearningRateConfig) => resolveLearningRate(config, schedules);
const values = (config: LearningRateConfig, steps: number[]) => steps.map(make(config));

/** One written example per schedule: every schedule in the registry is built and checked. */
const examples: Record<string, LearningRateConfig> = {
  constant: { type: 'constant', value: 0.1 },
  exponentialDecay: { type: 'exponentialDecay', initial: 0.1, decayRate: 0.5, decaySteps: 100 },
  piecewiseConstant: { type: 'piecewiseConstant', boundaries: [10, 20], values: [0.1, 0.05, 0.01] },
  cosineDecay: { type: 'cosineDecay', initial: 0.1, decaySteps: 100, warmupSteps: 10 },
  warmup: { type: 'warmup', steps: 10, then: { type: 'exponentialDecay', initial: 0.1, decayRate: 0.5, decaySteps: 100 } },
};

describe.each(schedules.names())('schedule %s', (name) => {
  it('has an example that builds and gives finite rates, positive at the start, documented params, and a config that round-trips', () => {
    const example = examples[name];
    expect(example, `an example for ${name}`).toBeDefined();
    const entry = schedules.get(name);
    for (const [key, spec] of Object.entries(entry.params as Record<string, ParamSpec<unknown>>)) {
      expect(spec.schema['description'], key).toEqual(expect.any(String));
      expect(spec.default !== undefined || spec.required === true, `${key} has a default or is required`).toBe(true);
    }
    const filled = fillEntry('schedule', example, (_kind, type) => schedules.get(type).params) as LearningRateConfig;
    const steps = [0, 1, 5, 9, 10, 11, 50, 99, 100, 500, 10_000];
    const rates = values(example!, steps);
    expect(rates[0]).toBeGreaterThan(0);
    // cosineDecay ends at alpha · initial, 0 by default.
    for (const rate of rates) expect(rate >= 0 && Number.isFinite(rate), `${rate}`).toBe(true);
    expect(values(JSON.parse(JSON.stringify(filled)) as LearningRateConfig, steps)).toEqual(rates);
  });
});

describe('schedules', () => {
  it('exponentialDecay decays smoothly or in stairs', () => {
    const smooth = make({ type: 'exponentialDecay', initial: 1, decayRate: 0.5, decaySteps: 10 });
    const stairs = make({ type: 'exponentialDecay', initial: 1, decayRate: 0.5, decaySteps: 10, staircase: true });
    expect(smooth(5)).toBeCloseTo(Math.SQRT1_2, 10);
    expect(stairs(5)).toBe(1);
    expect(stairs(20)).toBe(0.25);
  });

  it('piecewiseConstant and cosineDecay', () => {
    const piecewise = make({ type: 'piecewiseConstant', boundaries: [10, 20], values: [1, 0.5, 0.1] });
    expect([piecewise(0), piecewise(10), piecewise(25)]).toEqual([1, 0.5, 0.1]);
    const cosine = make({ type: 'cosineDecay', initial: 1, decaySteps: 100, warmupSteps: 10 });
    expect(cosine(4)).toBeCloseTo(0.5, 10);
    expect(cosine(10)).toBeCloseTo(1, 10);
    expect(cosine(60)).toBeCloseTo(0.5, 10);
    expect(cosine(110)).toBeCloseTo(0, 10);
    const floor = make({ type: 'cosineDecay', initial: 1, decaySteps: 100, alpha: 0.1 });
    expect([floor(0), floor(100), floor(1000)]).toEqual([1, 0.1, 0.1].map((x) => expect.closeTo(x, 10)));
  });

  it('piecewiseConstant refuses values that do not fit its boundaries', () => {
    expect(() => make({ type: 'piecewiseConstant', boundaries: [10, 20], values: [1, 0.5] })).toThrow(
      new ConfigError('piecewiseConstant needs 3 values for 2 boundaries, got 2'),
    );
    expect(() => make({ type: 'piecewiseConstant', boundaries: [20, 10], values: [1, 0.5, 0.1] })).toThrow(/boundaries must increase, got \[20, 10\]/);
  });
});

describe('warmup', () => {
  it('ramps linearly to a constant, reaching it on its last step, never at zero', () => {
    expect(values({ type: 'warmup', steps: 4, then: 0.1 }, [0, 1, 2, 3, 4, 100])).toEqual([0.025, 0.05, 0.075, 0.1, 0.1, 0.1].map((x) => expect.closeTo(x, 12)));
  });

  it('starts from `from`', () => {
    expect(values({ type: 'warmup', steps: 2, from: 0.02, then: 0.1 }, [0, 1, 2])).toEqual([0.06, 0.1, 0.1].map((x) => expect.closeTo(x, 12)));
  });

  it('wraps any schedule, which starts counting at the end of the warm-up', () => {
    const decay = { type: 'exponentialDecay', initial: 0.1, decayRate: 0.5, decaySteps: 10 };
    const warm = make({ type: 'warmup', steps: 5, then: decay });
    expect(warm(0)).toBeCloseTo(0.02, 12);
    expect(warm(4)).toBeCloseTo(0.1, 12);
    expect(warm(15)).toBeCloseTo(0.05, 12);
    const stairs = make({ type: 'warmup', steps: 2, then: { type: 'piecewiseConstant', boundaries: [3], values: [1, 0.1] } });
    expect([0, 1, 2, 3, 4, 5].map(stairs)).toEqual([0.5, 1, 1, 1, 1, 0.1]);
  });

  it('in front of cosineDecay equals cosineDecay.warmupSteps, step for step', () => {
    const shorthand = make({ type: 'cosineDecay', initial: 0.003, decaySteps: 200, alpha: 0.1, warmupSteps: 50 });
    const wrapped = make({ type: 'warmup', steps: 50, then: { type: 'cosineDecay', initial: 0.003, decaySteps: 200, alpha: 0.1 } });
    const steps = Array.from({ length: 300 }, (_, i) => i);
    expect(steps.map(wrapped)).toEqual(steps.map(shorthand));
  });

  it('fills the defaults of the schedule it wraps, also when nested', () => {
    const written = { type: 'warmup', steps: 2, then: { type: 'warmup', steps: 2, then: { type: 'exponentialDecay', initial: 1, decayRate: 0.5, decaySteps: 1 } } };
    const filled = fillEntry('schedule', written, (_kind, type) => schedules.get(type).params);
    expect(filled).toEqual({ type: 'warmup', steps: 2, from: 0, then: { type: 'warmup', steps: 2, from: 0, then: { type: 'exponentialDecay', initial: 1, decayRate: 0.5, decaySteps: 1, staircase: false } } });
    // The outer ramp leads to the inner one's first value (0.5), which leads to the decay's (1).
    expect(values(written, [0, 1, 2, 3, 4, 5])).toEqual([0.25, 0.5, 0.5, 1, 1, 0.5]);
  });

  it('names an unknown schedule it wraps, with a suggestion', () => {
    expect(() => make({ type: 'warmup', steps: 2, then: { type: 'cosinDecay', initial: 1, decaySteps: 10 } })).toThrow(UnknownNameError);
    expect(() => make({ type: 'warmup', steps: 2, then: { type: 'cosinDecay', initial: 1, decaySteps: 10 } })).toThrow(/unknown schedule 'cosinDecay'.*cosineDecay/);
  });

  it('passes on the errors of the schedule it wraps', () => {
    expect(() => make({ type: 'warmup', steps: 2, then: { type: 'piecewiseConstant', boundaries: [1], values: [1] } })).toThrow(ConfigError);
  });

  it('is in the schema as a number or a schedule after it', () => {
    const then = (schedules.get('warmup').params as Record<string, ParamSpec<unknown>>)['then']!;
    expect(then.schema['anyOf']).toEqual([{ type: 'number', exclusiveMinimum: 0 }, { $ref: '#/$defs/schedule' }]);
    expect(then.required).toBe(true);
    expect(then.union).toBe('schedule');
  });
});

describe('a learning rate', () => {
  it('drives an optimizer through a schedule, with the warm-up in front', () => {
    const context = { schedules };
    const decaying = createOptimizer(createOptimizerRegistry(), { type: 'sgd', learningRate: { type: 'exponentialDecay', initial: 0.2, decayRate: 0.5, decaySteps: 1 } }, context);
    expect(decaying.learningRate(2)).toBeCloseTo(0.05, 10);
    const warm = createOptimizer(createOptimizerRegistry(), { type: 'adam', learningRate: { type: 'warmup', steps: 100, then: 0.001 } }, context);
    expect(warm.config['learningRate']).toEqual({ type: 'warmup', steps: 100, from: 0, then: 0.001 });
    expect([warm.learningRate(0), warm.learningRate(99), warm.learningRate(1000)]).toEqual([0.00001, 0.001, 0.001].map((x) => expect.closeTo(x, 12)));
    for (const o of [decaying, warm]) o.dispose();
  });
});
