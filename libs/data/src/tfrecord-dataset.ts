import { ConfigError, DataError, param, type ParamSpec, type RegistryEntry } from '@dlexp/core';
import {
  createColumn,
  elementCount,
  inMemorySplit,
  type ArrayColumn,
  type DataSplit,
  type DatasetContext,
  type FeatureInfo,
  type FeatureValues,
  type InMemorySplit,
  type LoadedDataset,
  type SplitName,
  type StreamPosition,
  type StreamedExample,
  type StreamingSplit,
} from './dataset';
import { decodeExample, encodeExample, type Example, type ExampleFeature, type FeatureKind } from './example';
import { expandGlob } from './files';
import { decodeImage } from './image';
import { limitParam, type SplitLimits } from './split-options';
import { readTFRecordAt, readTFRecords, writeTFRecordFile } from './tfrecord';

type Entry<P> = RegistryEntry<P, DatasetContext, Promise<LoadedDataset>>;

/** How one feature of the dataset is read from the Examples. */
export interface TFRecordFeatureSpec {
  /** The key in the Example; default: the feature's own name. */
  key?: string;
  kind: FeatureKind | 'image';
  /** Shape of one example's value; [] is a scalar. */
  shape: number[];
  length?: 'fixed' | 'variable';
  pad?: number;
  dtype?: 'float32' | 'int32';
  scale?: number;
}

export interface TFRecordParams {
  train?: string[];
  validation?: string[];
  test?: string[];
  features: Record<string, TFRecordFeatureSpec>;
  stream: boolean;
  limit: SplitLimits;
}

const featureSpecSchema = {
  type: 'object',
  properties: {
    key: { type: 'string', description: 'Key of the feature in each tf.train.Example. Default: the name of this feature.' },
    kind: {
      enum: ['bytes', 'float', 'int64', 'image'],
      description:
        'How the value is stored: `float` (FloatList), `int64` (Int64List), `bytes` (BytesList, read as unsigned bytes, ' +
        'e.g. raw pixels), or `image` (one PNG or JPEG in a BytesList, decoded and resized to `shape`).',
    },
    shape: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      description: 'Shape of one example\'s value, e.g. [] for a label, [784] for a flat image, [28, 28, 1] for an image feature (channels 1 or 3).',
    },
    length: {
      enum: ['fixed', 'variable'],
      description:
        '`fixed`: every record must hold exactly as many values as `shape` has elements (else an error naming the record); ' +
        '`variable`: shorter lists are padded with `pad`, longer ones cut. Default fixed.',
    },
    pad: { type: 'number', description: 'Value that fills variable-length lists up to `shape`. Default 0.' },
    dtype: {
      enum: ['float32', 'int32'],
      description: 'Type of the column. Default: int32 for int64 features, float32 otherwise. int64 values must fit in int32.',
    },
    scale: {
      type: 'number',
      description: 'Factor applied to every value of float32 columns. Default: 1/255 for images (values in [0, 1]), 1 otherwise.',
    },
  },
  required: ['kind', 'shape'],
  additionalProperties: false,
};

const filesParam = (split: string): ParamSpec<string[] | undefined> =>
  param.stringList({
    description: `TFRecord files of the ${split} split, in order; each may be a glob (\`*\`, \`?\`, \`[ab]\` within one path segment). Relative to the experiment file.`,
    minItems: 1,
  });

/** Resolves written specs to per-feature decoders with every default filled. */
interface ResolvedFeature {
  name: string;
  key: string;
  kind: FeatureKind | 'image';
  info: FeatureInfo;
  variable: boolean;
  pad: number;
  scale: number;
}

export function resolveFeatureSpecs(specs: Record<string, TFRecordFeatureSpec>): ResolvedFeature[] {
  const out: ResolvedFeature[] = [];
  for (const [name, s] of Object.entries(specs)) {
    const dtype = s.dtype ?? (s.kind === 'int64' ? 'int32' : 'float32');
    if (s.kind === 'image') {
      if (s.shape.length !== 3 || (s.shape[2] !== 1 && s.shape[2] !== 3)) {
        throw new ConfigError(`features.${name}.shape: an image needs [height, width, channels] with 1 or 3 channels, got [${s.shape.join(', ')}]`);
      }
      if (dtype !== 'float32') throw new ConfigError(`features.${name}.dtype: images decode to float32`);
    }
    out.push({
      name,
      key: s.key ?? name,
      kind: s.kind,
      info: { shape: s.shape, dtype },
      variable: (s.length ?? 'fixed') === 'variable',
      pad: s.pad ?? 0,
      scale: s.scale ?? (s.kind === 'image' ? 1 / 255 : 1),
    });
  }
  if (out.length === 0) throw new ConfigError('features: declare at least one feature to read');
  return out;
}

