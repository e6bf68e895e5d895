import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createCanvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import { ConfigError, DataError, param, RandomStream, type ParamSpec, type RegistryEntry } from '@dlexp/core';
import { cacheKey, userCacheDirectory } from './cache';
import { createColumn, inMemorySplit, type ArrayColumn, type DataSplit, type DatasetContext, type InMemorySplit, type LoadedDataset, type SplitName } from './dataset';
import { encodeExample, type Example } from './example';
import { isFile } from './files';
import { rgbaToFloat, type ChannelCount } from './image';
import { writeTFRecordFile } from './tfrecord';
import { openTFRecordSplit, type TFRecordFeatureSpec } from './tfrecord-dataset';

type Entry<P> = RegistryEntry<P, DatasetContext, Promise<LoadedDataset>>;

export const CAPTCHA_FONTS = [
  'DejaVuSans',
  'DejaVuSans-Bold',
  'DejaVuSans-Oblique',
  'DejaVuSansMono',
  'DejaVuSansMono-Bold',
  'DejaVuSerif',
  'DejaVuSerif-Bold',
  'DejaVuSerif-Italic',
  'DejaVuSansCondensed',
  'DejaVuSerifCondensed-Bold',
] as const;
export type CaptchaFont = (typeof CAPTCHA_FONTS)[number];

export interface CaptchaParams {
  length: number;
  alphabet: string;
  width: number;
  height: number;
  channels: number;
  samples: Partial<Record<SplitName, number>>;
  fonts: CaptchaFont[];
  maxRotation: number;
  noiseLines: number;
  noiseDots: number;
  storage: 'memory' | 'tfrecord';
  cacheDir?: string;
}

/** Family names private to this library, so no system font can ever be picked instead. */
const registered = new Map<CaptchaFont, string>();

function fontFamily(font: CaptchaFont): string {
  const known = registered.get(font);
  if (known !== undefined) return known;
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  } catch {
    throw new DataError('the npm package dejavu-fonts-ttf, which holds the captcha fonts, is not installed (run npm install)');
  }
  const family = `dlexp ${font}`;
  const file = join(dir, `${font}.ttf`);
  if (GlobalFonts.registerFromPath(file, family) === null) throw new DataError(`${file}: cannot load this font`);
  registered.set(font, family);
  return family;
}

const samplesSchema = (split: string) => ({ type: 'integer', minimum: 0, maximum: 10_000_000, description: `Images generated for the ${split} split.` });
const samplesParam: ParamSpec<Partial<Record<SplitName, number>>> = param.custom(
  { type: 'object', properties: { train: samplesSchema('train'), validation: samplesSchema('validation'), test: samplesSchema('test') }, additionalProperties: false },
  { description: 'Number of images generated per split; splits not named are not generated.', default: { train: 10000, test: 1000 } },
);

interface Renderer {
  ctx: SKRSContext2D;
  families: string[];
  p: CaptchaParams;
}

function color(rng: RandomStream, low: number, high: number): string {
  const c = () => Math.floor(rng.range(low, high));
  return `rgb(${c()},${c()},${c()})`;
}

