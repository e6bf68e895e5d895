import * as tf from '@tensorflow/tfjs';
import { Registry, type RegistryEntry } from '@dlexp/core';

/** An elementwise function applied to a layer's output (softmax: over the last axis). */
export type Activation = (x: tf.Tensor) => tf.Tensor;

/** Activations take no parameters and need no context; the empty object keeps `create` uniform. */
export type ActivationContext = Record<string, never>;
export type ActivationRegistry = Registry<ActivationContext, Activation>;
type ActivationEntry = RegistryEntry<Record<string, never>, ActivationContext, Activation>;

// Layers refer to activations by name only (`activation: relu`), so an activation cannot have
// parameters of its own: leakyRelu's slope is fixed here, at Keras' LeakyReLU default.
const LEAKY_RELU_ALPHA = 0.3;

function entry(name: string, description: string, fn: Activation): ActivationEntry {
  return { name, description, params: {}, create: () => fn };
}

const entries: ActivationEntry[] = [
  entry('linear', 'The identity: the layer outputs its pre-activations (logits for a classifier head).', (x) => x.clone()),
  entry('relu', 'max(x, 0).', (x) => tf.relu(x)),
  entry('tanh', 'Hyperbolic tangent, in (-1, 1).', (x) => tf.tanh(x)),
  entry('sigmoid', '1 / (1 + exp(-x)), in (0, 1).', (x) => tf.sigmoid(x)),
  entry('softmax', 'exp(x) normalized over the last axis, so each row sums to 1 (class probabilities).', (x) =>
    tf.softmax(x),
  ),
  entry('elu', 'x for x > 0, exp(x) - 1 otherwise.', (x) => tf.elu(x)),
  entry('selu', 'Scaled ELU (self-normalizing networks).', (x) => tf.selu(x)),
  entry('softplus', 'log(1 + exp(x)), a smooth ReLU.', (x) => tf.softplus(x)),
  entry('gelu', 'x * Φ(x) with Φ the standard normal CDF (exact form, via erf).', (x) =>
    tf.tidy(() => tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))))),
  ),
  entry('leakyRelu', `x for x > 0, ${LEAKY_RELU_ALPHA} * x otherwise.`, (x) => tf.leakyRelu(x, LEAKY_RELU_ALPHA)),
];

export function createActivationRegistry(): ActivationRegistry {
  const registry: ActivationRegistry = new Registry('activation', 'activations');
  for (const e of entries) registry.register(e);
  return registry;
}
