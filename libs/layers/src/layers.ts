import * as tf from '@tensorflow/tfjs';
import { param, Registry, type ParamSpec, type RegistryEntry } from '@dlexp/core';
import { createActivationRegistry, type ActivationRegistry } from './activations';
import { SeededDropout, type RandomContext } from './dropout';
import type { InitializerRegistry } from './initializers';
import { Lstm } from './lstm';
import type { RegularizerConfig, RegularizerRegistry } from './regularizers';
import { seededInitializer, tfjsActivation, tfjsRegularizer, type InitializerConfig } from './tfjs-bridge';

/** What a layer needs besides its parameters. The model builder fills it in for each node. */
export interface LayerContext {
  /** The layer's name, unique in its model; part of every seed the layer derives. */
  name: string;
  /** Run seed. */
  seed: number;
  /** The current training step, read by dropout layers. */
  random: RandomContext;
  initializers: InitializerRegistry;
  regularizers: RegularizerRegistry;
}

export type LayerRegistry = Registry<LayerContext, tf.layers.Layer>;
type LayerEntry<P> = RegistryEntry<P, LayerContext, tf.layers.Layer>;

/** A size written as one number for every spatial axis or as [height, width]. */
type Size2 = number | [number, number];

const size2 = (description: string, options: { default?: Size2; required?: boolean }): ParamSpec<Size2> =>
  param.custom<Size2>(
    {
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 },
      ],
    },
    { description: `${description} One number for both axes, or [height, width].`, ...options },
  );

const padding = param.oneOf(['valid', 'same'] as const, {
  description:
    "'valid': no padding, the output shrinks by the window size minus one; 'same': zero padding so that with stride 1 the output keeps the input's height and width.",
  default: 'valid',
});

const useBias = param.boolean({ description: 'Add a learned bias to the output.', default: true });

const initializer = (what: string, type: string): ParamSpec<InitializerConfig> =>
  param.union<InitializerConfig>('initializer', {
    description: `How the ${what} is initialized, e.g. {type: truncatedNormal, stddev: 0.1}. Seeded from the run seed, the layer name and the weight name.`,
    default: { type },
  });

const regularizer = (what: string): ParamSpec<RegularizerConfig | undefined> =>
  param.union<RegularizerConfig | undefined>('regularizer', {
    description: `Penalty on the ${what} added to the training loss, e.g. {type: l2, l2: 0.0005}. None when not written.`,
  });

const units = (what: string) =>
  param.integer({ description: `Number of ${what}.`, minimum: 1, required: true });

/** Named for the weight it initializes, so seeds differ per weight and per layer. */
function init(c: LayerContext, weight: string, config: InitializerConfig, options: { unitForgetBias?: boolean } = {}) {
  return seededInitializer(config, c.seed, `${c.name}/${weight}`, c.initializers, options);
}

interface DenseParams {
  units: number;
  activation: string;
  useBias: boolean;
  kernelInitializer: InitializerConfig;
  biasInitializer: InitializerConfig;
  kernelRegularizer: RegularizerConfig | undefined;
  biasRegularizer: RegularizerConfig | undefined;
}

interface Conv2dParams extends Omit<DenseParams, 'units'> {
  filters: number;
  kernelSize: Size2;
  strides: Size2;
  padding: 'valid' | 'same';
}

interface PoolParams {
  poolSize: Size2;
  strides: Size2 | undefined;
  padding: 'valid' | 'same';
}

interface RecurrentParams {
  units: number;
  activation: string;
  recurrentActivation: string;
  useBias: boolean;
  returnSequences: boolean;
  kernelInitializer: InitializerConfig;
  recurrentInitializer: InitializerConfig;
  biasInitializer: InitializerConfig;
  kernelRegularizer: RegularizerConfig | undefined;
  recurrentRegularizer: RegularizerConfig | undefined;
  biasRegularizer: RegularizerConfig | undefined;
}

interface LstmParams extends RecurrentParams {
  unitForgetBias: boolean;
}

