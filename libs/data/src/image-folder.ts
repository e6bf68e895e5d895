import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { ConfigError, DataError, param, RandomStream, type RegistryEntry } from '@dlexp/core';
import { createColumn, inMemorySplit, type DatasetContext, type InMemorySplit, type LoadedDataset, type SplitName } from './dataset';
import { allInOrder, describeFsError, readDataFile } from './files';
import { decodeImage, type ChannelCount } from './image';
import { limitParam, validationCount, type SplitLimits } from './split-options';

type Entry<P> = RegistryEntry<P, DatasetContext, Promise<LoadedDataset>>;

export interface ImageFolderParams {
  train?: string;
  validation?: string;
  test?: string;
  shape: number[];
  oneHot: boolean;
  validationSplit: number;
  limit: SplitLimits;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

interface Listed {
  file: string;
  label: number;
}

async function listClasses(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new DataError(`${dir}: cannot list the class folders: ${describeFsError(error)}`);
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

async function listImages(dir: string, classes: string[]): Promise<Listed[]> {
  const present = await listClasses(dir);
  for (const name of present) {
    if (!classes.includes(name)) throw new DataError(`${join(dir, name)}: class folder '${name}' is not among the training classes (${classes.join(', ')})`);
  }
  const out: Listed[] = [];
  for (const name of present) {
    const files = (await readdir(join(dir, name))).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort();
    for (const f of files) out.push({ file: join(dir, name, f), label: classes.indexOf(name) });
  }
  if (out.length === 0) throw new DataError(`${dir}: no PNG or JPEG images in its class folders`);
  return out;
}

async function loadImages(items: Listed[], shape: [number, number, ChannelCount], classes: number, oneHot: boolean): Promise<InMemorySplit> {
  const [h, w, c] = shape;
  const per = h * w * c;
  const x = new Float32Array(items.length * per);
  // Decoding runs on libuv threads; a few at a time keeps cores busy without holding every file at once.
  const parallel = 8;
  for (let start = 0; start < items.length; start += parallel) {
    const chunk = items.slice(start, start + parallel);
    const images = await allInOrder(...chunk.map(async (item) => decodeImage(await readDataFile(item.file), h, w, c, 1 / 255, item.file)));
    images.forEach((image, k) => x.set(image, (start + k) * per));
  }
  const labels = items.map((i) => i.label);
  if (!oneHot) return inMemorySplit({ x: createColumn(x, [items.length, h, w, c]), y: createColumn(Int32Array.from(labels), [items.length]) });
  const y = new Float32Array(items.length * classes);
  labels.forEach((label, i) => (y[i * classes + label] = 1));
  return inMemorySplit({ x: createColumn(x, [items.length, h, w, c]), y: createColumn(y, [items.length, classes]) });
}

export const imageFolderDataset: Entry<ImageFolderParams> = {
  name: 'imageFolder',
  description:
    'Images sorted into one folder per class (`train/cat/*.png`, `train/dog/*.jpg`), PNG or JPEG, resized to `shape`. ' +
    'Class ids follow the sorted folder names of the first split given. Features: `x` float32 [N, height, width, channels] in [0, 1], `y` class ids.',
  params: {
    train: param.string({ description: 'Folder of the training split: one subfolder per class. Relative to the experiment file.' }),
    validation: param.string({ description: 'Folder of the validation split, with (a subset of) the same class subfolders.' }),
    test: param.string({ description: 'Folder of the test split, with (a subset of) the same class subfolders.' }),
    shape: param.numberList({
      description: 'Size every image is resized to: [height, width, channels], channels 1 (gray) or 3 (RGB).',
      integer: true,
      minItems: 3,
      maxItems: 3,
      required: true,
    }),
    oneHot: param.boolean({ description: 'true: `y` one-hot float32 [N, classes]; false: int32 class ids [N].', default: false }),
    validationSplit: param.number({
      description:
        'Training images moved into a `validation` split, chosen at random (seeded by the run seed) since the folders are ' +
        'ordered by class: a fraction when below 1, a count from 1 up. 0: none.',
      default: 0,
      minimum: 0,
    }),
    limit: {
      ...limitParam,
      schema: {
        ...limitParam.schema,
        description: 'Keep a random subset (seeded by the run seed) of N images of a split, e.g. `{train: 500}`, for quick runs.',
      },
    },
  },
  async create(p, context) {
    const [h, w, c] = p.shape as [number, number, number];
    if (c !== 1 && c !== 3) throw new ConfigError(`shape: channels must be 1 or 3, got ${c}`);
    const dirs = (['train', 'validation', 'test'] as const).flatMap((s) => (p[s] === undefined ? [] : [[s, context.resolvePath(p[s])] as const]));
    if (dirs.length === 0) throw new ConfigError('imageFolder: give the folder of at least one of train, validation, test');
    const classes = await listClasses(dirs[0]![1]);
    if (classes.length === 0) throw new DataError(`${dirs[0]![1]}: no class subfolders`);
    const lists: Partial<Record<SplitName, Listed[]>> = {};
    for (const [name, dir] of dirs) {
      const items = await listImages(dir, classes);
      // Folder order groups classes together; a seeded order makes validation and limits a fair sample.
      new RandomStream(context.seed, 'data', 'imageFolder', name).shuffle(items);
      lists[name] = items;
    }
    if (p.validationSplit > 0) {
      const train = lists.train;
      if (train === undefined) throw new ConfigError('validationSplit: there is no train folder to take validation images from');
      if (lists.validation !== undefined) throw new ConfigError('validationSplit: the validation split is already given by its own folder');
      const v = validationCount(p.validationSplit, train.length);
      lists.validation = train.slice(train.length - v);
      lists.train = train.slice(0, train.length - v);
    }
    const splits: Partial<Record<SplitName, InMemorySplit>> = {};
    for (const [name, items] of Object.entries(lists) as [SplitName, Listed[]][]) {
      const limit = p.limit[name];
      splits[name] = await loadImages(limit === undefined ? items : items.slice(0, limit), [h, w, c], classes.length, p.oneHot);
    }
    const sizes = Object.entries(splits).map(([s, split]) => `${split.size} ${s}`);
    return {
      description: `imageFolder: ${sizes.join(' / ')} images of ${classes.length} classes, resized to [${h}, ${w}, ${c}]`,
      splits,
      vocabularies: { y: classes },
      images: { x: { image: { height: h, width: w, channels: c }, mode: 'unit', scale: 1 / 255, mean: [0], std: [1] } },
    };
  },
};
