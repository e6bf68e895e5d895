import * as tf from '@tensorflow/tfjs';
import { param, Registry, type RegistryEntry } from '@dlexp/core';
import { oneHotLabels, requireSameShape } from './labels';

/** A loss: labels and the model's predictions (one batch) to the mean loss over the batch. */
export type Loss = (labels: tf.Tensor, predictions: tf.Tensor) => tf.Scalar;

export type LossContext = Record<string, never>;
export type LossRegistry = Registry<LossContext, Loss>;
type LossEntry<P> = RegistryEntry<P, LossContext, Loss>;

// Keeps log() finite for probabilities of exactly 0 or 1 (Keras uses the same epsilon).
const EPSILON = 1e-7;

const meanSquaredError: LossEntry<Record<string, never>> = {
  name: 'meanSquaredError',
  description: 'Mean of (labels - predictions)² over every element (the course\'s quadratic cost).',
  params: {},
  create: () => (labels, predictions) => {
    requireSameShape(labels, predictions, 'meanSquaredError');
    return tf.tidy(() => tf.mean(tf.squaredDifference(labels, predictions)));
  },
};

/** -sum(labels * log p) over the class axis, averaged over the rest, from log-probabilities. */
function crossEntropyFromLogProbs(oneHot: tf.Tensor, logProbs: tf.Tensor): tf.Scalar {
  return tf.mean(tf.neg(tf.sum(tf.mul(oneHot, logProbs), -1)));
}

const softmaxCrossEntropy: LossEntry<Record<string, never>> = {
  name: 'softmaxCrossEntropy',
  description:
    'Cross-entropy of softmax(predictions) against the labels; the predictions are logits (use a linear last layer). Labels are one-hot vectors or integer class ids. Computed stably via log-softmax.',
  params: {},
  create: () => (labels, predictions) =>
    tf.tidy(() =>
      crossEntropyFromLogProbs(oneHotLabels(labels, predictions, 'softmaxCrossEntropy'), tf.logSoftmax(predictions)),
    ),
};

const sigmoidCrossEntropy: LossEntry<Record<string, never>> = {
  name: 'sigmoidCrossEntropy',
  description:
    'Binary cross-entropy of sigmoid(predictions) against labels in [0, 1], per element, averaged; the predictions are logits. For multi-label outputs and binary heads.',
  params: {},
  create: () => (labels, predictions) => {
    requireSameShape(labels, predictions, 'sigmoidCrossEntropy');
    // max(x, 0) - x * z + log(1 + exp(-|x|)): equal to the textbook form, without overflow.
    return tf.tidy(() => {
      const x = predictions;
      const z = tf.cast(labels, 'float32');
      return tf.mean(tf.add(tf.sub(tf.relu(x), tf.mul(x, z)), tf.log1p(tf.exp(tf.neg(tf.abs(x))))));
    });
  },
};

const fromLogits = param.boolean({
  description: 'The predictions are logits (a linear last layer) rather than probabilities (softmax).',
  default: false,
});

function categorical(p: { fromLogits: boolean }, what: string): Loss {
  return (labels, predictions) =>
    tf.tidy(() => {
      const oneHot = oneHotLabels(labels, predictions, what);
      const logProbs = p.fromLogits
        ? tf.logSoftmax(predictions)
        : tf.log(tf.clipByValue(predictions, EPSILON, 1 - EPSILON));
      return crossEntropyFromLogProbs(oneHot, logProbs);
    });
}

const categoricalCrossentropy: LossEntry<{ fromLogits: boolean }> = {
  name: 'categoricalCrossentropy',
  description:
    'Cross-entropy -Σ labels · log(predictions) over the class axis, averaged over the batch; the predictions are probabilities (a softmax last layer) and the labels one-hot vectors (integer ids are accepted too).',
  params: { fromLogits },
  create: (p) => categorical(p, 'categoricalCrossentropy'),
};

const sparseCategoricalCrossentropy: LossEntry<{ fromLogits: boolean }> = {
  name: 'sparseCategoricalCrossentropy',
  description:
    'categoricalCrossentropy for labels given as integer class ids, [batch] or [batch, 1]; the predictions are probabilities.',
  params: { fromLogits },
  create: (p) => categorical(p, 'sparseCategoricalCrossentropy'),
};

const binaryCrossentropy: LossEntry<Record<string, never>> = {
  name: 'binaryCrossentropy',
  description: 'Binary cross-entropy per element, averaged; the predictions are probabilities (a sigmoid last layer).',
  params: {},
  create: () => (labels, predictions) => {
    requireSameShape(labels, predictions, 'binaryCrossentropy');
    return tf.tidy(() => {
      const p = tf.clipByValue(predictions, EPSILON, 1 - EPSILON);
      const z = tf.cast(labels, 'float32');
      return tf.neg(tf.mean(tf.add(tf.mul(z, tf.log(p)), tf.mul(tf.sub(1, z), tf.log(tf.sub(1, p)))))) as tf.Scalar;
    });
  },
};

export function createLossRegistry(): LossRegistry {
  const registry: LossRegistry = new Registry('loss', 'losses');
  const all = [meanSquaredError, softmaxCrossEntropy, sigmoidCrossEntropy, categoricalCrossentropy, sparseCategoricalCrossentropy, binaryCrossentropy];
  for (const e of all) registry.register(e as LossEntry<unknown>);
  return registry;
}
