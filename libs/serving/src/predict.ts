import * as tf from '@tensorflow/tfjs';
import { ConfigError, DataError } from '@dlexp/core';
import { batchTensor, imageTensor, resolveImagePreprocessing, type ImageOptions, type ImagePreprocessing } from './images';
import { loadInferenceModel, type InferenceModel, type LoadModelOptions } from './load-model';
import { collectImageFiles, parseJsonFile, readBytes } from './model-files';

export interface Prediction {
  label: string;
  probability: number;
}

export interface ImagePrediction {
  file: string;
  /** Highest probability first. */
  predictions: Prediction[];
}

export interface PredictOptions extends ImageOptions, LoadModelOptions {
  /** Class names by output index, or a labels file (one name per line, or a JSON list). */
  labels?: string[] | string;
  /** How many classes to report per image (default 5). */
  top?: number;
  /** Images per model call when the model does not fix it (default 16). */
  batchSize?: number;
  /** What the output holds; default: what preprocessing.json says, else detected from the values. */
  outputKind?: 'logits' | 'probabilities';
}

/**
 * Class names from a labels file: a JSON list of strings (or an object from index to name), or
 * text with one name per line (line n names class n; trailing empty lines are ignored).
 */
export function readLabelsFile(file: string): string[] {
  const bytes = readBytes(file);
  if (file.endsWith('.json')) {
    const json = parseJsonFile(file, bytes);
    if (Array.isArray(json) && json.every((l) => typeof l === 'string')) return json as string[];
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
      const labels: string[] = [];
      for (const [key, value] of Object.entries(json)) {
        if (!/^\d+$/.test(key) || typeof value !== 'string') throw new DataError(`${file}: "${key}": expected class indices mapped to names`);
        labels[Number(key)] = value;
      }
      return Array.from(labels, (l, i) => l ?? String(i));
    }
    throw new DataError(`${file}: expected a list of class names`);
  }
  const lines = Buffer.from(bytes).toString('utf8').split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError(`${file}: the labels file is empty`);
  return lines.map((l) => l.trim());
}

/**
 * Whether outputs are already probabilities: every value in [0, 1] and, with several classes,
 * every row summing to 1. Logits (from a model trained with softmax cross-entropy) are not.
 */
export function looksLikeProbabilities(values: Float32Array, classes: number): boolean {
  if (values.some((v) => !(v >= 0 && v <= 1))) return false;
  if (classes === 1) return true;
  for (let row = 0; row * classes < values.length; row++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += values[row * classes + c]!;
    if (Math.abs(sum - 1) > 1e-3) return false;
  }
  return true;
}

/** Probabilities per row from raw outputs: softmax (or the sigmoid for one output) where they are logits. */
export function toProbabilities(values: Float32Array, classes: number, kind: 'logits' | 'probabilities'): Float32Array {
  if (kind === 'probabilities') return values;
  const out = new Float32Array(values.length);
  for (let row = 0; row * classes < values.length; row++) {
    const at = row * classes;
    if (classes === 1) {
      out[at] = 1 / (1 + Math.exp(-values[at]!));
      continue;
    }
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, values[at + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[at + c] = Math.exp(values[at + c]! - max);
    for (let c = 0; c < classes; c++) out[at + c]! /= sum;
  }
  return out;
}

function topPredictions(probabilities: Float32Array, at: number, classes: number, labels: readonly string[], top: number): Prediction[] {
  const labelOf = (i: number) => labels[i] ?? String(i);
  let all: Prediction[];
  if (classes === 1) {
    // One sigmoid output: the probability of class 1.
    const p = probabilities[at]!;
    all = [
      { label: labelOf(1), probability: p },
      { label: labelOf(0), probability: 1 - p },
    ];
  } else {
    all = Array.from({ length: classes }, (_, c) => ({ label: labelOf(c), probability: probabilities[at + c]! }));
  }
  return all.sort((a, b) => b.probability - a.probability).slice(0, top);
}

/** How images are prepared for `model` under `options` (what `predict` does), e.g. to show it to the user. */
export function imagePreprocessingFor(model: InferenceModel, options: PredictOptions = {}): ImagePreprocessing {
  return resolveImagePreprocessing(model.input.shape, model.input.dtype, model.preprocessing, options, `${model.file}: input '${model.input.name}'`, options.batchSize ?? 16);
}

/**
 * Classifies images: each file (folders are searched for PNG and JPEG files) is decoded and
 * prepared as the model's input needs, and its `top` classes are returned with probabilities,
 * highest first. `model` is a loaded model (left loaded) or a path (loaded and disposed here).
 */
export async function predict(model: InferenceModel | string, images: readonly string[], options: PredictOptions = {}): Promise<ImagePrediction[]> {
  if (typeof model === 'string') {
    const loaded = await loadInferenceModel(model, options);
    try {
      return await predict(loaded, images, options);
    } finally {
      loaded.dispose();
    }
  }
  const top = options.top ?? 5;
  if (!Number.isInteger(top) || top < 1) throw new ConfigError(`top: must be a positive integer, got ${top}`);
  const pre = imagePreprocessingFor(model, options);
  const files = collectImageFiles(images);
  const labels = typeof options.labels === 'string' ? readLabelsFile(options.labels) : (options.labels ?? model.preprocessing?.labels ?? []);
  const rows: { file: string; values: Float32Array; classes: number }[] = [];
  for (let start = 0; start < files.length; start += pre.batchSize) {
    const chunk = files.slice(start, start + pre.batchSize);
    const tensors: tf.Tensor3D[] = [];
    let output: tf.Tensor | undefined;
    let batch: tf.Tensor | undefined;
    try {
      for (const file of chunk) tensors.push(await imageTensor(readBytes(file), file, pre));
      batch = batchTensor(tensors, pre);
      try {
        output = await model.run(batch);
      } catch (error) {
        throw new ConfigError(`${model.file}: running the model on [${batch.shape.join(', ')}] input from ${chunk[0]}: ${(error as Error).message}`);
      }
      const values = (await output.data()) as Float32Array;
      const perRow = values.length / (output.shape[0] ?? 1);
      if (output.shape.length === 0 || !Number.isInteger(perRow) || output.shape[0] !== batch.shape[0]) {
        throw new ConfigError(`${model.file}: output '${model.output.name}' has shape [${output.shape.join(', ')}]; a classifier's output has one row per image`);
      }
      chunk.forEach((file, i) => rows.push({ file, values: Float32Array.from(values.subarray(i * perRow, (i + 1) * perRow)), classes: perRow }));
    } finally {
      tf.dispose([...tensors, ...(batch === undefined ? [] : [batch]), ...(output === undefined ? [] : [output])]);
    }
  }
  if (rows.length === 0) return [];
  const classes = rows[0]!.classes;
  const all = new Float32Array(rows.length * classes);
  rows.forEach((r, i) => all.set(r.values, i * classes));
  // Decided over all images at once, so every image is treated alike.
  const kind = options.outputKind ?? model.preprocessing?.output?.kind ?? (looksLikeProbabilities(all, classes) ? 'probabilities' : 'logits');
  const probabilities = toProbabilities(all, classes, kind);
  return rows.map((r, i) => ({ file: r.file, predictions: topPredictions(probabilities, i * classes, classes, labels, top) }));
}
