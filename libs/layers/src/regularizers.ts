import * as tf from '@tensorflow/tfjs';
import { param, Registry, type RegistryEntry } from '@dlexp/core';

/**
 * A weight penalty: maps a weight tensor to a scalar that the train loop adds to the loss.
 * It must be built from differentiable ops on the weight so that gradients reach the weight.
 */
export type Regularizer = (weight: tf.Tensor) => tf.Scalar;

export type RegularizerContext = Record<string, never>;
export type RegularizerRegistry = Registry<RegularizerContext, Regularizer>;
type RegularizerEntry<P> = RegistryEntry<P, RegularizerContext, Regularizer>;

/** A regularizer as written in YAML: `{type: l2, l2: 0.0005}`. */
export interface RegularizerConfig {
  type: string;
  [param: string]: unknown;
}

const strength = (which: string) =>
  param.number({ description: `Factor of the ${which} penalty.`, default: 0.01, minimum: 0 });

const l1: RegularizerEntry<{ l1: number }> = {
  name: 'l1',
  description: 'l1 * sum(|w|): pushes weights to exactly zero (sparse weights).',
  params: { l1: strength('L1') },
  create: (p) => (w) => tf.tidy(() => tf.mul(p.l1, tf.sum(tf.abs(w)))),
};

const l2: RegularizerEntry<{ l2: number }> = {
  name: 'l2',
  description:
    'l2 * sum(w²) (Keras convention; TensorFlow\'s tf.nn.l2_loss is half of sum(w²), so use l2 = factor / 2 to match it).',
  params: { l2: strength('L2') },
  create: (p) => (w) => tf.tidy(() => tf.mul(p.l2, tf.sum(tf.square(w)))),
};

const l1l2: RegularizerEntry<{ l1: number; l2: number }> = {
  name: 'l1l2',
  description: 'l1 * sum(|w|) + l2 * sum(w²) (elastic net).',
  params: { l1: strength('L1'), l2: strength('L2') },
  create: (p) => (w) =>
    tf.tidy(() => tf.add(tf.mul(p.l1, tf.sum(tf.abs(w))), tf.mul(p.l2, tf.sum(tf.square(w))))),
};

export function createRegularizerRegistry(): RegularizerRegistry {
  const registry: RegularizerRegistry = new Registry('regularizer', 'regularizers');
  for (const e of [l1, l2, l1l2]) registry.register(e as RegularizerEntry<unknown>);
  return registry;
}

/**
 * The total weight penalty of a built model, as one scalar to add to the loss inside the function
 * given to `tf.variableGrads`. Zero when no layer has a regularizer. With `layers`, only the
 * penalties of the layers named there (those a step trains, when it trains only some).
 */
export function regularizationPenalty(model: tf.LayersModel, layers?: ReadonlySet<string>): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    for (const layer of model.layers) {
      if (layers !== undefined && !layers.has(layer.name)) continue;
      terms.push(...layer.calculateLosses());
      // Recurrent layers keep their weights, and so the penalties on them, in an inner cell that
      // is not among the model's layers.
      const cell = (layer as Partial<tf.RNN>).cell;
      if (cell !== undefined) terms.push(...cell.calculateLosses());
    }
    return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
  });
}
