import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@dlexp/core';

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Class labels in either form a dataset may give them, as integer class ids shaped like the
 * predictions without their class axis:
 * - one-hot (or per-class probabilities): the same shape as the predictions;
 * - integer ids: the predictions' shape without the class axis, or with a class axis of size 1.
 */
export function classIds(labels: tf.Tensor, predictions: tf.Tensor, what: string): tf.Tensor {
  return tf.tidy(() => {
    const p = predictions.shape;
    const l = labels.shape;
    if (l.length === p.length && l.every((d, i) => d === p[i]) && p[p.length - 1] !== 1) {
      return tf.argMax(labels, -1);
    }
    if (l.length === p.length - 1 && l.every((d, i) => d === p[i])) return tf.cast(labels, 'int32');
    if (l.length === p.length && l[l.length - 1] === 1 && l.slice(0, -1).every((d, i) => d === p[i])) {
      return tf.cast(tf.squeeze(labels, [-1]), 'int32');
    }
    throw labelShapeError(labels, predictions, what);
  });
}

/** One-hot labels: given one-hot, kept as they are (as float); given ids, expanded. */
export function oneHotLabels(labels: tf.Tensor, predictions: tf.Tensor, what: string): tf.Tensor {
  return tf.tidy(() => {
    const p = predictions.shape;
    const l = labels.shape;
    if (l.length === p.length && l.every((d, i) => d === p[i])) return tf.cast(labels, 'float32');
    const ids = classIds(labels, predictions, what);
    return tf.oneHot(tf.reshape(ids, [-1]), p[p.length - 1]!).reshape(p);
  });
}

export function labelShapeError(labels: tf.Tensor, predictions: tf.Tensor, what: string): ConfigError {
  return new ConfigError(
    `${what}: labels of shape ${fmt(labels.shape)} do not fit predictions of shape ${fmt(predictions.shape)}`,
  );
}

export function requireSameShape(labels: tf.Tensor, predictions: tf.Tensor, what: string): void {
  const same = labels.rank === predictions.rank && labels.shape.every((d, i) => d === predictions.shape[i]);
  if (!same) throw labelShapeError(labels, predictions, what);
}
