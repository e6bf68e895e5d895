import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunError } from '@dlexp/core';
import { encodePng } from './png';

/**
 * Embeddings for TensorBoard's projector: `projector_config.pbtxt` (text-format ProjectorConfig,
 * tensorboard/plugins/projector/projector_config.proto) naming, per embedding, the tensor as TSV,
 * its metadata TSV and a sprite sheet. The projector looks for the config in each run directory,
 * so write it where that run's event files are. Paths in the config are relative to it.
 */

export interface ProjectorImages {
  /** Size of one image in pixels. */
  height: number;
  width: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: 1 | 3;
  /** rows × height × width × channels values, row-major (NHWC). Bytes are taken as they are. */
  pixels: Float32Array | Uint8Array;
  /** For float pixels: the values shown as black and white (default [0, 1]). */
  range?: readonly [number, number];
}

export interface ProjectorEmbedding {
  /** The name shown in the projector, e.g. the layer `fc1`; also the name of its subfolder. */
  name: string;
  /** rows × dims values, row-major. */
  values: Float32Array;
  rows: number;
  dims: number;
  /** One label per row: the metadata's single column. */
  labels?: readonly (string | number)[];
  /** More metadata columns by name, one value per row; with them the TSV gets a header. */
  columns?: Readonly<Record<string, readonly (string | number)[]>>;
  /** One image per row, tiled into a square sprite sheet. */
  images?: ProjectorImages;
}

export interface ProjectorFiles {
  config: string;
  embeddings: { tensor: string; metadata?: string; sprite?: string }[];
}

/** The projector refuses sprite sheets larger than this on either side. */
export const MAX_SPRITE_SIZE = 8192;

