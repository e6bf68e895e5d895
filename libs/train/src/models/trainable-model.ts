import type * as tf from '@tensorflow/tfjs';
import type { Registry } from '@dlexp/core';
import type { ModelRegistries } from '@dlexp/layers';
import type { GraphDef } from '@dlexp/graph';
import type { ArrayColumn } from '@dlexp/data';

/** A batch as the train loop feeds it: feature name → tensor with the batch as first dimension. */
export type Batch = Record<string, tf.Tensor>;

/** A saved model as the files of a folder: file name → content. */
export type ModelFiles = Map<string, Uint8Array>;

/** Sums over a split, so epoch metrics are exact means over examples, not means of batch means. */
export type MetricSums = Record<string, { sum: number; count: number }>;

/**
 * What the train loop needs from a model, whatever it is built from (a graph of raw ops or a graph
 * of layers): its trainable variables, the loss and gradients on a batch, and its metrics.
 */
export interface TrainableModel {
  /** Trainable variables by name; the optimizer updates these. */
  trainableVariables(): Map<string, tf.Variable>;
  /**
   * Loss and gradients on one batch (caller disposes both). With `heads`, only those heads' losses
   * count and only the variables they depend on (their own layers and the layers they share with
   * others) get gradients: the step of alternating multi-task training.
   */
  lossAndGradients(batch: Batch, step: number, heads?: readonly string[]): { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
  /** The heads (outputs with a loss of their own), for multi-task training; undefined for models without. */
  heads?(): string[];
  /**
   * Factors on the optimizer's update of some variables (from learningRateMultipliers), by
   * variable name; a variable not listed learns at the optimizer's own rate.
   */
  updateScales?(): Map<string, number>;
  /** What the model is fed from and what its outputs are trained on, for what a saved model records. */
  signature?(): ModelSignature;
  /**
   * Metric sums on one batch (metric names without the split prefix: `loss`, `accuracy`). Values
   * are read back asynchronously: WebGPU in Node has no synchronous read.
   */
  evaluateBatch(batch: Batch): Promise<MetricSums>;
  /**
   * The config problem behind an error raised while the model ran on real data (shapes, a
   * non-scalar loss), or undefined when the error is not one. The runner runs every new model
   * once on a few examples, so such problems are reported before training.
   */
  explainFailure(error: unknown): ModelConfigError | undefined;
  /** Named scalar values reported as plain metrics (the course's fetched k and b). */
  fetchedValues(): Promise<Record<string, number>>;
  /** The model as a TensorFlow GraphDef (JSON), with name scopes, for graph viewers. */
  graphDef(): GraphDef;
  /** Every tensor of the model's state by name, trainable or not (for checkpoints; not copies). */
  state(): Map<string, tf.Tensor>;
  /** Sets the model's state from `state()`-named tensors. */
  restore(state: Map<string, tf.Tensor>): void;
  /**
   * The trained model as the files of a folder (TF.js Layers format where the model has one:
   * model.json + weights.bin), for a sink to store wherever it keeps runs.
   */
  exportFiles(): Promise<ModelFiles>;
  /** Sets the weights from files written by `exportFiles` (`folder` names them in errors). */
  importFiles(files: ModelFiles, folder: string): void;
  /**
   * The output of the layer named `layer` for a batch, one row per example (flattened), for the
   * projector. Undefined for models without named layers; a ModelConfigError for an unknown name.
   */
  embed?(layer: string, batch: Batch): Promise<{ values: Float32Array; dims: number }>;
  /** Rows of predictions to save with the run, if the model declares any. */
  predictions?(batch: Batch): Promise<{ file: string; columns: Record<string, number[]> } | undefined>;
  dispose(): void;
}

/** The inputs and outputs of a model of layers, by the names its saved files use. */
export interface ModelSignature {
  inputs: { name: string; feature: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  /** `layer`: the output layer's name; `loss`: the registry name of the head's loss. */
  outputs: { name: string; layer: string; target: string; loss: string }[];
}

export interface ModelContext {
  seed: number;
  modelRegistries: ModelRegistries;
  /** Where the model prints what the user should see at the start (its summary table). */
  print: (line: string) => void;
  /** Features the training split provides, with their per-example shapes. */
  features: Record<string, Pick<ArrayColumn, 'dtype'> & { shape: number[] }>;
}

/** A problem in the model config found while building it, at a path relative to `model`. */
export class ModelConfigError extends Error {
  constructor(readonly problems: { path: (string | number)[]; offset?: number; message: string }[]) {
    super(problems.map((p) => `model.${p.path.join('.')}: ${p.message}`).join('\n'));
    this.name = 'ModelConfigError';
  }
}

export type ModelRegistry = Registry<ModelContext, TrainableModel>;
