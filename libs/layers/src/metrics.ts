import * as tf from '@tensorflow/tfjs';
import { param, Registry, type RegistryEntry } from '@dlexp/core';
import { classIds, requireSameShape } from './labels';

/**
 * One batch's contribution to a metric: the sum of the per-example values and how many examples
 * they are. An epoch's value is Σ sum / Σ count, exact however the batches are sized (an average
 * of batch averages is not, when the last batch is smaller).
 */
export interface MetricBatch {
  sum: tf.Scalar;
  count: number;
}

export type Metric = (labels: tf.Tensor, predictions: tf.Tensor) => MetricBatch;

export type MetricContext = Record<string, never>;
export type MetricRegistry = Registry<MetricContext, Metric>;
type MetricEntry<P> = RegistryEntry<P, MetricContext, Metric>;

const leading = (t: tf.Tensor) => t.shape.slice(0, -1).reduce((a, b) => a * b, 1);

/** 1 where the true class is among the k largest predictions (ties count in its favour). */
function inTopK(labels: tf.Tensor, predictions: tf.Tensor, k: number, what: string): tf.Tensor {
  const classes = predictions.shape[predictions.shape.length - 1]!;
  const ids = classIds(labels, predictions, what);
  const truth = tf.sum(tf.mul(predictions, tf.oneHot(ids, classes)), -1, true);
  const above = tf.sum(tf.cast(tf.greater(predictions, truth), 'int32'), -1);
  return tf.cast(tf.less(above, k), 'float32');
}

const accuracy: MetricEntry<{ threshold: number }> = {
  name: 'accuracy',
  description:
    'Fraction of predictions whose largest output is the true class. Labels are one-hot vectors or integer ids; predictions logits or probabilities. For a single output column (binary), a prediction counts as class 1 above `threshold`.',
  params: {
    threshold: param.number({
      description: 'For a single output column only: the decision threshold (0.5 for probabilities, 0 for logits).',
      default: 0.5,
    }),
  },
  create: (p) => (labels, predictions) =>
    tf.tidy(() => {
      const binary = predictions.shape[predictions.shape.length - 1] === 1;
      if (binary) {
        requireSameShape(labels, predictions, 'accuracy');
        const predicted = tf.greater(predictions, p.threshold);
        const truth = tf.greater(labels, 0.5);
        return { sum: tf.sum(tf.cast(tf.equal(predicted, truth), 'float32')) as tf.Scalar, count: labels.size };
      }
      const correct = tf.equal(tf.argMax(predictions, -1), classIds(labels, predictions, 'accuracy'));
      return { sum: tf.sum(tf.cast(correct, 'float32')) as tf.Scalar, count: leading(predictions) };
    }),
};

const topKAccuracy: MetricEntry<{ k: number }> = {
  name: 'topKAccuracy',
  description: 'Fraction of predictions where the true class is among the k largest outputs.',
  params: { k: param.integer({ description: 'How many of the largest outputs count.', default: 5, minimum: 1 }) },
  create: (p) => (labels, predictions) =>
    tf.tidy(() => ({
      sum: tf.sum(inTopK(labels, predictions, p.k, 'topKAccuracy')) as tf.Scalar,
      count: leading(predictions),
    })),
};

/** Per-example mean of an elementwise error, summed over the batch. */
function perExample(what: string, error: (labels: tf.Tensor, predictions: tf.Tensor) => tf.Tensor): Metric {
  return (labels, predictions) => {
    requireSameShape(labels, predictions, what);
    return tf.tidy(() => {
      const batch = predictions.shape[0] ?? 1;
      const perRow = tf.mean(tf.reshape(error(labels, predictions), [batch, -1]), 1);
      return { sum: tf.sum(perRow) as tf.Scalar, count: batch };
    });
  };
}

const meanSquaredError: MetricEntry<Record<string, never>> = {
  name: 'meanSquaredError',
  description: 'Mean of (labels - predictions)².',
  params: {},
  create: () => perExample('meanSquaredError', (l, p) => tf.squaredDifference(l, p)),
};

const meanAbsoluteError: MetricEntry<Record<string, never>> = {
  name: 'meanAbsoluteError',
  description: 'Mean of |labels - predictions|.',
  params: {},
  create: () => perExample('meanAbsoluteError', (l, p) => tf.abs(tf.sub(l, p))),
};

/**
 * The share of examples on which every one of several classifier outputs is right: a whole
 * captcha read correctly when each output is one of its characters. Each pair is one output's
 * labels (ids or one-hot) and predictions (logits or probabilities; argmax decides).
 */
export function allCorrect(pairs: readonly { labels: tf.Tensor; predictions: tf.Tensor }[]): MetricBatch {
  if (pairs.length === 0) throw new Error('allCorrect needs at least one output');
  return tf.tidy(() => {
    let every: tf.Tensor | undefined;
    for (const { labels, predictions } of pairs) {
      const correct = tf.equal(tf.argMax(predictions, -1), classIds(labels, predictions, 'sequence accuracy'));
      every = every === undefined ? correct : tf.logicalAnd(every, correct);
    }
    return { sum: tf.sum(tf.cast(every!, 'float32')) as tf.Scalar, count: leading(pairs[0]!.predictions) };
  });
}

export function createMetricRegistry(): MetricRegistry {
  const registry: MetricRegistry = new Registry('metric', 'metrics');
  for (const e of [accuracy, topKAccuracy, meanSquaredError, meanAbsoluteError]) {
    registry.register(e as MetricEntry<unknown>);
  }
  return registry;
}

/**
 * Sums a metric over an epoch. Batch sums stay on the device until `result()` (or every
 * FLUSH_EVERY batches), then are added in float64, so accumulating does not stall each step.
 */
export class MetricAccumulator {
  private static readonly FLUSH_EVERY = 64;
  private pending: tf.Scalar[] = [];
  private total = 0;
  private examples = 0;

  /** Takes ownership of `batch.sum` (kept across tidy scopes, disposed when read). */
  add(batch: MetricBatch): void {
    this.pending.push(tf.keep(batch.sum));
    this.examples += batch.count;
    if (this.pending.length >= MetricAccumulator.FLUSH_EVERY) this.flush();
  }

  /** Σ sum / Σ count over the batches added since the last reset; NaN before any example. */
  result(): number {
    this.flush();
    return this.examples === 0 ? Number.NaN : this.total / this.examples;
  }

  get count(): number {
    return this.examples;
  }

  reset(): void {
    this.dispose();
    this.total = 0;
    this.examples = 0;
  }

  /** Frees the batch sums not yet read. */
  dispose(): void {
    tf.dispose(this.pending);
    this.pending = [];
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const values = tf.tidy(() => tf.stack(this.pending).dataSync());
    for (const v of values) this.total += v;
    tf.dispose(this.pending);
    this.pending = [];
  }
}