async function decodeFeature(f: ResolvedFeature, feature: ExampleFeature | undefined, where: string): Promise<FeatureValues> {
  if (feature === undefined) throw new DataError(`${where}: the Example has no feature '${f.key}'`);
  const expectedKind = f.kind === 'image' ? 'bytes' : f.kind;
  if (feature.kind !== expectedKind) throw new DataError(`${where}: feature '${f.key}' is a ${feature.kind} list, declared ${f.kind}`);
  if (f.kind === 'image') {
    const images = (feature as { values: Uint8Array[] }).values;
    if (images.length !== 1) throw new DataError(`${where}: image feature '${f.key}' holds ${images.length} byte strings, expected 1`);
    const [h, w, c] = f.info.shape as [number, number, 1 | 3];
    return decodeImage(images[0]!, h, w, c, f.scale, `${where}: feature '${f.key}'`);
  }
  const n = elementCount(f.info.shape);
  let values: ArrayLike<number>;
  if (feature.kind === 'bytes') {
    const parts = feature.values;
    if (parts.length === 1) values = parts[0]!;
    else values = Buffer.concat(parts);
  } else values = feature.values;
  if (!f.variable && values.length !== n) {
    throw new DataError(`${where}: feature '${f.key}' has ${values.length} values, declared shape [${f.info.shape.join(', ')}] needs ${n}`);
  }
  // The decoder gives each packed float list its own fresh array: take it as it is when it fits.
  if (values instanceof Float32Array && values.length === n && f.info.dtype === 'float32' && f.scale === 1) return values;
  const out = f.info.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  const count = Math.min(n, values.length);
  if (f.info.dtype === 'int32') {
    for (let i = 0; i < count; i++) {
      const v = values[i]!;
      if (!Number.isInteger(v) || v > 2147483647 || v < -2147483648) {
        throw new DataError(`${where}: feature '${f.key}' value ${v} does not fit in int32`);
      }
      out[i] = v;
    }
  } else if (f.scale === 1) for (let i = 0; i < count; i++) out[i] = values[i]!;
  else for (let i = 0; i < count; i++) out[i] = values[i]! * f.scale;
  if (count < n) out.fill(f.pad, count);
  return out;
}

export async function decodeExampleFeatures(example: Example, features: ResolvedFeature[], where: string): Promise<Record<string, FeatureValues>> {
  const out: Record<string, FeatureValues> = {};
  for (const f of features) out[f.name] = await decodeFeature(f, example[f.key], where);
  return out;
}

/**
 * A streamed split over TFRecord files of tf.train.Examples: nothing is held beyond the
 * reader's chunk, so the files may be larger than memory.
 */
export function openTFRecordSplit(files: string[], specs: Record<string, TFRecordFeatureSpec>): StreamingSplit {
  const features = resolveFeatureSpecs(specs);
  const infos: Record<string, FeatureInfo> = Object.fromEntries(features.map((f) => [f.name, f.info]));
  return {
    kind: 'stream',
    size: undefined,
    features: infos,
    async *read(from: StreamPosition = { file: 0, offset: 0 }): AsyncGenerator<StreamedExample> {
      for (let i = from.file; i < files.length; i++) {
        const file = files[i]!;
        for await (const record of readTFRecords(file, i === from.file ? from.offset : 0)) {
          const where = `${file}: record at byte offset ${record.offset}`;
          const values = await decodeExampleFeatures(decodeExample(record.data, where), features, where);
          yield { position: { file: i, offset: record.offset }, next: { file: i, offset: record.end }, values };
        }
      }
    },
    async readAt(position: StreamPosition): Promise<Record<string, FeatureValues>> {
      const file = files[position.file];
      if (file === undefined) throw new DataError(`iterator state: file index ${position.file} is outside the ${files.length} files of the split`);
      const where = `${file}: record at byte offset ${position.offset}`;
      return decodeExampleFeatures(decodeExample(await readTFRecordAt(file, position.offset), where), features, where);
    },
  };
}

/** Reads every example of a streamed split (up to `limit`) into columns. */
export async function materializeSplit(split: StreamingSplit, limit?: number): Promise<InMemorySplit> {
  const names = Object.keys(split.features);
  const chunks: Record<string, FeatureValues[]> = Object.fromEntries(names.map((n) => [n, []]));
  let count = 0;
  if (limit !== 0) {
    for await (const example of split.read()) {
      for (const name of names) chunks[name]!.push(example.values[name]!);
      count++;
      if (limit !== undefined && count >= limit) break;
    }
  }
  const columns: Record<string, ArrayColumn> = {};
  for (const name of names) {
    const info = split.features[name]!;
    const width = elementCount(info.shape);
    const data = info.dtype === 'int32' ? new Int32Array(count * width) : new Float32Array(count * width);
    chunks[name]!.forEach((v, i) => data.set(v, i * width));
    columns[name] = createColumn(data, [count, ...info.shape]);
  }
  return inMemorySplit(columns);
}

