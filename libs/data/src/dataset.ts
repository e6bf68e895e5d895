import { Registry } from '@dlexp/core';

/** The splits a dataset may provide; metric keys are prefixed with these names. */
export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

export type FeatureDtype = 'float32' | 'int32';

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

export type DataSplit = InMemorySplit;

export interface LoadedDataset {
  /** One line describing what was loaded (shown at the start of a run). */
  description: string;
  splits: Partial<Record<SplitName, DataSplit>>;
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
