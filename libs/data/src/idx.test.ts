import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '@dlexp/core';
import { asInMemory, encodeIdx, parseIdx, readIdxFile } from './index';
import { loadDataset, tempDir } from './test-helpers';

const tmp = tempDir('idx');
afterAll(tmp.cleanup);

function fixture(name: string, bytes: Uint8Array): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, bytes);
  return file;
}

const small = () => encodeIdx({ dtype: 'uint8', shape: [3, 2, 2], data: Uint8Array.from([0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) });

describe('IDX reader', () => {
  it('reads a hand-written header and big-endian values', () => {
    // magic 0x00000C01 (int32, one dimension), dimension 2, values 1 and -2.
    const bytes = Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]);
    const array = parseIdx(bytes, 'hand.idx');
    expect(array.dtype).toBe('int32');
    expect(array.shape).toEqual([2]);
    expect(Array.from(array.data)).toEqual([1, -2]);
  });

  it('round-trips every element type through encodeIdx', () => {
    for (const [dtype, data] of [
      ['int8', Int8Array.from([-3, 4])],
      ['int16', Int16Array.from([-300, 400])],
      ['float32', Float32Array.from([1.5, -2.25])],
      ['float64', Float64Array.from([1e300, -2.5])],
    ] as const) {
      const back = parseIdx(encodeIdx({ dtype, shape: [2], data }), 'x');
      expect(back.dtype).toBe(dtype);
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
  });

  it('reads gzip-compressed files transparently', async () => {
    const plain = await readIdxFile(fixture('plain-idx3-ubyte', small()));
    const gz = await readIdxFile(fixture('gz-idx3-ubyte.gz', gzipSync(small())));
    expect(gz.shape).toEqual([3, 2, 2]);
    expect(Array.from(gz.data)).toEqual(Array.from(plain.data));
  });

  const bad: [string, () => Uint8Array, RegExp][] = [
    ['a wrong magic number', () => Uint8Array.from([0x1a, 0x2b, 8, 1, 0, 0, 0, 0]), /magic number 0x1a2b0801 does not start with two zero bytes/],
    ['an unknown element type', () => Uint8Array.from([0, 0, 0x07, 1, 0, 0, 0, 0]), /unknown element type code 0x07/],
    ['a truncated header', () => Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]), /truncated header: 3 dimensions need 16 bytes, the file has 8/],
    ['truncated data', () => small().subarray(0, 20), /truncated: dimensions \[3, 2, 2\] of uint8 need 28 bytes, the file has 20/],
    ['trailing bytes', () => Uint8Array.from([...small(), 1, 2]), /2 unexpected bytes after the 28/],
    ['a file too short for a magic number', () => Uint8Array.from([0, 0]), /2 bytes is too short/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`rejects ${what} with a DataError naming the file`, async () => {
      const file = fixture(`bad-${what.replace(/ /g, '-')}`, bytes());
      const error = await readIdxFile(file).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('reports a missing file and corrupt gzip data as DataErrors', async () => {
    await expect(readIdxFile(join(tmp.dir, 'missing'))).rejects.toThrow(/missing: cannot read: no such file/);
    const broken = gzipSync(small()).subarray(0, 20);
    await expect(readIdxFile(fixture('broken.gz', broken))).rejects.toThrow(/broken.gz: corrupt gzip data/);
  });
});

describe('mnist', () => {
  it('reads the real files: first training labels are 5 0 4 1 9, pixels in [0, 1]', async () => {
    const data = await loadDataset('mnist', { limit: { train: 100, test: 10 } });
    const train = asInMemory(data.splits.train!);
    expect(train.size).toBe(100);
    expect(Array.from(train.columns['y']!.data.slice(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(train.columns['y']!.dtype).toBe('int32');
    const x = train.columns['x']!;
    expect(x.shape).toEqual([100, 28, 28, 1]);
    expect(Math.max(...x.data)).toBe(1);
    expect(Math.min(...x.data)).toBe(0);
    expect(Array.from(asInMemory(data.splits.test!).columns['y']!.data.slice(0, 3))).toEqual([7, 2, 1]);
    expect(data.vocabularies?.['y']).toHaveLength(10);
  });

  it('loads all 70,000 images, takes validation from the end of train, flattens and one-hot encodes', async () => {
    const data = await loadDataset('mnist', { validationSplit: 5000, flatten: true, oneHot: true, normalize: 'raw' });
    const train = asInMemory(data.splits.train!);
    const validation = asInMemory(data.splits.validation!);
    const test = asInMemory(data.splits.test!);
    expect([train.size, validation.size, test.size]).toEqual([55000, 5000, 10000]);
    expect(train.columns['x']!.shape).toEqual([55000, 784]);
    expect(train.columns['y']!.shape).toEqual([55000, 10]);
    expect(Array.from(train.columns['y']!.data.slice(0, 10))).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(Math.max(...validation.columns['x']!.data.subarray(0, 784))).toBe(255);
    // The last training image (index 59999) is a 8: the last validation example.
    const lastRow = validation.columns['y']!.data.subarray(4999 * 10, 5000 * 10);
    expect(Array.from(lastRow).indexOf(1)).toBe(8);
  });

  it('takes a fraction for validation and standardizes to mean 0, deviation 1 over train', async () => {
    const data = await loadDataset('mnist', { validationSplit: 0.1, normalize: 'standardize', limit: { train: 2000 } });
    const train = asInMemory(data.splits.train!);
    expect(asInMemory(data.splits.validation!).size).toBe(6000);
    const x = train.columns['x']!.data;
    let sum = 0;
    let sq = 0;
    for (const v of x) {
      sum += v;
      sq += v * v;
    }
    expect(sum / x.length).toBeCloseTo(0, 4);
    expect(Math.sqrt(sq / x.length)).toBeCloseTo(1, 3);
    // The statistics it used, so a saved model can prepare a new image the same way.
    const encoding = data.images?.['x'];
    expect(encoding?.image).toEqual({ height: 28, width: 28, channels: 1 });
    expect(encoding?.mode).toBe('standardize');
    expect(encoding!.mean[0]).toBeGreaterThan(20);
    const pixel = 200;
    const expected = (pixel * encoding!.scale - encoding!.mean[0]!) / encoding!.std[0]!;
    const raw = asInMemory((await loadDataset('mnist', { normalize: 'raw', limit: { train: 2000 } })).splits.train!).columns['x']!.data;
    const at = raw.indexOf(pixel);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(x[at]).toBeCloseTo(expected, 5);
  });

  it('rejects a validation count that leaves no training data', async () => {
    await expect(loadDataset('mnist', { validationSplit: 60000 })).rejects.toThrow(/60000 validation examples would leave none of the 60000/);
    await expect(loadDataset('mnist', { validationSplit: 2.5 })).rejects.toThrow(/neither a fraction/);
  });
});

describe('fashion-mnist and idx', () => {
  it('reads the gzip files of the Debian package: first labels 9 0 0 3 0', async () => {
    const data = await loadDataset('fashion-mnist', { limit: { train: 5, test: 5 } });
    expect(Array.from(asInMemory(data.splits.train!).columns['y']!.data)).toEqual([9, 0, 0, 3, 0]);
    expect(data.vocabularies?.['y']?.[9]).toBe('Ankle boot');
    expect(data.images?.['x']).toEqual({ image: { height: 28, width: 28, channels: 1 }, mode: 'unit', scale: 1 / 255, mean: [0], std: [1] });
  });

  it('names the directory and the package when files are missing', async () => {
    const error = await loadDataset('fashion-mnist', { dir: tmp.dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toBe(
      `${tmp.dir}: missing train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz), ` +
        't10k-labels-idx1-ubyte(.gz); check the dataset dir',
    );
  });

  it('reads arbitrary IDX pairs relative to the experiment and infers the class count', async () => {
    fixture('x.idx', small());
    fixture('y.idx.gz', gzipSync(encodeIdx({ dtype: 'uint8', shape: [3], data: Uint8Array.from([2, 0, 1]) })));
    const data = await loadDataset('idx', { train: { x: 'x.idx', y: 'y.idx.gz' }, oneHot: true }, 1, tmp.dir);
    const train = asInMemory(data.splits.train!);
    expect(train.columns['x']!.shape).toEqual([3, 2, 2, 1]);
    expect(train.columns['x']!.data[1]).toBe(1);
    expect(Array.from(train.columns['y']!.data)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0]);
  });

  it('rejects labels that disagree in count with the inputs', async () => {
    fixture('y2.idx', encodeIdx({ dtype: 'uint8', shape: [2], data: Uint8Array.from([0, 1]) }));
    await expect(loadDataset('idx', { train: { x: 'x.idx', y: 'y2.idx' } }, 1, tmp.dir)).rejects.toThrow(/has 3 examples but .*y2.idx has 2 labels/);
  });
});
