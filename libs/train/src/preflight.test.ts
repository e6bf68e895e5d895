import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { activateBackend } from '@dlexp/backends';
import { loadData, preflightKernels } from './build';
import { loadExperiment } from './experiment';
import { createRegistries } from './registries';

const cnn = fileURLToPath(new URL('../../../experiments/mnist-cnn.yaml', import.meta.url));

describe('kernel preflight', () => {
  it('names every kernel a training step needs that the backend lacks, before training', async () => {
    const registries = createRegistries();
    const experiment = loadExperiment(cnn, registries, { quick: true, set: ['data.limit={train: 10, test: 10}'] });
    const backend = await activateBackend('wasm', { log: () => undefined });
    const dataset = await loadData(experiment, registries);
    await expect(preflightKernels(experiment, registries, backend, dataset.splits.train!)).resolves.toBeUndefined();
    const removed = tf.getKernel('Conv2DBackpropFilter', 'wasm')!;
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    try {
      const error = await preflightKernels(experiment, registries, backend, dataset.splits.train!).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/backend 'wasm' lacks 1 kernel this model needs for training: Conv2DBackpropFilter/);
    } finally {
      tf.registerKernel(removed);
    }
    expect(tf.getBackend()).toBe('wasm');
  });
});
