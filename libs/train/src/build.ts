import * as tf from '@tensorflow/tfjs';
import { ConfigError, DataError, didYouMean } from '@dlexp/core';
import { assertKernelsAvailable, collectStepKernels, type ActiveBackend } from '@dlexp/backends';
import type { LoadedExperiment } from '@dlexp/config';
import { splitFeatures, type DataSplit, type LoadedDataset } from '@dlexp/data';
import { withFirstExamples } from './loop/evaluation';
import type { Splits } from './loop/train-loop';
import { ModelConfigError, type Batch, type TrainableModel } from './models/trainable-model';
import { buildOptimizer } from './optimizer';
import type { Registries } from './registries';

/** Loads the dataset, turning problems with data files into config errors at `data`. */
export async function loadData(experiment: LoadedExperiment, registries: Registries): Promise<LoadedDataset> {
  const { data, seed } = experiment.resolved;
  try {
    return await registries.datasets.get(data.type).create(data, { seed, resolvePath: experiment.resolvePath });
  } catch (error) {
    if (error instanceof DataError || error instanceof ConfigError) {
      throw new ConfigError([experiment.source.diagnostic(['data'], error.message)]);
    }
    throw error;
  }
}

/**
 * Builds the model and runs it once on two real examples, so what the config gets wrong there
 * (shapes, a loss that does not fit the labels) is a config error at its YAML position.
 */
export async function buildModel(experiment: LoadedExperiment, registries: Registries, train: DataSplit, print: (line: string) => void): Promise<TrainableModel> {
  const { model, seed } = experiment.resolved;
  const features = splitFeatures(train);
  let built: TrainableModel | undefined;
  try {
    const created = registries.models.get(model.type).create(model, { seed, modelRegistries: registries.modelRegistries, features, print });
    built = created;
    await withFirstExamples(train, 2, (batch) => dryRun(created, batch));
    return built;
  } catch (error) {
    built?.dispose();
    if (error instanceof ModelConfigError) {
      throw new ConfigError(error.problems.map((p) => experiment.source.diagnostic(['model', ...p.path], p.message, p.offset === undefined ? {} : { offset: p.offset })));
    }
    throw error;
  }
}

/** Loss, gradients, metrics, fetches and predictions once, each turned into a config problem if it fails. */
async function dryRun(model: TrainableModel, batch: Batch): Promise<void> {
  try {
    const { loss, grads } = model.lossAndGradients(batch, 0);
    tf.dispose([loss, ...grads.values()]);
    await model.evaluateBatch(batch);
    await model.fetchedValues();
    await model.predictions?.(batch);
  } catch (error) {
    throw model.explainFailure(error) ?? error;
  }
}

/**
 * Early stopping and keepBest watch a metric of the epoch-end rows: train.loss or a metric of a
 * held-out split. A name that will never appear is a config error now, not a failure after an epoch.
 */
export async function checkWatchedMetrics(experiment: LoadedExperiment, model: TrainableModel, splits: Splits): Promise<void> {
  const { earlyStopping, keepBest } = experiment.resolved.train;
  const watched: [string[], string][] = [];
  if (earlyStopping !== undefined) watched.push([['train', 'earlyStopping', 'metric'], earlyStopping.metric]);
  if (keepBest !== undefined) watched.push([['train', 'keepBest', 'metric'], keepBest.metric]);
  if (watched.length === 0) return;
  const available = ['train.loss'];
  for (const name of ['validation', 'test'] as const) {
    const split = splits[name];
    if (split === undefined) continue;
    const metrics = await withFirstExamples(split, 2, (batch) => model.evaluateBatch(batch));
    for (const metric of Object.keys(metrics)) available.push(`${name}.${metric}`);
  }
  const problems = watched
    .filter(([, metric]) => !available.includes(metric))
    .map(([path, metric]) => experiment.source.diagnostic(path, `'${metric}' is not measured at epoch ends${didYouMean(metric, available)} (measured: ${available.join(', ')})`));
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Checks, before training, that the backend has every kernel one training step of this model
 * needs: a throwaway copy of the model takes one step on one example on the cpu backend (which
 * has them all) under the profiler, and any kernel the chosen backend lacks is named at once,
 * instead of a crash in the middle of an epoch.
 */
export async function preflightKernels(experiment: LoadedExperiment, registries: Registries, backend: ActiveBackend, train: DataSplit): Promise<void> {
  if (backend.tfBackend === 'cpu') return;
  const kernels = await collectStepKernels(async () => {
    // Building runs the model once (forward, backward, metrics); the step adds the optimizer.
    const model = await buildModel(experiment, registries, train, () => undefined);
    const optimizer = buildOptimizer(experiment.resolved.train, registries);
    try {
      await withFirstExamples(train, 1, async (batch) => {
        const { loss, grads } = model.lossAndGradients(batch, 0);
        optimizer.apply(grads, model.trainableVariables(), 0);
        tf.dispose([loss, ...grads.values()]);
      });
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  });
  assertKernelsAvailable(kernels, backend.name);
}
