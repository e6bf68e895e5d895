import * as tf from '@tensorflow/tfjs';
import { param, Registry, RandomStream, deriveSeed, type RegistryEntry } from '@dlexp/core';

/** What an initializer needs besides its parameters: the shape, and a seed for its purpose. */
export interface InitializerContext {
  /** Run seed. */
  seed: number;
  /** What is being initialized (a variable or layer weight name); part of the derived seed. */
  purpose: string;
}

/** Makes the initial value of a weight tensor of the given shape. */
export type Initializer = (shape: number[]) => tf.Tensor;

export type InitializerRegistry = Registry<InitializerContext, Initializer>;

type InitializerEntry<P> = RegistryEntry<P, InitializerContext, Initializer>;

const zeros: InitializerEntry<Record<string, never>> = {
  name: 'zeros',
  description: 'All zeros.',
  params: {},
  create: () => (shape) => tf.zeros(shape),
};

const ones: InitializerEntry<Record<string, never>> = {
  name: 'ones',
  description: 'All ones.',
  params: {},
  create: () => (shape) => tf.ones(shape),
};

const constant: InitializerEntry<{ value: number }> = {
  name: 'constant',
  description: 'Every element set to one value.',
  params: { value: param.number({ description: 'The value.', default: 0 }) },
  create: (p) => (shape) => tf.fill(shape, p.value),
};

const randomNormal: InitializerEntry<{ mean: number; stddev: number }> = {
  name: 'randomNormal',
  description: 'Drawn from a normal distribution (the course\'s tf.random_normal).',
  params: {
    mean: param.number({ description: 'Mean of the distribution.', default: 0 }),
    stddev: param.number({ description: 'Standard deviation.', default: 1, minimum: 0 }),
  },
  create: (p, c) => (shape) => tf.randomNormal(shape, p.mean, p.stddev, 'float32', deriveSeed(c.seed, 'init', c.purpose)),
};

const truncatedNormal: InitializerEntry<{ mean: number; stddev: number }> = {
  name: 'truncatedNormal',
  description: 'Normal distribution with draws beyond two standard deviations redrawn (the course\'s CNN weights).',
  params: {
    mean: param.number({ description: 'Mean of the distribution.', default: 0 }),
    stddev: param.number({ description: 'Standard deviation before truncation.', default: 0.1, minimum: 0 }),
  },
  create: (p, c) => (shape) =>
    tf.truncatedNormal(shape, p.mean, p.stddev, 'float32', deriveSeed(c.seed, 'init', c.purpose)),
};

const randomUniform: InitializerEntry<{ minval: number; maxval: number }> = {
  name: 'randomUniform',
  description: 'Drawn uniformly from [minval, maxval).',
  params: {
    minval: param.number({ description: 'Lower bound.', default: -0.05 }),
    maxval: param.number({ description: 'Upper bound.', default: 0.05 }),
  },
  create: (p, c) => (shape) =>
    tf.randomUniform(shape, p.minval, p.maxval, 'float32', deriveSeed(c.seed, 'init', c.purpose)),
};

/** Fan-in and fan-out of a weight shape, as Keras computes them (receptive field × channels). */
export function fans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  if (shape.length === 2) return { fanIn: shape[0]!, fanOut: shape[1]! };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { fanIn: receptive * shape[shape.length - 2]!, fanOut: receptive * shape[shape.length - 1]! };
}

const glorotUniform: InitializerEntry<Record<string, never>> = {
  name: 'glorotUniform',
  description: 'Uniform in ±sqrt(6 / (fanIn + fanOut)) (Keras\' default for dense and conv kernels).',
  params: {},
  create: (_p, c) => (shape) => {
    const { fanIn, fanOut } = fans(shape);
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return tf.randomUniform(shape, -limit, limit, 'float32', deriveSeed(c.seed, 'init', c.purpose));
  },
};

const heNormal: InitializerEntry<Record<string, never>> = {
  name: 'heNormal',
  description: 'Truncated normal with stddev sqrt(2 / fanIn), suited to ReLU layers.',
  params: {},
  create: (_p, c) => (shape) =>
    tf.truncatedNormal(shape, 0, Math.sqrt(2 / fans(shape).fanIn), 'float32', deriveSeed(c.seed, 'init', c.purpose)),
};

/**
 * A matrix with orthonormal rows or columns: Gram-Schmidt on a seeded normal draw, computed in
 * float64 on the CPU because recurrent kernels are small and tfjs' QR is slow.
 * Shapes of rank > 2 are treated as [product of all but the last axis, last axis].
 */
function orthogonalValues(shape: number[], gain: number, stream: RandomStream): Float32Array {
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  // Orthonormalize the k vectors of the shorter side, each of length n (the longer side).
  const [k, n] = rows >= cols ? [cols, rows] : [rows, cols];
  const vectors: Float64Array[] = [];
  for (let i = 0; i < k; i++) {
    const v = new Float64Array(n);
    for (let j = 0; j < n; j++) v[j] = stream.normal();
    for (const u of vectors) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += u[j]! * v[j]!;
      for (let j = 0; j < n; j++) v[j] = v[j]! - dot * u[j]!;
    }
    let norm = 0;
    for (let j = 0; j < n; j++) norm += v[j]! * v[j]!;
    norm = Math.sqrt(norm);
    for (let j = 0; j < n; j++) v[j] = v[j]! / norm;
    vectors.push(v);
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // Vectors are columns of a tall matrix, or rows of a wide one.
      out[r * cols + c] = gain * (rows >= cols ? vectors[c]![r]! : vectors[r]![c]!);
    }
  }
  return out;
}

const orthogonal: InitializerEntry<{ gain: number }> = {
  name: 'orthogonal',
  description: 'A random orthogonal matrix times gain (Keras\' default for recurrent kernels).',
  params: { gain: param.number({ description: 'Factor applied to the orthogonal matrix.', default: 1 }) },
  create: (p, c) => (shape) =>
    tf.tensor(orthogonalValues(shape, p.gain, new RandomStream(c.seed, 'init', c.purpose)), shape, 'float32'),
};

export function createInitializerRegistry(): InitializerRegistry {
  const registry: InitializerRegistry = new Registry('initializer', 'initializers');
  for (const entry of [zeros, ones, constant, randomNormal, truncatedNormal, randomUniform, glorotUniform, heNormal, orthogonal]) {
    registry.register(entry as InitializerEntry<unknown>);
  }
  return registry;
}
