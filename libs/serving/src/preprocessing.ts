import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@dlexp/core';
import { parseJsonFile, PREPROCESSING_FILE, writeFileAtomic } from './model-files';

/**
 * How an image becomes the model's input, recorded next to model.json as `preprocessing.json`
 * by the trainer, so that predicting needs no flags for the project's own models:
 *
 *   {
 *     "version": 1,
 *     "input": {"shape": [28, 28, 1], "dtype": "float32"},
 *     "image": {"height": 28, "width": 28, "channels": 1, "channelOrder": "rgb"},
 *     "normalize": {"mode": "unit", "scale": 0.00392156862745098, "mean": [0], "std": [1]},
 *     "labels": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
 *     "output": {"kind": "logits"}
 *   }
 *
 * An image is decoded, converted to `channels` (grayscale as 0.299 R + 0.587 G + 0.114 B),
 * resized to height × width (bilinear), each value mapped to (pixel · scale − mean[c]) / std[c]
 * with pixel in 0..255, and reshaped to `input.shape` (which may be flat, [784]).
 */
export interface PreprocessingSpec {
  version: 1;
  input: {
    /** One example as the model takes it, without the batch axis. */
    shape: number[];
    dtype?: 'float32' | 'int32';
    /** The input layer or tensor name, when the model has several. */
    name?: string;
  };
  image: { height: number; width: number; channels: 1 | 3; channelOrder?: 'rgb' | 'bgr' };
  normalize: {
    /** The dataset's `normalize` option it was derived from (informative). */
    mode?: 'unit' | 'raw' | 'standardize' | 'custom';
    scale: number;
    /** One value for every channel, or one per channel. */
    mean: number[];
    std: number[];
  };
  /** Class names by output index. */
  labels?: string[];
  output?: {
    /** `logits`: softmax is applied when predicting; `probabilities`: used as they are. Detected when absent. */
    kind?: 'logits' | 'probabilities';
    /** The output layer or tensor name, when the model has several. */
    name?: string;
  };
}

/** How a dataset's pixels were normalized: a mode of the image datasets, or the affine map itself. */
export type NormalizeInput =
  | 'unit'
  | 'raw'
  | { mode: 'standardize'; mean: number; std: number }
  | { mode?: 'custom'; scale: number; mean: number | number[]; std: number | number[] };

const asList = (v: number | number[]) => (Array.isArray(v) ? [...v] : [v]);

/** The affine map of a normalize mode: `unit` is pixel / 255, `raw` the pixel, `standardize` (pixel − mean) / std. */
export function normalizeSpec(normalize: NormalizeInput): PreprocessingSpec['normalize'] {
  if (normalize === 'unit') return { mode: 'unit', scale: 1 / 255, mean: [0], std: [1] };
  if (normalize === 'raw') return { mode: 'raw', scale: 1, mean: [0], std: [1] };
  if (normalize.mode === 'standardize') return { mode: 'standardize', scale: 1, mean: [normalize.mean], std: [normalize.std] };
  return { mode: 'custom', scale: normalize.scale, mean: asList(normalize.mean), std: asList(normalize.std) };
}

/**
 * The spec for a model trained on images: from the model's input shape (per example), the
 * dataset's normalization and class names. A flat input ([784]) needs `image` ({28, 28, 1}).
 */
export function createPreprocessingSpec(options: {
  inputShape: number[];
  normalize: NormalizeInput;
  labels?: string[];
  image?: { height: number; width: number; channels: 1 | 3 };
  dtype?: 'float32' | 'int32';
  outputKind?: 'logits' | 'probabilities';
  inputName?: string;
  outputName?: string;
}): PreprocessingSpec {
  const shape = options.inputShape;
  let image = options.image;
  if (image === undefined) {
    if (shape.length === 3 && (shape[2] === 1 || shape[2] === 3)) image = { height: shape[0]!, width: shape[1]!, channels: shape[2] };
    else if (shape.length === 2) image = { height: shape[0]!, width: shape[1]!, channels: 1 };
    else throw new ConfigError(`an input of shape [${shape.join(', ')}] needs the image's height, width and channels`);
  }
  const spec: PreprocessingSpec = {
    version: 1,
    input: { shape: [...shape], dtype: options.dtype ?? 'float32' },
    image: { ...image, channelOrder: 'rgb' },
    normalize: normalizeSpec(options.normalize),
  };
  if (options.inputName !== undefined) spec.input.name = options.inputName;
  if (options.labels !== undefined) spec.labels = [...options.labels];
  if (options.outputKind !== undefined || options.outputName !== undefined) {
    spec.output = {};
    if (options.outputKind !== undefined) spec.output.kind = options.outputKind;
    if (options.outputName !== undefined) spec.output.name = options.outputName;
  }
  checkPreprocessing(spec, '<preprocessing>');
  return spec;
}

const isPositiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isFiniteNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/** Checks a parsed spec; every problem is reported at once, each with its path in the file. */
export function checkPreprocessing(value: unknown, file: string): PreprocessingSpec {
  const problems: string[] = [];
  const at = (path: string, message: string) => problems.push(`${file}: ${path}: ${message}`);
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${file}: not a JSON object`);
  const known = new Set(['version', 'input', 'image', 'normalize', 'labels', 'output']);
  for (const key of Object.keys(v)) if (!known.has(key)) at(key, 'unknown key');
  if (v['version'] !== 1) at('version', 'must be 1');
  const input = v['input'] as Record<string, unknown> | undefined;
  if (typeof input !== 'object' || input === null) at('input', 'missing (needs {shape})');
  else {
    const shape = input['shape'];
    if (!Array.isArray(shape) || shape.length === 0 || !shape.every(isPositiveInt)) at('input.shape', 'must be a list of positive integers, without the batch axis');
    if (input['dtype'] !== undefined && input['dtype'] !== 'float32' && input['dtype'] !== 'int32') at('input.dtype', "must be 'float32' or 'int32'");
    if (input['name'] !== undefined && typeof input['name'] !== 'string') at('input.name', 'must be a string');
  }
  const image = v['image'] as Record<string, unknown> | undefined;
  if (typeof image !== 'object' || image === null) at('image', 'missing (needs {height, width, channels})');
  else {
    if (!isPositiveInt(image['height'])) at('image.height', 'must be a positive integer');
    if (!isPositiveInt(image['width'])) at('image.width', 'must be a positive integer');
    if (image['channels'] !== 1 && image['channels'] !== 3) at('image.channels', 'must be 1 or 3');
    if (image['channelOrder'] !== undefined && image['channelOrder'] !== 'rgb' && image['channelOrder'] !== 'bgr') at('image.channelOrder', "must be 'rgb' or 'bgr'");
  }
  const norm = v['normalize'] as Record<string, unknown> | undefined;
  if (typeof norm !== 'object' || norm === null) at('normalize', 'missing (needs {scale, mean, std})');
  else {
    if (!isFiniteNumber(norm['scale'])) at('normalize.scale', 'must be a number');
    for (const key of ['mean', 'std'] as const) {
      const list = norm[key];
      if (!Array.isArray(list) || list.length === 0 || !list.every(isFiniteNumber)) at(`normalize.${key}`, 'must be a list of numbers (one, or one per channel)');
      else if (key === 'std' && list.some((s: number) => s === 0)) at('normalize.std', 'must not be 0');
      else if (image !== undefined && list.length !== 1 && list.length !== image['channels']) at(`normalize.${key}`, `needs 1 or ${String(image['channels'])} values`);
    }
  }
  if (v['labels'] !== undefined && !(Array.isArray(v['labels']) && v['labels'].every((l) => typeof l === 'string'))) at('labels', 'must be a list of strings');
  const output = v['output'] as Record<string, unknown> | undefined;
  if (output !== undefined) {
    if (typeof output !== 'object' || output === null) at('output', 'must be an object');
    else if (output['kind'] !== undefined && output['kind'] !== 'logits' && output['kind'] !== 'probabilities') at('output.kind', "must be 'logits' or 'probabilities'");
  }
  if (problems.length === 0 && input !== undefined && image !== undefined) {
    const shape = input['shape'] as number[];
    const pixels = (image['height'] as number) * (image['width'] as number) * (image['channels'] as number);
    if (shape.reduce((a, b) => a * b, 1) !== pixels) at('input.shape', `[${shape.join(', ')}] does not hold a ${String(image['height'])}×${String(image['width'])}×${String(image['channels'])} image`);
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return value as PreprocessingSpec;
}

/** The spec recorded in `dir`, or undefined when there is none. */
export function readPreprocessing(dir: string): PreprocessingSpec | undefined {
  const file = join(dir, PREPROCESSING_FILE);
  if (!existsSync(file)) return undefined;
  return checkPreprocessing(parseJsonFile(file), file);
}

/** Writes `spec` as `dir/preprocessing.json` and returns the file's path. */
export function writePreprocessing(dir: string, spec: PreprocessingSpec): string {
  const file = join(dir, PREPROCESSING_FILE);
  checkPreprocessing(spec, file);
  writeFileAtomic(file, `${JSON.stringify(spec, null, 2)}\n`);
  return file;
}
