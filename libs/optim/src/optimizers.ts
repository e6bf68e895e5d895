import { param, Registry, fillEntry, type RegistryEntry } from '@dlexp/core';
import { Optimizer, type OptimizerConfig } from './optimizer';
import { numberOrScheduleParam, resolveLearningRate, type LearningRateConfig, type Schedule, type ScheduleRegistry } from './schedules';
import {
  addDecayedWeights,
  scaleByAdadelta,
  scaleByAdagrad,
  scaleByAdam,
  scaleByAdamax,
  scaleByLearningRate,
  scaleByLion,
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

/** A named optimizer's direction, then the learning rate (and its sign) applied last. */
function recipe(learningRate: LearningRateConfig, context: OptimizerContext, direction: GradientTransform[]): OptimizerRecipe {
  const schedule = resolveLearningRate(learningRate, context.schedules);
  return { transforms: [...direction, scaleByLearningRate(schedule)], learningRate: schedule };
}

const epsilon = (value: number) => param.number({ description: 'Small constant added for numerical stability.', default: value, exclusiveMinimum: 0 });
const beta = (description: string, value: number) => param.number({ description, default: value, minimum: 0, exclusiveMaximum: 1 });
const weightDecay = (value: number) =>
  param.number({ description: 'Decoupled weight decay λ: each step also subtracts learningRate · λ · w (not scaled by the adaptive terms).', default: value, minimum: 0 });

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
      momentum: beta('Momentum coefficient μ.', 0.9),
    },
    create: (p, c) => recipe(p.learningRate, c, [trace(p.momentum, nesterov)]),
  };
}

const momentum = momentumEntry('momentum', 'Gradient descent with heavy-ball momentum: v ← μv + g, w ← w − lr·v (the course\'s MomentumOptimizer).', false);
const nesterov = momentumEntry('nesterov', 'Nesterov accelerated gradient: momentum that looks ahead, v ← μv + g, w ← w − lr·(g + μv) (MomentumOptimizer with use_nesterov).', true);

const adagrad: OptimizerEntry<{ learningRate: LearningRateConfig; initialAccumulator: number; epsilon: number }> = {
  name: 'adagrad',
  description: 'Adagrad (Duchi et al. 2011): per-weight rates shrinking with the sum of squared gradients, w ← w − lr·g / (sqrt(Σg²) + ε).',
  params: {
    learningRate: learningRateParam(0.01),
    initialAccumulator: param.number({ description: 'Starting value of the squared-gradient sums.', default: 0.1, minimum: 0 }),
    epsilon: epsilon(1e-7),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdagrad(p.initialAccumulator, p.epsilon)]),
};

const rmsprop: OptimizerEntry<{ learningRate: LearningRateConfig; decay: number; momentum: number; epsilon: number }> = {
  name: 'rmsprop',
  description: 'RMSprop (Hinton, lecture 6e): divides by a moving root mean square of recent gradients, w ← w − lr·g / sqrt(E[g²] + ε).',
  params: {
    learningRate: learningRateParam(0.001),
    decay: beta('Decay of the mean-square average.', 0.9),
    momentum: param.number({ description: 'Momentum applied after the RMS scaling (0 for none).', default: 0, minimum: 0, exclusiveMaximum: 1 }),
    epsilon: epsilon(1e-10),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByRms(p.decay, p.epsilon), ...(p.momentum > 0 ? [trace(p.momentum, false)] : [])]),
};

const adadelta: OptimizerEntry<{ learningRate: LearningRateConfig; rho: number; epsilon: number }> = {
  name: 'adadelta',
  description: 'Adadelta (Zeiler 2012): scales by the ratio of recent update and gradient magnitudes; the paper has no learning rate, so it defaults to 1.',
  params: {
    learningRate: learningRateParam(1),
    rho: beta('Decay of both moving averages.', 0.95),
    epsilon: epsilon(1e-6),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdadelta(p.rho, p.epsilon)]),
};

