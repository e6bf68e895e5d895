import { Registry } from '@dlexp/core';

/** The splits a dataset may provide; metric keys are prefixed with these names. */
export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

export type FeatureDtype = 'float32' | 'int32';

/** The values of one feature for one example (row-major, `shape` of its {@link FeatureInfo}). */
export type FeatureValues = Float32Array | Int32Array;

/** One column of examples: `shape[0]` is the number of examples. */
export interface ArrayColumn {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: FeatureDtype;
}

/** A split held in memory: named columns sharing their first dimension. */
export interface InMemorySplit {
  kind: 'memory';
  size: number;
  columns: Record<string, ArrayColumn>;
}

/** The shape and dtype of one feature of one example (no example dimension). */
export interface FeatureInfo {
  shape: number[];
  dtype: FeatureDtype;
}

/**
 * Where a streamed example lives: the index of its file in the split's file list and the byte
 * offset of its record. Plain JSON, so it can be saved in an iterator state.
 */
export interface StreamPosition {
  file: number;
  offset: number;
}

export interface StreamedExample {
  position: StreamPosition;
  /** The position just after this example: reading from it continues with the next one. */
  next: StreamPosition;
  values: Record<string, FeatureValues>;
}

/**
 * A split read from files as it is consumed, so it may be larger than memory. Reading is
 * sequential; `readAt` fetches single examples again, which is how a shuffle buffer saved in an
 * iterator state is rebuilt on resume.
 */
export interface StreamingSplit {
  kind: 'stream';
  /** The number of examples when known without reading every file, otherwise undefined. */
  size: number | undefined;
  features: Record<string, FeatureInfo>;
  /** Examples in file order from `from` (default: the first record of the first file). */
  read(from?: StreamPosition): AsyncIterable<StreamedExample>;
  readAt(position: StreamPosition): Promise<Record<string, FeatureValues>>;
}

export type DataSplit = InMemorySplit | StreamingSplit;

export interface LoadedDataset {
  /** One line describing what was loaded (shown at the start of a run). */
  description: string;
  splits: Partial<Record<SplitName, DataSplit>>;
  /**
   * Names of the integer ids of categorical features, by feature: class names of `y`, the
   * alphabet of captcha positions, the categories of a CSV column. Index i names id i.
   */
  vocabularies?: Record<string, string[]>;
  /**
   * How image features were made from pixels, by feature (`x`): what a saved model needs to
   * prepare a new image file exactly as the dataset prepared its training images.
   */
  images?: Record<string, ImageEncoding>;
}

/**
 * An image feature's values from its pixels: decoded, converted to `channels` (gray as
 * 0.299 R + 0.587 G + 0.114 B), sized `height` × `width`, then (pixel · scale − mean[c]) / std[c]
 * with pixel in 0..255 (one mean and std for every channel, or one per channel).
 */
export interface ImageEncoding {
  image: { height: number; width: number; channels: 1 | 3 };
  /** The dataset option it follows: `unit` is pixel / 255, `raw` the pixel, `standardize` (pixel − mean) / std. */
  mode: 'unit' | 'raw' | 'standardize' | 'custom';
  scale: number;
  mean: number[];
  std: number[];
}

export interface DatasetContext {
  /** The run seed; generators and splits derive their streams from it. */
  seed: number;
  /** Resolves a path written in the experiment (relative to the experiment file). */
  resolvePath(path: string): string;
}

export type DatasetRegistry = Registry<DatasetContext, Promise<LoadedDataset>>;

export function createColumn(data: Float32Array | Int32Array, shape: number[]): ArrayColumn {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (expected !== data.length) {
    throw new Error(`column of shape [${shape.join(', ')}] needs ${expected} values, got ${data.length}`);
  }
  return { data, shape, dtype: data instanceof Int32Array ? 'int32' : 'float32' };
}

export function inMemorySplit(columns: Record<string, ArrayColumn>): InMemorySplit {
  const sizes = new Set(Object.values(columns).map((c) => c.shape[0]));
  if (sizes.size !== 1) throw new Error(`columns disagree on the number of examples: ${[...sizes].join(', ')}`);
  return { kind: 'memory', size: [...sizes][0] ?? 0, columns };
}

/** The first `limit` examples of a split (for quick runs and subsets). */
export function limitSplit(split: InMemorySplit, limit: number | undefined): InMemorySplit {
  if (limit === undefined || limit >= split.size) return split;
  const columns: Record<string, ArrayColumn> = {};
  for (const [name, column] of Object.entries(split.columns)) {
    const perExample = column.data.length / split.size;
    columns[name] = { ...column, data: column.data.slice(0, limit * perExample), shape: [limit, ...column.shape.slice(1)] };
  }
  return { kind: 'memory', size: limit, columns };
}

/** The per-example shape and dtype of every feature of a split, whatever its kind. */
export function splitFeatures(split: DataSplit): Record<string, FeatureInfo> {
  if (split.kind === 'stream') return split.features;
  const out: Record<string, FeatureInfo> = {};
  for (const [name, column] of Object.entries(split.columns)) out[name] = { shape: column.shape.slice(1), dtype: column.dtype };
  return out;
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The split as an in-memory one; for code that needs random access (evaluation on a whole split). */
export function asInMemory(split: DataSplit): InMemorySplit {
  if (split.kind !== 'memory') throw new Error('this split is streamed from files; load it with stream: false to hold it in memory');
  return split;
}
