/** The models the training bench measures, as the course defines them. */
import * as tf from '@tensorflow/tfjs';
import { createActivationRegistry, Lstm } from '@dlexp/layers';
import { createOptimizer, createOptimizerRegistry, createScheduleRegistry } from '@dlexp/optim';

export interface BenchModel {
  name: string;
  description: string;
  /** One example's shape (the batch is added in front). */
  inputShape: number[];
  build(): tf.LayersModel;
}

function cnn(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 1024, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.3, seed: 3 }));
  model.add(tf.layers.dense({ units: 10 }));
  return model;
}

function mlp(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [784], units: 500, activation: 'tanh' }));
  model.add(tf.layers.dense({ units: 300, activation: 'tanh' }));
  model.add(tf.layers.dense({ units: 10 }));
  return model;
}

function lstm(): tf.LayersModel {
  const model = tf.sequential();
  const activations = createActivationRegistry();
  const activation = (name: string) => ({ name, fn: activations.get(name).create({}, {}) });
  // This project's LSTM layer (what `type: lstm` builds): one kernel per sequence where the
  // backend has it. Sigmoid gates as in PyTorch and in the layer's config defaults. Glorot
  // instead of the orthogonal recurrent initializer: the QR it runs is slow in JS and is not
  // part of the training step being measured.
  model.add(tf.layers.inputLayer({ inputShape: [28, 28] }));
  model.add(
    new Lstm({
      tfjs: { name: 'lstm', units: 128, recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform' },
      activation: activation('tanh'),
      recurrentActivation: activation('sigmoid'),
    }),
  );
  model.add(tf.layers.dense({ units: 10 }));
  return model;
}

export const MODELS: Record<string, BenchModel> = {
  cnn: {
    name: 'cnn',
    description: 'conv 5x5x32 same + relu + maxpool 2, conv 5x5x64 same + relu + maxpool 2, dense 1024 relu, dropout 0.3, dense 10',
    inputShape: [28, 28, 1],
    build: cnn,
  },
  mlp: { name: 'mlp', description: '784-500-300-10 tanh', inputShape: [784], build: mlp },
  lstm: { name: 'lstm', description: 'LSTM 128 (sigmoid gates) over 28 steps x 28 features, dense 10', inputShape: [28, 28], build: lstm },
};

/** The same models as experiment configs (the `model:` block of a YAML file), for the runner driver. */
export const RUNNER_MODELS: Record<string, Record<string, unknown>> = {
  cnn: {
    type: 'sequential',
    input: { shape: [28, 28, 1] },
    layers: [
      { type: 'conv2d', filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' },
      { type: 'maxPool', poolSize: 2 },
      { type: 'conv2d', filters: 64, kernelSize: 5, padding: 'same', activation: 'relu' },
      { type: 'maxPool', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 1024, activation: 'relu' },
      { type: 'dropout', rate: 0.3 },
      { type: 'dense', units: 10 },
    ],
    loss: { type: 'softmaxCrossEntropy' },
  },
  mlp: {
    type: 'sequential',
    input: { shape: [784] },
    layers: [
      { type: 'dense', units: 500, activation: 'tanh' },
      { type: 'dense', units: 300, activation: 'tanh' },
      { type: 'dense', units: 10 },
    ],
    loss: { type: 'softmaxCrossEntropy' },
  },
  lstm: {
    type: 'sequential',
    input: { shape: [28, 28] },
    layers: [{ type: 'lstm', units: 128 }, { type: 'dense', units: 10 }],
    loss: { type: 'softmaxCrossEntropy' },
  },
};

/**
 * The runner's training step for a model: softmax cross-entropy, tf.variableGrads, this
 * project's Adam at 1e-3 (libs/optim, what every experiment's `adam` builds; on native its
 * moments and update are one kernel per weight tensor). `step` returns the loss, left for the
 * caller to read and dispose.
 */
export function runnerStep(net: tf.LayersModel): { step: (x: tf.Tensor, y: tf.Tensor) => tf.Scalar; dispose: () => void } {
  const optimizer = createOptimizer(createOptimizerRegistry(), { type: 'adam', learningRate: 1e-3 }, { schedules: createScheduleRegistry() });
  const variables = new Map(net.trainableWeights.map((w) => [w.name, w.read() as tf.Variable]));
  let index = 0;
  return {
    step: (x, y) => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, net.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        [...variables.values()],
      );
      optimizer.apply(new Map(Object.entries(grads)), variables, index++);
      tf.dispose(Object.values(grads));
      return value;
    },
    dispose: () => optimizer.dispose(),
  };
}