/**
 * The layer registry. Activation names come from `activations`, so that registry's names are the
 * choices offered by every `activation` parameter in the schema.
 */
export function createLayerRegistry(options: { activations?: ActivationRegistry } = {}): LayerRegistry {
  const activations = options.activations ?? createActivationRegistry();
  const names = activations.names();
  const activationParam = (description: string, def: string | undefined) =>
    param.oneOf(names, def === undefined ? { description, required: true } : { description, default: def });
  const act = (name: string) => tfjsActivation(name, activations.get(name).create({}, {}));

  /** The kernel and bias parameters of dense and conv2d, and the tfjs arguments they become. */
  const kernelAndBiasParams = (kernel: string) => ({
    useBias,
    kernelInitializer: initializer(kernel, 'glorotUniform'),
    biasInitializer: initializer('bias', 'zeros'),
    kernelRegularizer: regularizer('kernel'),
    biasRegularizer: regularizer('bias'),
  });
  const kernelAndBiasArgs = (p: DenseParams | Conv2dParams, c: LayerContext) => ({
    useBias: p.useBias,
    kernelInitializer: init(c, 'kernel', p.kernelInitializer),
    biasInitializer: init(c, 'bias', p.biasInitializer),
    kernelRegularizer: tfjsRegularizer(p.kernelRegularizer, c.regularizers),
    biasRegularizer: tfjsRegularizer(p.biasRegularizer, c.regularizers),
  });

  const dense: LayerEntry<DenseParams> = {
    name: 'dense',
    description: 'Fully connected layer: activation(x · kernel + bias) over the last axis.',
    params: {
      units: units('output units'),
      activation: activationParam('Applied to the output.', 'linear'),
      ...kernelAndBiasParams('kernel (weight matrix)'),
    },
    create: (p, c) =>
      tf.layers.dense({
        name: c.name,
        units: p.units,
        activation: act(p.activation),
        ...kernelAndBiasArgs(p, c),
      }),
  };

  const conv2d: LayerEntry<Conv2dParams> = {
    name: 'conv2d',
    description: '2-D convolution over [height, width, channels] inputs (channels last).',
    params: {
      filters: units('filters (output channels)'),
      kernelSize: size2('Size of the convolution window.', { required: true }),
      strides: size2('Step of the window.', { default: 1 }),
      padding,
      activation: activationParam('Applied to the output.', 'linear'),
      ...kernelAndBiasParams('kernel (filters)'),
    },
    create: (p, c) =>
      tf.layers.conv2d({
        name: c.name,
        filters: p.filters,
        kernelSize: p.kernelSize,
        strides: p.strides,
        padding: p.padding,
        activation: act(p.activation),
        ...kernelAndBiasArgs(p, c),
      }),
  };

  const poolParams = (what: string) => ({
    poolSize: size2(`Size of the ${what} window.`, { default: 2 }),
    strides: size2('Step of the window; the pool size when not written (non-overlapping windows).', {}),
    padding,
  });

  const maxPool: LayerEntry<PoolParams> = {
    name: 'maxPool',
    description: '2-D max pooling: the largest value of each window, per channel.',
    params: poolParams('pooling'),
    create: (p, c) =>
      tf.layers.maxPooling2d({ name: c.name, poolSize: p.poolSize, strides: p.strides, padding: p.padding }),
  };

  const avgPool: LayerEntry<PoolParams> = {
    name: 'avgPool',
    description: '2-D average pooling: the mean of each window, per channel.',
    params: poolParams('pooling'),
    create: (p, c) =>
      tf.layers.averagePooling2d({ name: c.name, poolSize: p.poolSize, strides: p.strides, padding: p.padding }),
  };

  const globalAvgPool: LayerEntry<Record<string, never>> = {
    name: 'globalAvgPool',
    description: 'Mean over height and width: [batch, h, w, c] becomes [batch, c].',
    params: {},
    create: (_p, c) => tf.layers.globalAveragePooling2d({ name: c.name }),
  };

  const flatten: LayerEntry<Record<string, never>> = {
    name: 'flatten',
    description: 'Flattens every axis but the batch axis into one: [batch, 7, 7, 64] becomes [batch, 3136].',
    params: {},
    create: (_p, c) => tf.layers.flatten({ name: c.name }),
  };

  const reshape: LayerEntry<{ targetShape: number[] }> = {
    name: 'reshape',
    description: 'Reshapes each example (the batch axis is kept) to a new shape with the same number of elements.',
    params: {
      targetShape: param.custom<number[]>(
        { type: 'array', items: { type: 'integer', minimum: -1 }, minItems: 1 },
        {
          description: 'The new shape without the batch axis, e.g. [28, 28, 1]; one size may be -1 (inferred).',
          required: true,
        },
      ),
    },
    create: (p, c) => tf.layers.reshape({ name: c.name, targetShape: p.targetShape }),
  };

  const dropout: LayerEntry<{ rate: number }> = {
    name: 'dropout',
    description:
      'While training, zeroes each value with probability `rate` and scales the rest by 1 / (1 - rate); the identity when evaluating. A new mask every step, derived from the run seed, the layer name and the step.',
    params: {
      rate: param.number({
        description: 'Fraction of values dropped (the course\'s 1 - keep_prob).',
        default: 0.5,
        minimum: 0,
        exclusiveMaximum: 1,
      }),
    },
    create: (p, c) => new SeededDropout({ name: c.name, rate: p.rate, seed: c.seed, random: c.random }),
  };

  const batchNorm: LayerEntry<{ momentum: number; epsilon: number; center: boolean; scale: boolean }> = {
    name: 'batchNorm',
    description:
      'Batch normalization over the last axis: normalizes with the batch statistics while training and with their moving averages when evaluating.',
    params: {
      momentum: param.number({
        description: 'Weight of the old value in the moving averages of mean and variance.',
        default: 0.99,
        minimum: 0,
        maximum: 1,
      }),
      epsilon: param.number({ description: 'Added to the variance to avoid dividing by zero.', default: 0.001, exclusiveMinimum: 0 }),
      center: param.boolean({ description: 'Learn an offset (beta) added after normalizing.', default: true }),
      scale: param.boolean({ description: 'Learn a factor (gamma) applied after normalizing.', default: true }),
    },
    create: (p, c) =>
      tf.layers.batchNormalization({
        name: c.name,
        axis: -1,
        momentum: p.momentum,
        epsilon: p.epsilon,
        center: p.center,
        scale: p.scale,
      }),
  };

  const activation: LayerEntry<{ activation: string }> = {
    name: 'activation',
    description: 'Applies an activation function on its own, e.g. after batchNorm.',
    params: { activation: activationParam('The function to apply.', undefined) },
    create: (p, c) => tf.layers.activation({ name: c.name, activation: act(p.activation) }),
  };

  const recurrentParams = (): { [K in keyof RecurrentParams]-?: ParamSpec<RecurrentParams[K]> } => ({
    units: units('units (size of the state)'),
    activation: activationParam('Applied to the candidate state and output.', 'tanh'),
    recurrentActivation: activationParam('Applied to the gates.', 'sigmoid'),
    useBias,
    returnSequences: param.boolean({
      description: 'Output the state at every time step ([batch, time, units]) instead of only the last ([batch, units]).',
      default: false,
    }),
    kernelInitializer: initializer('input kernel', 'glorotUniform'),
    recurrentInitializer: initializer('recurrent kernel', 'orthogonal'),
    biasInitializer: initializer('bias', 'zeros'),
    kernelRegularizer: regularizer('input kernel'),
    recurrentRegularizer: regularizer('recurrent kernel'),
    biasRegularizer: regularizer('bias'),
  });

  const recurrentArgs = (p: RecurrentParams, c: LayerContext) => ({
    name: c.name,
    units: p.units,
    activation: act(p.activation),
    recurrentActivation: act(p.recurrentActivation),
    useBias: p.useBias,
    returnSequences: p.returnSequences,
    kernelInitializer: init(c, 'kernel', p.kernelInitializer),
    recurrentInitializer: init(c, 'recurrent_kernel', p.recurrentInitializer),
    biasInitializer: init(c, 'bias', p.biasInitializer),
    kernelRegularizer: tfjsRegularizer(p.kernelRegularizer, c.regularizers),
    recurrentRegularizer: tfjsRegularizer(p.recurrentRegularizer, c.regularizers),
    biasRegularizer: tfjsRegularizer(p.biasRegularizer, c.regularizers),
  });

  // tfjs' recurrent dropout draws unseeded masks, so dropout inside LSTM/GRU is not offered;
  // a dropout layer before or after the recurrent layer is seeded.
  const lstm: LayerEntry<LstmParams> = {
    name: 'lstm',
    description: 'Long short-term memory over [batch, time, features] inputs.',
    params: {
      ...recurrentParams(),
      unitForgetBias: param.boolean({
        description: 'Add 1 to the forget gate\'s bias at initialization, so the state is kept early in training.',
        default: true,
      }),
    },
    create: (p, c) =>
      new Lstm({
        tfjs: {
          ...recurrentArgs(p, c),
          biasInitializer: init(c, 'bias', p.biasInitializer, { unitForgetBias: p.unitForgetBias }),
          // Applied by the bias initializer above instead: tfjs' version leaks tensors.
          unitForgetBias: false,
        },
        activation: { name: p.activation, fn: activations.get(p.activation).create({}, {}) },
        recurrentActivation: { name: p.recurrentActivation, fn: activations.get(p.recurrentActivation).create({}, {}) },
      }),
  };

  const gru: LayerEntry<RecurrentParams> = {
    name: 'gru',
    description: 'Gated recurrent unit over [batch, time, features] inputs.',
    params: recurrentParams(),
    create: (p, c) => tf.layers.gru(recurrentArgs(p, c)),
  };

  const embedding: LayerEntry<{
    inputDim: number;
    outputDim: number;
    embeddingsInitializer: InitializerConfig;
    embeddingsRegularizer: RegularizerConfig | undefined;
  }> = {
    name: 'embedding',
    description: 'Maps integer ids in [0, inputDim) to learned vectors: [batch, ...] becomes [batch, ..., outputDim].',
    params: {
      inputDim: param.integer({ description: 'Number of distinct ids (vocabulary size).', minimum: 1, required: true }),
      outputDim: param.integer({ description: 'Length of each vector.', minimum: 1, required: true }),
      embeddingsInitializer: param.union<InitializerConfig>('initializer', {
        description: 'How the vectors are initialized. Seeded from the run seed and the layer name.',
        default: { type: 'randomUniform' },
      }),
      embeddingsRegularizer: regularizer('vectors'),
    },
    create: (p, c) =>
      tf.layers.embedding({
        name: c.name,
        inputDim: p.inputDim,
        outputDim: p.outputDim,
        embeddingsInitializer: init(c, 'embeddings', p.embeddingsInitializer),
        embeddingsRegularizer: tfjsRegularizer(p.embeddingsRegularizer, c.regularizers),
      }),
  };

  const concatenate: LayerEntry<{ axis: number }> = {
    name: 'concatenate',
    description: 'Joins its inputs along one axis; the other axes must agree. Takes two or more inputs.',
    params: {
      axis: param.integer({ description: 'The axis to join along; -1 is the last (features).', default: -1 }),
    },
    create: (p, c) => tf.layers.concatenate({ name: c.name, axis: p.axis }),
  };

  const add: LayerEntry<Record<string, never>> = {
    name: 'add',
    description: 'Elementwise sum of its inputs (a residual connection); their shapes must agree. Takes two or more inputs.',
    params: {},
    create: (_p, c) => tf.layers.add({ name: c.name }),
  };

  const registry: LayerRegistry = new Registry('layer', 'layers');
  const all = [dense, conv2d, maxPool, avgPool, globalAvgPool, flatten, reshape, dropout, batchNorm, activation, lstm, gru, embedding, concatenate, add];
  for (const e of all) registry.register(e as LayerEntry<unknown>);
  return registry;
}

