import * as tf from '@tensorflow/tfjs';
import { EXTRA_KERNELS } from '@dlexp/core';
import type { Activation } from './activations';

type Kwargs = Parameters<tf.layers.Layer['call']>[1];
type TfjsLstmArgs = Parameters<typeof tf.layers.lstm>[0];

export interface LstmArgs {
  /**
   * The layer as tf.layers.lstm takes it (name, units, activations, initializers, regularizers,
   * returnSequences). The layer saves itself as that tfjs LSTM, same config and same weights, so
   * a saved model loads wherever TF.js does.
   */
  tfjs: TfjsLstmArgs & { name: string; units: number };
  activation: { name: string; fn: Activation };
  recurrentActivation: { name: string; fn: Activation };
}

/**
 * A Keras LSTM (gates input, forget, candidate, output; weights kernel, recurrent_kernel, bias
 * laid out as tfjs lays them out) whose whole sequence is one kernel, forward and backward, on a
 * backend that registers EXTRA_KERNELS.lstm (the native one): tf.layers.lstm runs a dozen kernels
 * per time step each way and computes its weight gradients one step at a time. Elsewhere, and for
 * activations the kernel does not cover, the same math is composed from TF.js operations.
 */
export class Lstm extends tf.layers.Layer {
  /** Saved as tfjs' own LSTM (see LstmArgs.tfjs); this class is never looked up by that name. */
  static readonly className = 'LSTM';
  readonly units: number;
  readonly returnSequences: boolean;
  private readonly activation: LstmArgs['activation'];
  private readonly recurrentActivation: LstmArgs['recurrentActivation'];
  private readonly reference: tf.layers.Layer;
  private readonly weightArgs: TfjsLstmArgs;
  private kernel: tf.LayerVariable | undefined;
  private recurrentKernel: tf.LayerVariable | undefined;
  private bias: tf.LayerVariable | undefined;

  constructor(args: LstmArgs) {
    super({ name: args.tfjs.name, ...(args.tfjs.trainable === undefined ? {} : { trainable: args.tfjs.trainable }) });
    this.units = args.tfjs.units;
    this.returnSequences = args.tfjs.returnSequences === true;
    this.activation = args.activation;
    this.recurrentActivation = args.recurrentActivation;
    this.weightArgs = args.tfjs;
    // Holds the config tfjs writes for this LSTM; it is never built, so it owns no weights.
    this.reference = tf.layers.lstm(args.tfjs);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const features = shape[shape.length - 1];
    if (shape.length !== 3 || features === null || features === undefined) {
      throw new Error(`layer '${this.name}': an LSTM takes [batch, steps, features] inputs with a known number of features, got [${shape.join(', ')}]`);
    }
    // The initializers and regularizers as tfjs resolved them for the reference's cell (names
    // and defaults included), so the weights start exactly as tf.layers.lstm's would.
    const cell = (this.reference as unknown as { cell: Record<string, unknown> }).cell;
    const gates = 4 * this.units;
    const add = (name: string, shape: number[], kind: 'kernel' | 'recurrent' | 'bias') =>
      this.addWeight(name, shape, 'float32', cell[`${kind}Initializer`] as never, cell[`${kind}Regularizer`] as never, true);
    this.kernel = add('kernel', [features, gates], 'kernel');
    this.recurrentKernel = add('recurrent_kernel', [this.units, gates], 'recurrent');
    if (this.weightArgs.useBias !== false) this.bias = add('bias', [gates], 'bias');
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return this.returnSequences ? [shape[0]!, shape[1]!, this.units] : [shape[0]!, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const kernel = this.kernel!.read();
      const recurrentKernel = this.recurrentKernel!.read();
      const bias = this.bias?.read();
      if (this.kernelRuns(x)) return lstmKernel(x, kernel, recurrentKernel, bias, this.returnSequences);
      return lstmComposed(x, kernel, recurrentKernel, bias, this.returnSequences, this.activation.fn, this.recurrentActivation.fn);
    });
  }

  /** Whether this call runs as one kernel: the backend has it and the activations are its own. */
  kernelRuns(x: tf.Tensor): boolean {
    return (
      x.dtype === 'float32' &&
      x.rank === 3 &&
      this.activation.name === 'tanh' &&
      this.recurrentActivation.name === 'sigmoid' &&
      tf.getKernel(EXTRA_KERNELS.lstm, tf.getBackend()) !== undefined &&
      tf.getKernel(EXTRA_KERNELS.lstmGrad, tf.getBackend()) !== undefined
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.reference.getConfig(), ...super.getConfig() };
  }
}

/** The sequence as the backend's LSTM kernels, with their gradient kernel as the gradient. */
function lstmKernel(x: tf.Tensor, kernel: tf.Tensor, recurrentKernel: tf.Tensor, bias: tf.Tensor | undefined, returnSequences: boolean): tf.Tensor {
  const hasBias = bias !== undefined;
  const run = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xs, k, r, b] = args as tf.Tensor[];
    const inputs: tf.NamedTensorMap = { x: xs!, kernel: k!, recurrentKernel: r! };
    if (hasBias) inputs['bias'] = b!;
    const [y, state] = tf.engine().runKernel(EXTRA_KERNELS.lstm, inputs, { returnSequences }) as tf.Tensor[];
    save([xs!, k!, r!, state!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sk, sr, sstate] = saved;
        const grads = tf.engine().runKernel(
          EXTRA_KERNELS.lstmGrad,
          { dy: Array.isArray(dy) ? dy[0]! : dy, x: sx!, kernel: sk!, recurrentKernel: sr!, state: sstate! },
          { returnSequences, hasBias },
        ) as tf.Tensor[];
        return grads;
      },
    };
  });
  return (hasBias ? run(x, kernel, recurrentKernel, bias) : run(x, kernel, recurrentKernel)) as tf.Tensor;
}

/**
 * The same LSTM from TF.js operations: the input projection of every step as one product, then
 * step by step the recurrent product, the gates and the state.
 */
export function lstmComposed(
  x: tf.Tensor,
  kernel: tf.Tensor,
  recurrentKernel: tf.Tensor,
  bias: tf.Tensor | undefined,
  returnSequences: boolean,
  activation: Activation,
  recurrentActivation: Activation,
): tf.Tensor {
  return tf.tidy(() => {
    const [batch, steps, features] = x.shape as [number, number, number];
    const units = recurrentKernel.shape[0]!;
    let projected = tf.matMul(tf.reshape(x, [batch * steps, features]), kernel);
    if (bias !== undefined) projected = tf.add(projected, bias);
    // (One step is not unstacked: TF.js's Unpack gradient fails for a single output.)
    const perStep = steps === 1 ? [projected] : tf.unstack(tf.reshape(projected, [batch, steps, 4 * units]), 1);
    const outputs: tf.Tensor[] = [];
    // The zero state goes through the first step's products too, as in tf.layers.lstm: every
    // weight then gets a gradient (zeros for the recurrent kernel over a single step), as from
    // the kernels.
    let h: tf.Tensor = tf.zeros([batch, units]);
    let c: tf.Tensor = tf.zeros([batch, units]);
    for (const xt of perStep) {
      const z = tf.add(xt, tf.matMul(h, recurrentKernel));
      const [zi, zf, zg, zo] = tf.split(z, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      c = tf.add(tf.mul(recurrentActivation(zf), c), tf.mul(recurrentActivation(zi), activation(zg)));
      h = tf.mul(recurrentActivation(zo), activation(c));
      outputs.push(h);
    }
    return returnSequences ? tf.stack(outputs, 1) : h;
  });
}
