import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCanvas } from '@napi-rs/canvas';
import { DataError, RandomStream } from '@dlexp/core';
import { decodeImage, imageProblem } from './image';
import { asInMemory } from './index';
import { loadDataset, tempDir } from './test-helpers';

const tmp = tempDir('images');
afterAll(tmp.cleanup);

function writeImage(path: string, rgb: [number, number, number], format: 'image/png' | 'image/jpeg'): void {
  const canvas = createCanvas(6, 4);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = `rgb(${rgb.join(',')})`;
  ctx.fillRect(0, 0, 6, 4);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, format === 'image/png' ? canvas.toBuffer('image/png') : canvas.toBuffer('image/jpeg', 95));
}

describe('imageFolder', () => {
  const root = join(tmp.dir, 'folders');
  writeImage(join(root, 'train', 'red', 'a.png'), [255, 0, 0], 'image/png');
  writeImage(join(root, 'train', 'red', 'b.jpg'), [255, 0, 0], 'image/jpeg');
  writeImage(join(root, 'train', 'blue', 'a.png'), [0, 0, 255], 'image/png');
  writeImage(join(root, 'train', 'green', 'a.jpeg'), [0, 255, 0], 'image/jpeg');
  writeFileSync(join(root, 'train', 'green', 'notes.txt'), 'not an image');
  writeImage(join(root, 'test', 'blue', 'z.png'), [0, 0, 255], 'image/png');

  it('reads PNG and JPEG per class folder, sorted class names, resized', async () => {
    const data = await loadDataset('imageFolder', { train: 'folders/train', test: 'folders/test', shape: [2, 3, 3] }, 1, tmp.dir);
    expect(data.vocabularies?.['y']).toEqual(['blue', 'green', 'red']);
    const train = asInMemory(data.splits.train!);
    expect(train.columns['x']!.shape).toEqual([4, 2, 3, 3]);
    const x = train.columns['x']!.data;
    const y = Array.from(train.columns['y']!.data);
    expect([...y].sort()).toEqual([0, 1, 2, 2]);
    y.forEach((label, i) => {
      const pixel = Array.from(x.subarray(i * 18, i * 18 + 3)).map((v) => Math.round(v));
      expect(pixel).toEqual(label === 0 ? [0, 0, 1] : label === 1 ? [0, 1, 0] : [1, 0, 0]);
    });
    expect(Array.from(asInMemory(data.splits.test!).columns['y']!.data)).toEqual([0]);
    const gray = await loadDataset('imageFolder', { train: 'folders/train', shape: [1, 1, 1], oneHot: true, validationSplit: 1 }, 1, tmp.dir);
    expect(asInMemory(gray.splits.validation!).columns['y']!.shape).toEqual([1, 3]);
    expect(asInMemory(gray.splits.train!).size).toBe(3);
  });

  it('rejects corrupt images and unknown classes with DataErrors naming the file', async () => {
    writeImage(join(root, 'other', 'purple', 'p.png'), [128, 0, 128], 'image/png');
    writeImage(join(root, 'broken', 'red', 'a.png'), [255, 0, 0], 'image/png');
    writeFileSync(join(root, 'broken', 'red', 'bad.png'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const unknown = await loadDataset('imageFolder', { train: 'folders/train', test: 'folders/other', shape: [2, 2, 1] }, 1, tmp.dir).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(DataError);
    expect((unknown as Error).message).toMatch(/class folder 'purple' is not among the training classes \(blue, green, red\)/);
    const broken = await loadDataset('imageFolder', { train: 'folders/broken', shape: [2, 2, 1] }, 1, tmp.dir).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(DataError);
    expect((broken as Error).message).toMatch(/broken\/red\/bad.png: not a readable PNG or JPEG image/);
  });
});

describe('captcha', () => {
  it('is byte-identical for a seed, different for another, with one id target per position', async () => {
    const params = { samples: { train: 20, test: 5 } };
    const a = await loadDataset('captcha', params, 11);
    const b = await loadDataset('captcha', params, 11);
    const c = await loadDataset('captcha', params, 12);
    const train = asInMemory(a.splits.train!);
    expect(Object.keys(train.columns)).toEqual(['x', 'y0', 'y1', 'y2', 'y3']);
    expect(train.columns['x']!.shape).toEqual([20, 32, 80, 1]);
    expect(train.columns['y0']!.dtype).toBe('int32');
    expect(Buffer.from(train.columns['x']!.data.buffer).equals(Buffer.from(asInMemory(b.splits.train!).columns['x']!.data.buffer))).toBe(true);
    expect(Array.from(train.columns['y2']!.data)).toEqual(Array.from(asInMemory(b.splits.train!).columns['y2']!.data));
    expect(Array.from(train.columns['x']!.data)).not.toEqual(Array.from(asInMemory(c.splits.train!).columns['x']!.data));
    expect(asInMemory(a.splits.train!).columns['y0']!.data).not.toEqual(asInMemory(a.splits.test!).columns['y0']!.data.slice(0, 20));
    const labels = [0, 1, 2, 3].flatMap((k) => Array.from(train.columns[`y${k}`]!.data));
    expect(Math.min(...labels)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...labels)).toBeLessThanOrEqual(9);
    expect(new Set(labels).size).toBeGreaterThan(5);
    // Dark text on a light background: each image has both.
    const x = train.columns['x']!.data.subarray(0, 32 * 80);
    expect(Math.min(...x)).toBeLessThan(0.5);
    expect(Math.max(...x)).toBeGreaterThan(0.75);
    expect(a.vocabularies?.['y3']).toEqual([...'0123456789']);
  });

  it('follows size, alphabet, length and RGB settings', async () => {
    const data = await loadDataset('captcha', { samples: { validation: 3 }, width: 40, height: 16, channels: 3, alphabet: 'AB', length: 2, fonts: ['DejaVuSerif'] });
    const split = asInMemory(data.splits.validation!);
    expect(Object.keys(data.splits)).toEqual(['validation']);
    expect(split.columns['x']!.shape).toEqual([3, 16, 40, 3]);
    expect(Object.keys(split.columns)).toEqual(['x', 'y0', 'y1']);
    expect(Math.max(...split.columns['y1']!.data)).toBeLessThanOrEqual(1);
    await expect(loadDataset('captcha', { alphabet: 'AA' })).rejects.toThrow(/repeats a character/);
  });
});

describe('image checks before decoding', () => {
  function sample(format: 'image/png' | 'image/jpeg'): Buffer {
    const canvas = createCanvas(24, 20);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = 'rgb(255,0,0)';
    ctx.fillRect(0, 0, 16, 8);
    ctx.fillStyle = 'blue';
    ctx.fillText('hi', 2, 10);
    return format === 'image/png' ? canvas.toBuffer('image/png') : canvas.toBuffer('image/jpeg', 90);
  }

  it('names what is wrong with truncated or foreign files', () => {
    const png = sample('image/png');
    const jpeg = sample('image/jpeg');
    expect(imageProblem(png)).toBeUndefined();
    expect(imageProblem(jpeg)).toBeUndefined();
    expect(imageProblem(png.subarray(0, 8))).toMatch(/PNG has no IHDR chunk/);
    expect(imageProblem(png.subarray(0, png.length - 12))).toMatch(/no IEND chunk/);
    expect(imageProblem(jpeg.subarray(0, 300))).toMatch(/JPEG/);
    expect(imageProblem(Buffer.from('GIF89a\x01\x00\x01\x00'))).toMatch(/not a PNG or JPEG/);
  });

  it('survives hundreds of damaged files: each is rejected or decodes, none crashes the process', async () => {
    const sources = [sample('image/png'), sample('image/jpeg')];
    const rng = new RandomStream(2024, 'image-fuzz');
    let decoded = 0;
    for (let k = 0; k < 400; k++) {
      let b = Buffer.from(sources[k % 2]!);
      const mode = rng.int(3);
      if (mode === 0) b = b.subarray(0, rng.int(b.length));
      else if (mode === 1) for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)] = rng.int(256);
      else b = Buffer.concat([b.subarray(0, rng.int(b.length)), b.subarray(rng.int(b.length))]);
      const result = await decodeImage(b, 4, 4, 3, 1, 'fuzz').then(
        () => 'ok',
        (e: unknown) => e,
      );
      if (result === 'ok') decoded++;
      else expect(result).toBeInstanceOf(DataError);
    }
    expect(decoded).toBeGreaterThan(20);
  });
});