export const tfrecordDataset: Entry<TFRecordParams> = {
  name: 'tfrecord',
  description:
    'tf.train.Example records from TFRecord files (as written by TensorFlow or `runner data export`), decoded into the ' +
    'declared features. Name the input feature `x` and the target `y`. Every record\'s CRCs are checked.',
  params: {
    train: filesParam('train'),
    validation: filesParam('validation'),
    test: filesParam('test'),
    features: param.custom(
      { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, additionalProperties: featureSpecSchema, minProperties: 1 },
      {
        description:
          'The features to read, by name: `{x: {kind: float, shape: [784]}, y: {key: label, kind: int64, shape: []}}`. ' +
          'Each names its Example key, storage kind and per-example shape.',
        required: true,
      },
    ),
    stream: param.boolean({
      description:
        'true: read the files while training, never holding more than a shuffle buffer, for data larger than memory ' +
        '(shuffling then uses a shuffle buffer instead of a full permutation). false: load every record into memory first.',
      default: false,
    }),
    limit: limitParam,
  },
  async create(p, context) {
    resolveFeatureSpecs(p.features);
    const splits: Partial<Record<SplitName, DataSplit>> = {};
    const parts: string[] = [];
    for (const name of ['train', 'validation', 'test'] as const) {
      const patterns = p[name];
      if (patterns === undefined) continue;
      const files: string[] = [];
      for (const pattern of patterns) files.push(...(await expandGlob(context.resolvePath(pattern))));
      const stream = openTFRecordSplit(files, p.features);
      if (p.stream) {
        if (p.limit[name] !== undefined) throw new ConfigError(`limit.${name}: limits apply to in-memory data; set stream: false or drop the limit`);
        splits[name] = stream;
        parts.push(`${name} streamed from ${files.length} file(s)`);
      } else {
        const split = await materializeSplit(stream, p.limit[name]);
        splits[name] = split;
        parts.push(`${split.size} ${name}`);
      }
    }
    if (Object.keys(splits).length === 0) throw new ConfigError('tfrecord: give the files of at least one of train, validation, test');
    return { description: `tfrecord: ${parts.join(' / ')}; features ${Object.keys(p.features).join(', ')}`, splits };
  },
};

function exampleOf(values: Record<string, FeatureValues>): Example {
  const example: Example = {};
  for (const [name, v] of Object.entries(values)) example[name] = v instanceof Int32Array ? { kind: 'int64', values: v } : { kind: 'float', values: v };
  return example;
}

async function* splitExamples(split: DataSplit): AsyncGenerator<Uint8Array> {
  if (split.kind === 'stream') {
    for await (const e of split.read()) yield encodeExample(exampleOf(e.values));
    return;
  }
  const entries = Object.entries(split.columns).map(([name, c]) => ({ name, c, width: elementCount(c.shape.slice(1)) }));
  for (let i = 0; i < split.size; i++) {
    const values: Record<string, FeatureValues> = {};
    for (const { name, c, width } of entries) values[name] = c.data.subarray(i * width, (i + 1) * width);
    yield encodeExample(exampleOf(values));
  }
}

/**
 * Writes every example of a split to a TFRecord file of tf.train.Examples, one feature per
 * column (float32 → FloatList, int32 → Int64List, flattened). Atomic: the file appears complete
 * or not at all. Returns the number of records.
 */
export function writeSplitToTFRecord(split: DataSplit, file: string): Promise<number> {
  return writeTFRecordFile(file, splitExamples(split));
}

/**
 * A summary of a TFRecord file of Examples: each feature key with its list kind and the shortest
 * and longest list seen (values for float and int64, byte strings for bytes).
 */
export interface TFRecordInspection {
  records: number;
  features: { key: string; kind: FeatureKind; lengths: { min: number; max: number } }[];
}

/** Counts the records of a TFRecord file and summarizes its Example features (checking every CRC). */
export async function inspectTFRecord(file: string): Promise<TFRecordInspection> {
  const seen = new Map<string, { kind: FeatureKind; min: number; max: number; first: number }>();
  let records = 0;
  for await (const record of readTFRecords(file)) {
    const where = `${file}: record at byte offset ${record.offset}`;
    const example = decodeExample(record.data, where);
    for (const [key, f] of Object.entries(example)) {
      const n = f.values.length;
      const known = seen.get(key);
      if (known === undefined) seen.set(key, { kind: f.kind, min: n, max: n, first: record.offset });
      else {
        if (known.kind !== f.kind) {
          throw new DataError(`${where}: feature '${key}' is a ${f.kind} list, but a ${known.kind} list in the record at byte offset ${known.first}`);
        }
        known.min = Math.min(known.min, n);
        known.max = Math.max(known.max, n);
      }
    }
    records++;
  }
  const features = [...seen.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, s]) => ({ key, kind: s.kind, lengths: { min: s.min, max: s.max } }));
  return { records, features };
}
