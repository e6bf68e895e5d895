import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '@dlexp/core';

/**
 * The training step, shared by the train loop (which sets it before each step) and every dropout
 * layer of a model (which reads it). Dropout masks are a function of (run seed, layer, step), so
 * each step draws new masks, a step recomputed (gradients, a resumed run) draws the same ones.
 */
export interface RandomContext {
  step: number;
}

export function createRandomContext(step = 0): RandomContext {
  return { step };
}

type Kwargs = Parameters<tf.layers.Layer['call']>[1];

export interface SeededDropoutArgs {
  rate: number;
  /** Run seed. */
  seed: number;
  /** Where the current step is read from; a fresh context at step 0 when not given. */
  random?: RandomContext;
  name?: string;
  trainable?: boolean;
}

/**
 * Inverted dropout: while training, zeroes each element with probability `rate` and scales the
 * rest by 1 / (1 - rate); otherwise the identity. tfjs' own dropout, given a seed, draws the same
 * mask on every call, hence this layer.
 */
export class SeededDropout extends tf.layers.Layer {
  static readonly className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  random: RandomContext;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name, trainable: args.trainable });
    this.rate = args.rate;
    this.seed = args.seed;
    this.random = args.random ?? createRandomContext();
    this.supportsMasking = true;
  }

  /** The seed of the mask drawn at `step`. */
  maskSeed(step: number): number {
    return deriveSeed(this.seed, 'dropout', this.name, step);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (kwargs['training'] !== true || this.rate === 0) return x.clone();
      const uniform = tf.randomUniform(x.shape, 0, 1, 'float32', this.maskSeed(this.random.step));
      const keep = tf.cast(tf.greaterEqual(uniform, this.rate), x.dtype);
      return tf.div(tf.mul(x, keep), 1 - this.rate);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

/**
 * Points every seeded dropout layer of a model at `random`. The builder does this itself; it is
 * for models loaded from a saved topology, whose dropout layers start with their own context.
 */
export function attachRandomContext(model: tf.LayersModel, random: RandomContext): void {
  for (const layer of model.layers) {
    if (layer instanceof SeededDropout) layer.random = random;
  }
}
