import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@dlexp/core';
import type { LoadedExperiment, TensorBoardConfig } from '@dlexp/config';
import { createBatchIterator, type DataSplit, type LoadedDataset } from '@dlexp/data';
import { disposeBatch } from './loop/evaluation';
import { ModelConfigError, type Batch, type TrainableModel } from './models/trainable-model';
import type { Embedding } from './sinks/sink';

/**
 * The embedding `tensorboard.projector` asks for: the named layer's output on the first
 * `samples` examples of a split, with each example's label (by class name where the dataset has
 * them) and, for image inputs, the images for the projector's sprite.
 */
export async function computeEmbedding(experiment: LoadedExperiment, model: TrainableModel, dataset: LoadedDataset): Promise<Embedding | undefined> {
  const tensorboard = experiment.resolved.tensorboard as TensorBoardConfig | false;
  const projector = tensorboard === false ? undefined : tensorboard.projector;
  if (projector === undefined) return undefined;
  const at = ['tensorboard', 'projector'];
  if (model.embed === undefined) throw new ConfigError([experiment.source.diagnostic(at, 'the projector needs a model of named layers (sequential or graph)')]);
  const splitName = projector.split ?? 'test';
  const split = (dataset.splits as Partial<Record<string, DataSplit>>)[splitName];
  if (split === undefined) throw new ConfigError([experiment.source.diagnostic([...at, 'split'], `the dataset has no '${splitName}' split`)]);
  const examples = createBatchIterator(split, { batchSize: projector.samples ?? 2000, seed: 0, shuffle: false, epochs: 1 });
  const batch = (await examples.next()).value as Batch;
  await examples.return();
  try {
    let embedded: { values: Float32Array; dims: number };
    try {
      embedded = await model.embed(projector.layer, batch);
    } catch (error) {
      if (error instanceof ModelConfigError) throw new ConfigError([experiment.source.diagnostic([...at, 'layer'], error.problems[0]!.message)]);
      throw error;
    }
    const rows = embedded.values.length / Math.max(1, embedded.dims);
    const embedding: Embedding = { layer: projector.layer, split: splitName, ...embedded, rows, labels: await labelsOf(batch['y'], dataset.vocabularies?.['y']) };
    const x = batch['x'];
    if (x !== undefined && x.shape.length === 4 && (x.shape[3] === 1 || x.shape[3] === 3)) {
      embedding.images = { height: x.shape[1]!, width: x.shape[2]!, channels: x.shape[3] as 1 | 3, pixels: (await x.data()) as Float32Array };
    }
    return embedding;
  } finally {
    disposeBatch(batch);
  }
}

/** Class ids (or one-hot rows) as names; other targets as their values. */
async function labelsOf(y: tf.Tensor | undefined, names: string[] | undefined): Promise<string[]> {
  if (y === undefined) return [];
  const ids = y.shape.length === 2 && y.shape[1]! > 1 ? tf.tidy(() => tf.argMax(y, 1)) : y;
  const values = Array.from(await ids.data());
  if (ids !== y) ids.dispose();
  return values.map((v) => names?.[v] ?? String(v));
}
