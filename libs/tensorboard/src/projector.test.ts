import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng, writeProjector, type ProjectorEmbedding } from './index';

const root = mkdtempSync(join(tmpdir(), 'dlexp-tensorboard-projector-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let count = 0;
const freshDir = () => join(root, `export-${++count}`);

/** PNG's CRC-32 (polynomial 0xEDB88320), bit by bit. */
function crc32Bitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Reads an 8-bit, non-interlaced PNG written with filter 0, checking the signature and every chunk CRC. */
function readPng(file: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } {
  expect([...file.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (at < file.length) {
    const length = file.readUInt32BE(at);
    const type = file.toString('ascii', at + 4, at + 8);
    const data = file.subarray(at + 8, at + 8 + length);
    expect(file.readUInt32BE(at + 8 + length)).toBe(crc32Bitwise(file.subarray(at + 4, at + 8 + length)));
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = { 0: 1, 2: 3 }[data[9]!] ?? 0;
      expect([data[10], data[11], data[12]]).toEqual([0, 0, 0]);
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  expect(types[0]).toBe('IHDR');
  expect(types[types.length - 1]).toBe('IEND');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe((stride + 1) * height);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, pixels };
}

/** The text-format config, read back field by field for the fields the projector uses. */
function readConfig(text: string): Record<string, string | string[]>[] {
  const embeddings: Record<string, string | string[]>[] = [];
  const blocks = text.match(/embeddings \{[\s\S]*?\n\}/g) ?? [];
  for (const block of blocks) {
    const fields: Record<string, string | string[]> = {};
    for (const [, key, value] of block.matchAll(/^\s+(\w+): (.+)$/gm)) {
      const parsed = value!.startsWith('"') ? (JSON.parse(value!) as string) : value!;
      const existing = fields[key!];
      fields[key!] = existing === undefined ? parsed : [...(Array.isArray(existing) ? existing : [existing]), parsed];
    }
    embeddings.push(fields);
  }
  return embeddings;
}

function smallEmbedding(rows: number, dims: number): ProjectorEmbedding {
  return { name: 'fc1', rows, dims, values: Float32Array.from({ length: rows * dims }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3)) };
}

describe('projector export', () => {
  it('writes the tensor, labels, sprite and a config naming them', () => {
    const rows = 10;
    const embedding = smallEmbedding(rows, 4);
    const pixels = Float32Array.from({ length: rows * 3 * 2 }, (_, i) => (i % 6) / 5);
    pixels[0] = -1;
    pixels[1] = 2;
    const dir = freshDir();
    const files = writeProjector(dir, [{ ...embedding, labels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 'nine\tand\nmore'], images: { height: 3, width: 2, channels: 1, pixels } }]);
    expect(files.config).toBe(join(dir, 'projector_config.pbtxt'));

    const [config] = readConfig(readFileSync(files.config, 'utf8'));
    expect(config).toEqual({
      tensor_name: 'fc1',
      tensor_path: 'fc1/tensor.tsv',
      metadata_path: 'fc1/metadata.tsv',
      tensor_shape: ['10', '4'],
      image_path: 'fc1/sprite.png',
      single_image_dim: ['2', '3'],
    });
    // The paths are relative to the config, as the projector resolves them.
    for (const key of ['tensor_path', 'metadata_path', 'image_path']) expect(existsSync(join(dir, config![key] as string))).toBe(true);

    const tensorLines = readFileSync(join(dir, 'fc1/tensor.tsv'), 'utf8').trimEnd().split('\n');
    expect(tensorLines).toHaveLength(rows);
    const parsed = tensorLines.flatMap((line) => line.split('\t').map(Number));
    expect(Float32Array.from(parsed)).toEqual(embedding.values);

    const labels = readFileSync(join(dir, 'fc1/metadata.tsv'), 'utf8').split('\n');
    // One column: no header, one line per point.
    expect(labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', 'nine and more', '']);

    const sprite = readPng(readFileSync(join(dir, 'fc1/sprite.png')));
    // 10 images on a 4 × 4 grid of 2 × 3 cells.
    expect([sprite.width, sprite.height, sprite.channels]).toEqual([8, 12, 1]);
    const pixelAt = (image: number, x: number, y: number) => sprite.pixels[(Math.floor(image / 4) * 3 + y) * 8 + (image % 4) * 2 + x]!;
    expect(pixelAt(0, 0, 0)).toBe(0); // -1 clamped to black
    expect(pixelAt(0, 1, 0)).toBe(255); // 2 clamped to white
    for (let image = 0; image < rows; image++) {
      for (let y = 0; y < 3; y++) {
        for (let x = 0; x < 2; x++) {
          if (image === 0 && y === 0) continue;
          const index = image * 6 + y * 2 + x;
          expect(pixelAt(image, x, y)).toBe(Math.round(((index % 6) / 5) * 255));
        }
      }
    }
    // Cells past the last image stay black.
    expect(pixelAt(15, 1, 2)).toBe(0);
  });

  it('writes RGB byte images as they are, and several columns of metadata with a header', () => {
    const rows = 4;
    const pixels = Uint8Array.from({ length: rows * 2 * 2 * 3 }, (_, i) => (i * 37) % 256);
    const dir = freshDir();
    writeProjector(dir, [
      { ...smallEmbedding(rows, 3), name: 'conv/fc 2', labels: ['a', 'b', 'c', 'd'], columns: { predicted: ['a', 'x', 'c', 'd'] }, images: { height: 2, width: 2, channels: 3, pixels } },
      { ...smallEmbedding(2, 5), name: 'logits' },
    ]);
    const configs = readConfig(readFileSync(join(dir, 'projector_config.pbtxt'), 'utf8'));
    expect(configs.map((c) => [c.tensor_name, c.tensor_path, c.metadata_path])).toEqual([
      ['conv/fc 2', 'conv_fc_2/tensor.tsv', 'conv_fc_2/metadata.tsv'],
      ['logits', 'logits/tensor.tsv', undefined],
    ]);
    expect(readFileSync(join(dir, 'conv_fc_2/metadata.tsv'), 'utf8')).toBe('label\tpredicted\na\ta\nb\tx\nc\tc\nd\td\n');
    const sprite = readPng(readFileSync(join(dir, 'conv_fc_2/sprite.png')));
    expect([sprite.width, sprite.height, sprite.channels]).toEqual([4, 4, 3]);
    // Image 3 sits at grid cell (1, 1); its pixel (1, 0), channel 2:
    expect(sprite.pixels[(2 * 4 + 3) * 3 + 2]).toBe(pixels[3 * 12 + 1 * 3 + 2]);
  });

  it('refuses inconsistent sizes and sprites too large for the projector, before writing anything', () => {
    const dir = freshDir();
    expect(() => writeProjector(dir, [])).toThrow(/at least one embedding/);
    expect(() => writeProjector(dir, [{ name: 'e', rows: 2, dims: 3, values: new Float32Array(5) }])).toThrow(/embedding 'e': 2×3 needs 6 values, got 5/);
    expect(() => writeProjector(dir, [{ ...smallEmbedding(3, 2), labels: ['a'] }])).toThrow(/metadata column 'label' has 1 values for 3 rows/);
    expect(() => writeProjector(dir, [{ ...smallEmbedding(3, 2), images: { height: 2, width: 2, channels: 1, pixels: new Float32Array(11) } }])).toThrow(/3 images of 2×2×1 need 12 values, got 11/);
    expect(() => writeProjector(dir, [{ ...smallEmbedding(3, 2), images: { height: 2, width: 2, channels: 4 as 3, pixels: new Uint8Array(48) } }])).toThrow(/grayscale \(1 channel\) or RGB \(3\)/);
    expect(() => writeProjector(dir, [{ ...smallEmbedding(3000, 1), images: { height: 200, width: 200, channels: 1, pixels: new Uint8Array(0) } }])).toThrow(/need 120000000 values/);
    expect(() => writeProjector(dir, [{ ...smallEmbedding(2000, 1), images: { height: 200, width: 200, channels: 1, pixels: new Uint8Array(2000 * 200 * 200) } }])).toThrow(/over 8192 pixels wide/);
    expect(() => writeProjector(dir, [smallEmbedding(1, 1), smallEmbedding(1, 1)])).toThrow(/another embedding already uses the folder 'fc1'/);
    expect(existsSync(dir)).toBe(false);
  });

  it('encodes PNGs that decode to the same pixels', () => {
    const pixels = Uint8Array.from({ length: 5 * 3 }, (_, i) => i * 17);
    const decoded = readPng(encodePng(5, 3, 1, pixels));
    expect(decoded).toEqual({ width: 5, height: 3, channels: 1, pixels });
    expect(() => encodePng(5, 3, 1, new Uint8Array(14))).toThrow(/needs 15 bytes, got 14/);
    expect(() => encodePng(0, 3, 1, new Uint8Array(0))).toThrow(/positive integer size/);
  });
});