/** Draws captcha `index` of `split` and returns its character ids; everything random comes from its own stream. */
function render(r: Renderer, seed: number, split: SplitName, index: number): number[] {
  const { ctx, p } = r;
  const rng = new RandomStream(seed, 'data', 'captcha', split, index);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = color(rng, 200, 256);
  ctx.fillRect(0, 0, p.width, p.height);
  const ids: number[] = [];
  const cell = p.width / p.length;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (let k = 0; k < p.length; k++) {
    const id = rng.int(p.alphabet.length);
    ids.push(id);
    const size = Math.round(p.height * rng.range(0.6, 0.85));
    ctx.font = `${size}px "${r.families[rng.int(r.families.length)]!}"`;
    ctx.fillStyle = color(rng, 0, 120);
    const x = cell * (k + 0.5) + rng.range(-0.15, 0.15) * cell;
    const y = p.height / 2 + rng.range(-0.12, 0.12) * p.height;
    const angle = (rng.range(-p.maxRotation, p.maxRotation) * Math.PI) / 180;
    ctx.setTransform(Math.cos(angle), Math.sin(angle), -Math.sin(angle), Math.cos(angle), x, y);
    ctx.fillText(p.alphabet[id]!, 0, 0);
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  for (let k = 0; k < p.noiseLines; k++) {
    ctx.strokeStyle = color(rng, 0, 180);
    ctx.lineWidth = rng.range(0.5, 1.5);
    ctx.beginPath();
    ctx.moveTo(rng.range(0, p.width), rng.range(0, p.height));
    ctx.lineTo(rng.range(0, p.width), rng.range(0, p.height));
    ctx.stroke();
  }
  for (let k = 0; k < p.noiseDots; k++) {
    ctx.fillStyle = color(rng, 0, 256);
    ctx.fillRect(Math.floor(rng.range(0, p.width)), Math.floor(rng.range(0, p.height)), 1, 1);
  }
  return ids;
}

function generate(r: Renderer, seed: number, split: SplitName, count: number): InMemorySplit {
  const { p } = r;
  const channels = p.channels as ChannelCount;
  const per = p.height * p.width * channels;
  const x = new Float32Array(count * per);
  const ys = Array.from({ length: p.length }, () => new Int32Array(count));
  for (let i = 0; i < count; i++) {
    const ids = render(r, seed, split, i);
    ids.forEach((id, k) => (ys[k]![i] = id));
    rgbaToFloat(r.ctx.getImageData(0, 0, p.width, p.height).data, channels, 1 / 255, x, i * per);
  }
  const columns: Record<string, ArrayColumn> = { x: createColumn(x, [count, p.height, p.width, channels]) };
  ys.forEach((y, k) => (columns[`y${k}`] = createColumn(y, [count])));
  return inMemorySplit(columns);
}

/**
 * Bumped whenever drawing or the record layout changes, so records cached by an older version are
 * never read as if they were this version's.
 */
const RECORD_FORMAT = 1;

/** The options that decide every pixel and label: the cache key (the sample counts only name files). */
function generatorOptions(p: CaptchaParams, seed: number): Record<string, unknown> {
  const { length, alphabet, width, height, channels, fonts, maxRotation, noiseLines, noiseDots } = p;
  return { format: RECORD_FORMAT, seed, length, alphabet, width, height, channels, fonts, maxRotation, noiseLines, noiseDots };
}

/** One captcha as a tf.train.Example: `image` raw pixel bytes (row-major, channels last), `y0`… the character ids. */
function* captchaExamples(r: Renderer, seed: number, split: SplitName, count: number): Generator<Uint8Array> {
  const { p } = r;
  const channels = p.channels as ChannelCount;
  const pixels = new Float32Array(p.height * p.width * channels);
  for (let i = 0; i < count; i++) {
    const ids = render(r, seed, split, i);
    rgbaToFloat(r.ctx.getImageData(0, 0, p.width, p.height).data, channels, 1, pixels);
    const bytes = new Uint8Array(pixels.length);
    for (let j = 0; j < pixels.length; j++) bytes[j] = Math.round(pixels[j]!);
    const example: Example = { image: { kind: 'bytes', values: [bytes] } };
    ids.forEach((id, k) => (example[`y${k}`] = { kind: 'int64', values: [id] }));
    yield encodeExample(example);
  }
}

/** How the records written by {@link captchaExamples} read back: the features of the in-memory form. */
function recordFeatures(p: CaptchaParams): Record<string, TFRecordFeatureSpec> {
  const specs: Record<string, TFRecordFeatureSpec> = { x: { key: 'image', kind: 'bytes', shape: [p.height, p.width, p.channels], scale: 1 / 255 } };
  for (let k = 0; k < p.length; k++) specs[`y${k}`] = { kind: 'int64', shape: [] };
  return specs;
}

/**
 * The course's pipeline: a split's captchas written once to a TFRecord file in the cache folder
 * of these generator options and seed, then streamed back through the tfrecord reader. The file
 * is written atomically, so a run killed while writing leaves nothing half-written to reuse.
 */
async function recordedSplit(r: Renderer, seed: number, split: SplitName, count: number, folder: string): Promise<{ split: DataSplit; generated: boolean }> {
  const file = join(folder, `${split}-${count}.tfrecord`);
  const generated = !(await isFile(file));
  if (generated) {
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'options.json'), `${JSON.stringify(generatorOptions(r.p, seed), null, 2)}\n`);
    await writeTFRecordFile(file, captchaExamples(r, seed, split, count));
  }
  return { split: { ...openTFRecordSplit([file], recordFeatures(r.p)), size: count }, generated };
}

