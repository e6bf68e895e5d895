import * as tf from '@tensorflow/tfjs';
import { param, Registry, fillEntry, type RegistryEntry } from '@dlexp/core';
import { numberOrScheduleParam, resolveLearningRate, type LearningRateConfig, type Schedule, type ScheduleRegistry } from './schedules';
import {
  addDecayedWeights,
  scaleByAdadelta,
  scaleByAdagrad,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  trace,
  type GradientTransform,
} from './transforms';

export interface OptimizerContext {
  schedules: ScheduleRegistry;
}

/** What a named optimizer is made of: its transforms, and the learning rate it uses at a step. */
export interface OptimizerRecipe {
  transforms: GradientTransform[];
  learningRate: Schedule;
}

export type OptimizerRegistry = Registry<OptimizerContext, OptimizerRecipe>;

type OptimizerEntry<P> = RegistryEntry<P, OptimizerContext, OptimizerRecipe>;

const learningRateParam = (defaultValue: number) =>
  numberOrScheduleParam({
    description: 'Step size: a number, or a schedule such as {type: exponentialDecay, initial: 0.001, decayRate: 0.95, decaySteps: 600} or {type: warmup, steps: 500, then: 0.001}.',
    default: defaultValue,
  });

function recipe(learningRate: LearningRateConfig, context: OptimizerContext, direction: GradientTransform[]): OptimizerRecipe {
  const schedule = resolveLearningRate(learningRate, context.schedules);
  return { transforms: [...direction, scaleByLearningRate(schedule)], learningRate: schedule };
}

const epsilon = (value: number) => param.number({ description: 'Small constant added for numerical stability.', default: value, exclusiveMinimum: 0 });

const sgd: OptimizerEntry<{ learningRate: LearningRateConfig }> = {
  name: 'sgd',
  description: 'Plain gradient descent: w ← w − lr·g (the course\'s GradientDescentOptimizer).',
  params: { learningRate: learningRateParam(0.01) },
  create: (p, c) => recipe(p.learningRate, c, []),
};

/** Heavy-ball momentum and Nesterov's look-ahead variant differ only in the trace they keep. */
function momentumEntry(name: string, description: string, nesterov: boolean): OptimizerEntry<{ learningRate: LearningRateConfig; momentum: number }> {
  return {
    name,
    description,
    params: {
      learningRate: learningRateParam(0.01),
      momentum: param.number({ description: 'Momentum coefficient μ.', default: 0.9, minimum: 0, exclusiveMaximum: 1 }),
    },
    create: (p, c) => recipe(p.learningRate, c, [trace(p.momentum, nesterov)]),
  };
}

const momentum = momentumEntry('momentum', 'Gradient descent with heavy-ball momentum: v ← μv + g, w ← w − lr·v.', false);
const nesterov = momentumEntry('nesterov', 'Nesterov accelerated gradient (NAG): momentum that looks ahead, w ← w − lr·(g + μv).', true);

const adagrad: OptimizerEntry<{ learningRate: LearningRateConfig; initialAccumulator: number; epsilon: number }> = {
  name: 'adagrad',
  description: 'Adagrad: per-weight rates shrinking with the sum of squared gradients.',
  params: {
    learningRate: learningRateParam(0.01),
    initialAccumulator: param.number({ description: 'Starting value of the squared-gradient sums.', default: 0.1, minimum: 0 }),
    epsilon: epsilon(1e-7),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdagrad(p.initialAccumulator, p.epsilon)]),
};

const rmsprop: OptimizerEntry<{ learningRate: LearningRateConfig; decay: number; momentum: number; epsilon: number }> = {
  name: 'rmsprop',
  description: 'RMSprop: divides by a moving root mean square of recent gradients.',
  params: {
    learningRate: learningRateParam(0.001),
    decay: param.number({ description: 'Decay of the mean-square average.', default: 0.9, minimum: 0, exclusiveMaximum: 1 }),
    momentum: param.number({ description: 'Momentum applied after the RMS scaling (0 for none).', default: 0, minimum: 0, exclusiveMaximum: 1 }),
    epsilon: epsilon(1e-10),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByRms(p.decay, p.epsilon), ...(p.momentum > 0 ? [trace(p.momentum, false)] : [])]),
};