/** The shortest decimal text that reads back as the same float32. */
function float32Text(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  for (let digits = 1; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

/** Tabs and line breaks would split a cell; the projector has no quoting. */
function cell(value: string | number): string {
  return String(value).replace(/[\t\r\n]/g, ' ');
}

/** A string literal of protobuf's text format. */
function textLiteral(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** Folder names from embedding names (`dense/fc1` → `dense_fc1`). */
function folderName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe === '' ? 'embedding' : safe;
}

function tensorTsv(embedding: ProjectorEmbedding): string {
  const lines: string[] = [];
  const row: string[] = new Array<string>(embedding.dims);
  for (let r = 0; r < embedding.rows; r++) {
    for (let d = 0; d < embedding.dims; d++) row[d] = float32Text(embedding.values[r * embedding.dims + d]!);
    lines.push(row.join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

function metadataTsv(embedding: ProjectorEmbedding): string | undefined {
  const columns = Object.entries(embedding.columns ?? {});
  if (embedding.labels === undefined && columns.length === 0) return undefined;
  const all: [string, readonly (string | number)[]][] = embedding.labels === undefined ? columns : [['label', embedding.labels], ...columns];
  for (const [name, values] of all) {
    if (values.length !== embedding.rows) throw new RangeError(`embedding '${embedding.name}': metadata column '${name}' has ${values.length} values for ${embedding.rows} rows`);
  }
  const lines: string[] = [];
  // A single column has no header (the projector's rule); several have one.
  if (all.length > 1) lines.push(all.map(([name]) => cell(name)).join('\t'));
  for (let r = 0; r < embedding.rows; r++) lines.push(all.map(([, values]) => cell(values[r]!)).join('\t'));
  return `${lines.join('\n')}\n`;
}

/** The images tiled row by row into a square grid (empty cells black), an 8-bit PNG of the same channels. */
export function spritePng(images: ProjectorImages, count: number): { png: Buffer; side: number } {
  const { height, width, channels } = images;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) throw new RangeError(`sprite images need a positive integer size, got ${width}×${height}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`sprite images are grayscale (1 channel) or RGB (3), got ${String(channels)} channels`);
  const perImage = height * width * channels;
  if (images.pixels.length !== count * perImage) {
    throw new RangeError(`sprite: ${count} images of ${width}×${height}×${channels} need ${count * perImage} values, got ${images.pixels.length}`);
  }
  const perRow = Math.max(1, Math.ceil(Math.sqrt(count)));
  if (perRow * Math.max(width, height) > MAX_SPRITE_SIZE) {
    throw new RangeError(`sprite: ${count} images of ${width}×${height} make a sheet over ${MAX_SPRITE_SIZE} pixels wide, the projector's limit; export fewer samples`);
  }
  const sheetWidth = perRow * width;
  // Square even when the last row is partly empty, as the projector's own examples make it.
  const sheetHeight = perRow * height;
  const sheet = new Uint8Array(sheetWidth * sheetHeight * channels);
  const [low, high] = images.range ?? [0, 1];
  const scale = high === low ? 0 : 255 / (high - low);
  const isBytes = images.pixels instanceof Uint8Array;
  for (let i = 0; i < count; i++) {
    const left = (i % perRow) * width;
    const top = Math.floor(i / perRow) * height;
    for (let y = 0; y < height; y++) {
      const source = i * perImage + y * width * channels;
      const target = ((top + y) * sheetWidth + left) * channels;
      if (isBytes) {
        sheet.set(images.pixels.subarray(source, source + width * channels), target);
        continue;
      }
      for (let k = 0; k < width * channels; k++) {
        const v = (images.pixels[source + k]! - low) * scale;
        sheet[target + k] = v > 255 ? 255 : v > 0 ? Math.round(v) : 0;
      }
    }
  }
  return { png: encodePng(sheetWidth, sheetHeight, channels, sheet), side: perRow };
}

function write(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (error) {
    throw new RunError(`${path}: cannot write the projector export: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Writes the embeddings into `directory`: `projector_config.pbtxt` there and, per embedding, a
 * subfolder with `tensor.tsv` (one row per point, tab-separated), `metadata.tsv` (labels, when
 * given) and `sprite.png` (when images are given). Returns the paths written.
 */
export function writeProjector(directory: string, embeddings: readonly ProjectorEmbedding[]): ProjectorFiles {
  if (embeddings.length === 0) throw new RangeError('writeProjector needs at least one embedding');
  const folders = new Set<string>();
  const config: string[] = [];
  const files: ProjectorFiles = { config: join(directory, 'projector_config.pbtxt'), embeddings: [] };
  const prepared = embeddings.map((embedding) => {
    const { name, values, rows, dims } = embedding;
    if (typeof name !== 'string' || name === '') throw new TypeError('a projector embedding needs a non-empty name');
    if (!Number.isInteger(rows) || !Number.isInteger(dims) || rows < 1 || dims < 1) throw new RangeError(`embedding '${name}': rows and dims must be positive integers, got ${rows}×${dims}`);
    if (values.length !== rows * dims) throw new RangeError(`embedding '${name}': ${rows}×${dims} needs ${rows * dims} values, got ${values.length}`);
    const folder = folderName(name);
    if (folders.has(folder)) throw new RangeError(`embedding '${name}': another embedding already uses the folder '${folder}'`);
    folders.add(folder);
    return { embedding, folder, metadata: metadataTsv(embedding), sprite: embedding.images === undefined ? undefined : spritePng(embedding.images, rows) };
  });
  mkdirSync(directory, { recursive: true });
  for (const { embedding, folder, metadata, sprite } of prepared) {
    mkdirSync(join(directory, folder), { recursive: true });
    const written: ProjectorFiles['embeddings'][number] = { tensor: join(directory, folder, 'tensor.tsv') };
    write(written.tensor, tensorTsv(embedding));
    config.push('embeddings {', `  tensor_name: ${textLiteral(embedding.name)}`, `  tensor_path: ${textLiteral(`${folder}/tensor.tsv`)}`);
    if (metadata !== undefined) {
      written.metadata = join(directory, folder, 'metadata.tsv');
      write(written.metadata, metadata);
      config.push(`  metadata_path: ${textLiteral(`${folder}/metadata.tsv`)}`);
    }
    config.push(`  tensor_shape: ${embedding.rows}`, `  tensor_shape: ${embedding.dims}`);
    if (sprite !== undefined) {
      written.sprite = join(directory, folder, 'sprite.png');
      write(written.sprite, sprite.png);
      const images = embedding.images!;
      // single_image_dim is [width, height].
      config.push('  sprite {', `    image_path: ${textLiteral(`${folder}/sprite.png`)}`, `    single_image_dim: ${images.width}`, `    single_image_dim: ${images.height}`, '  }');
    }
    config.push('}');
    files.embeddings.push(written);
  }
  write(files.config, `${config.join('\n')}\n`);
  return files;
}