export const captchaDataset: Entry<CaptchaParams> = {
  name: 'captcha',
  description:
    'Generated text captchas: `length` characters of `alphabet` drawn in DejaVu fonts with random size, rotation and offset, ' +
    'over noise lines and dots. Features: `x` float32 [N, height, width, channels] in [0, 1], and the int32 id of the ' +
    'character at each position in `y0`, `y1`, ... (index into the alphabet). The run seed fixes every image.',
  params: {
    length: param.integer({ description: 'Characters per captcha; targets y0 .. y(length-1).', default: 4, minimum: 1, maximum: 16 }),
    alphabet: param.string({ description: 'The characters to draw from; class id i is the i-th character.', default: '0123456789', minLength: 2 }),
    width: param.integer({ description: 'Image width in pixels.', default: 80, minimum: 8, maximum: 1024 }),
    height: param.integer({ description: 'Image height in pixels.', default: 32, minimum: 8, maximum: 1024 }),
    channels: param.custom<number>({ type: 'integer', enum: [1, 3] }, { description: '1 for gray images, 3 for RGB.', default: 1 }),
    samples: samplesParam,
    fonts: param.custom(
      { type: 'array', items: { enum: [...CAPTCHA_FONTS] }, minItems: 1, uniqueItems: true },
      { description: 'DejaVu font faces (from the npm package dejavu-fonts-ttf) picked at random per character.', default: [...CAPTCHA_FONTS] },
    ),
    maxRotation: param.number({ description: 'Largest rotation of a character, in degrees either way.', default: 25, minimum: 0, maximum: 90 }),
    noiseLines: param.integer({ description: 'Random lines drawn over the text.', default: 3, minimum: 0 }),
    noiseDots: param.integer({ description: 'Random single-pixel dots drawn over the text.', default: 30, minimum: 0 }),
    storage: param.oneOf(['memory', 'tfrecord'] as const, {
      description:
        '`memory`: the images are drawn at every run and held in memory. `tfrecord`: each split is drawn once into a TFRecord ' +
        'file of tf.train.Examples (`image` raw pixel bytes, `y0`… int64 ids) in a cache folder keyed by these options and ' +
        'the seed, then streamed back from it through the tfrecord reader (the course\'s pipeline); later runs reuse the file.',
      default: 'memory',
    }),
    cacheDir: param.string({
      description:
        'Where `storage: tfrecord` keeps its files (relative to the experiment file). Default: $DLEXP_CACHE_DIR, else ' +
        '$XDG_CACHE_HOME/dlexp, else ~/.cache/dlexp.',
      minLength: 1,
    }),
  },
  async create(p, context) {
    if (p.channels !== 1 && p.channels !== 3) throw new ConfigError('channels: 1 (gray) or 3 (RGB)');
    if (new Set(p.alphabet).size !== [...p.alphabet].length) throw new ConfigError(`alphabet: '${p.alphabet}' repeats a character`);
    if ([...p.alphabet].length !== p.alphabet.length) throw new ConfigError('alphabet: characters outside the Basic Multilingual Plane are not supported');
    const canvas = createCanvas(p.width, p.height);
    const renderer: Renderer = { ctx: canvas.getContext('2d'), families: p.fonts.map(fontFamily), p };
    const splits: Partial<Record<SplitName, DataSplit>> = {};
    const folder = join(p.cacheDir !== undefined ? context.resolvePath(p.cacheDir) : userCacheDirectory(), 'captcha', cacheKey(generatorOptions(p, context.seed)));
    let generated = 0;
    for (const [name, count] of Object.entries(p.samples) as [SplitName, number | undefined][]) {
      if (count === undefined || count === 0) continue;
      if (p.storage === 'memory') splits[name] = generate(renderer, context.seed, name, count);
      else {
        const recorded = await recordedSplit(renderer, context.seed, name, count, folder);
        splits[name] = recorded.split;
        if (recorded.generated) generated++;
      }
    }
    if (Object.keys(splits).length === 0) throw new ConfigError('samples: generate at least one image');
    const chars = [...p.alphabet];
    const vocabularies = Object.fromEntries(Array.from({ length: p.length }, (_, k) => [`y${k}`, chars]));
    const sizes = Object.entries(splits).map(([s, split]) => `${split.size} ${s}`);
    const stored = p.storage === 'memory' ? '' : `; streamed from TFRecord files in ${folder}${generated > 0 ? ` (${generated} written now)` : ' (cached)'}`;
    const images = { x: { image: { height: p.height, width: p.width, channels: p.channels as 1 | 3 }, mode: 'unit' as const, scale: 1 / 255, mean: [0], std: [1] } };
    return { description: `captcha: ${sizes.join(' / ')} images ${p.width}x${p.height}x${p.channels} of ${p.length} characters from '${p.alphabet}'${stored}`, splits, vocabularies, images };
  },
};
