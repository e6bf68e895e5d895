import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { activateBackend, assertKernelsAvailable, collectStepKernels, findMissingKernels } from './index';

/** The course CNN: conv 5x5x32 same + relu + max pool 2, conv 5x5x64 same + relu + max pool 2, dense 1024 relu, dropout, dense 10. */
function courseCnn(): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 1024, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.3, seed: 1 }));
  model.add(tf.layers.dense({ units: 10 }));
  return model;
}

/** The course LSTM: 128 units over 28 steps of 28 features, then dense 10. */
function courseLstm(): tf.Sequential {
  const model = tf.sequential();
  // Glorot instead of the default orthogonal recurrent initializer: its QR in JS is slow, and the step's kernels are the same.
  model.add(tf.layers.lstm({ units: 128, inputShape: [28, 28], recurrentInitializer: 'glorotUniform' }));
  model.add(tf.layers.dense({ units: 10 }));
  return model;
}

/**
 * One Adam step of softmax cross-entropy on a batch of two, on a model built beforehand (so its
 * initializers are not part of the step) with a throwaway optimizer.
 */
function trainingStep(model: tf.Sequential, inputShape: number[]): () => void {
  return () => {
    const optimizer = tf.train.adam(1e-3);
    tf.tidy(() => {
      const x = tf.randomNormal([2, ...inputShape], 0, 1, 'float32', 1);
      const y = tf.oneHot(tf.tensor1d([3, 7], 'int32'), 10);
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
    });
    optimizer.dispose();
  };
}

let tensorsBefore = 0;
const stepKernels: Record<string, string[]> = {};

beforeAll(async () => {
  await activateBackend('wasm', { log: () => undefined });
  // Built on wasm, as the runner would; collectStepKernels moves the weights to cpu for the step.
  const models = { cnn: courseCnn(), lstm: courseLstm() };
  stepKernels['cnn'] = await collectStepKernels(trainingStep(models.cnn, [28, 28, 1]));
  stepKernels['lstm'] = await collectStepKernels(trainingStep(models.lstm, [28, 28]));
  models.cnn.dispose();
  models.lstm.dispose();
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});

afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('kernel preflight', () => {
  it('collects the kernels of a training step, backward and optimizer included, and restores the backend', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(stepKernels['cnn']).toEqual(expect.arrayContaining(['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'BatchMatMul', 'Sqrt']));
    expect(stepKernels['lstm']).toEqual(expect.arrayContaining(['Tanh', 'SplitV', 'BatchMatMul']));
    // Only real kernels: custom-gradient wrappers the profiler also lists are left out.
    for (const name of [...stepKernels['cnn']!, ...stepKernels['lstm']!]) expect(tf.getKernel(name, 'cpu')).toBeDefined();
  });

  it.each(['cnn', 'lstm'])('wasm (with its training kernels) has every kernel the course %s needs to train', (model) => {
    expect(findMissingKernels(stepKernels[model]!, 'wasm')).toEqual([]);
  });

  it('without the added kernels, wasm could not train the CNN', () => {
    const added = tf.getKernel('Conv2DBackpropFilter', 'wasm')!;
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    try {
      expect(findMissingKernels(stepKernels['cnn']!, 'wasm')).toEqual(['Conv2DBackpropFilter']);
      expect(() => assertKernelsAvailable(stepKernels['cnn']!, 'wasm')).toThrow(ConfigError);
      expect(() => assertKernelsAvailable(stepKernels['cnn']!, 'wasm')).toThrow(/lacks 1 kernel this model needs for training: Conv2DBackpropFilter/);
    } finally {
      tf.registerKernel(added);
    }
    expect(() => assertKernelsAvailable(stepKernels['cnn']!, 'wasm')).not.toThrow();
  });

  it('lists every missing kernel in one message', () => {
    expect(() => assertKernelsAvailable(['Conv2D', 'NoSuchKernel', 'AlsoMissing'], 'wasm')).toThrow(
      "backend 'wasm' lacks 2 kernels this model needs for training: AlsoMissing, NoSuchKernel.",
    );
  });
});