const adadelta: OptimizerEntry<{ learningRate: LearningRateConfig; rho: number; epsilon: number }> = {
  name: 'adadelta',
  description: 'Adadelta: scales by the ratio of recent update and gradient magnitudes; the learning rate is usually 1.',
  params: {
    learningRate: learningRateParam(1),
    rho: param.number({ description: 'Decay of both moving averages.', default: 0.95, minimum: 0, exclusiveMaximum: 1 }),
    epsilon: epsilon(1e-6),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdadelta(p.rho, p.epsilon)]),
};

const adamParams = {
  learningRate: learningRateParam(0.001),
  beta1: param.number({ description: 'Decay of the first-moment (mean) estimate.', default: 0.9, minimum: 0, exclusiveMaximum: 1 }),
  beta2: param.number({ description: 'Decay of the second-moment (uncentered variance) estimate.', default: 0.999, minimum: 0, exclusiveMaximum: 1 }),
  epsilon: epsilon(1e-8),
};

const adam: OptimizerEntry<{ learningRate: LearningRateConfig; beta1: number; beta2: number; epsilon: number }> = {
  name: 'adam',
  description: 'Adam: bias-corrected moving averages of the gradient and its square.',
  params: adamParams,
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdam(p.beta1, p.beta2, p.epsilon)]),
};

const adamw: OptimizerEntry<{ learningRate: LearningRateConfig; beta1: number; beta2: number; epsilon: number; weightDecay: number }> = {
  name: 'adamw',
  description: 'Adam with decoupled weight decay (the decay is not scaled by the adaptive denominators).',
  params: { ...adamParams, weightDecay: param.number({ description: 'Decay rate applied to the weights each step.', default: 0.01, minimum: 0 }) },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdam(p.beta1, p.beta2, p.epsilon), addDecayedWeights(p.weightDecay)]),
};

export function createOptimizerRegistry(): OptimizerRegistry {
  const registry: OptimizerRegistry = new Registry('optimizer', 'optimizers');
  for (const entry of [sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw]) registry.register(entry as OptimizerEntry<unknown>);
  return registry;
}

/**
 * Applies a chain of transforms to variables. Gradients are transformed in order and the last
 * transform's output is added to each variable.
 */
export class Optimizer {
  private initialized = false;

  constructor(
    readonly name: string,
    private readonly transforms: GradientTransform[],
    readonly learningRate: Schedule,
  ) {}

  /** Updates `variables` in place from `grads` (missing gradients leave a variable unchanged). */
  apply(grads: ReadonlyMap<string, tf.Tensor>, variables: ReadonlyMap<string, tf.Variable>, step: number): void {
    const present = new Map([...variables].filter(([name]) => grads.has(name)));
    if (!this.initialized) {
      for (const t of this.transforms) t.init(variables);
      this.initialized = true;
    }
    tf.tidy(() => {
      let current = new Map([...present.keys()].map((name) => [name, grads.get(name)!]));
      for (const t of this.transforms) current = t.update(current, present, step);
      for (const [name, update] of current) present.get(name)!.assign(tf.add(present.get(name)!, update));
    });
  }

  /** Every slot by `<transform index>:<variable>/<slot>` (for checkpoints). */
  slots(variables: ReadonlyMap<string, tf.Variable>): Map<string, tf.Variable> {
    if (!this.initialized) {
      for (const t of this.transforms) t.init(variables);
      this.initialized = true;
    }
    const out = new Map<string, tf.Variable>();
    this.transforms.forEach((t, i) => {
      for (const [key, value] of t.slots()) out.set(`${i}:${key}`, value);
    });
    return out;
  }

  dispose(): void {
    for (const t of this.transforms) t.dispose();
  }
}

/** Builds a named optimizer, with optional transforms (clipping) applied before it. */
export function createOptimizer(
  registry: OptimizerRegistry,
  config: { type: string; [key: string]: unknown },
  context: OptimizerContext,
  before: GradientTransform[] = [],
): Optimizer {
  const entry = registry.get(config.type);
  const params = fillEntry('optimizer', config, (kind, name) => (kind === 'optimizer' ? registry.get(name).params : context.schedules.get(name).params));
  const made = entry.create(params, context);
  return new Optimizer(config.type, [...before, ...made.transforms], made.learningRate);
}