const adamParams = {
  learningRate: learningRateParam(0.001),
  beta1: beta('Decay of the first-moment (mean) estimate.', 0.9),
  beta2: beta('Decay of the second-moment (uncentered variance) estimate.', 0.999),
  epsilon: epsilon(1e-8),
};

const adam: OptimizerEntry<{ learningRate: LearningRateConfig; beta1: number; beta2: number; epsilon: number }> = {
  name: 'adam',
  description: 'Adam (Kingma & Ba 2015): bias-corrected moving averages of the gradient and its square, w ← w − lr·m̂ / (sqrt(v̂) + ε).',
  params: adamParams,
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdam(p.beta1, p.beta2, p.epsilon)]),
};

const adamax: OptimizerEntry<{ learningRate: LearningRateConfig; beta1: number; beta2: number; epsilon: number }> = {
  name: 'adamax',
  description: 'Adamax (Kingma & Ba 2015, section 7.1): Adam with the infinity norm, u ← max(β2·u, |g|), w ← w − lr/(1 − β1^t)·m / (u + ε).',
  params: {
    learningRate: learningRateParam(0.002),
    beta1: beta('Decay of the first-moment (mean) estimate.', 0.9),
    beta2: beta('Decay of the exponentially weighted infinity norm.', 0.999),
    epsilon: epsilon(1e-8),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdamax(p.beta1, p.beta2, p.epsilon)]),
};

const adamw: OptimizerEntry<{ learningRate: LearningRateConfig; beta1: number; beta2: number; epsilon: number; weightDecay: number }> = {
  name: 'adamw',
  description: 'AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, w ← w − lr·(m̂ / (sqrt(v̂) + ε) + λw).',
  params: { ...adamParams, weightDecay: weightDecay(0.01) },
  create: (p, c) => recipe(p.learningRate, c, [scaleByAdam(p.beta1, p.beta2, p.epsilon), addDecayedWeights(p.weightDecay)]),
};

const lion: OptimizerEntry<{ learningRate: LearningRateConfig; beta1: number; beta2: number; weightDecay: number }> = {
  name: 'lion',
  description:
    'Lion (Chen et al. 2023): w ← w − lr·(sign(β1·m + (1 − β1)·g) + λw), then m ← β2·m + (1 − β2)·g. ' +
    'Every weight moves by ±lr, so it wants a learning rate 3–10× smaller than AdamW\'s.',
  params: {
    learningRate: learningRateParam(1e-4),
    beta1: beta('Interpolation between momentum and gradient for the sign of the update.', 0.9),
    beta2: beta('Decay of the momentum.', 0.99),
    weightDecay: weightDecay(0),
  },
  create: (p, c) => recipe(p.learningRate, c, [scaleByLion(p.beta1, p.beta2), addDecayedWeights(p.weightDecay)]),
};

export function createOptimizerRegistry(): OptimizerRegistry {
  const registry: OptimizerRegistry = new Registry('optimizer', 'optimizers');
  for (const entry of [sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamax, adamw, lion]) registry.register(entry as OptimizerEntry<unknown>);
  return registry;
}

/** Fills an optimizer config's defaults, the learning-rate schedule's included. */
export function resolveOptimizerConfig(registry: OptimizerRegistry, config: OptimizerConfig, context: OptimizerContext): OptimizerConfig {
  return fillEntry('optimizer', config, (kind, name) => (kind === 'optimizer' ? registry.get(name).params : context.schedules.get(name).params)) as OptimizerConfig;
}

/** Builds a named optimizer, with optional transforms (clipping) applied before it. */
export function createOptimizer(registry: OptimizerRegistry, config: OptimizerConfig, context: OptimizerContext, before: GradientTransform[] = []): Optimizer {
  const entry = registry.get(config.type);
  const resolved = resolveOptimizerConfig(registry, config, context);
  const made = entry.create(resolved, context);
  return new Optimizer(resolved, [...before, ...made.transforms], made.learningRate);
}
