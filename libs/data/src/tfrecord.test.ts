import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCanvas } from '@napi-rs/canvas';
import { DataError } from '@dlexp/core';
import {
  asInMemory,
  createColumn,
  decodeExample,
  encodeExample,
  inMemorySplit,
  inspectTFRecord,
  maskedCrc32c,
  readTFRecordAt,
  readTFRecords,
  writeSplitToTFRecord,
  writeTFRecordFile,
} from './index';
import { decodeExampleReflect } from './example';
import { loadDataset, tempDir } from './test-helpers';

const tmp = tempDir('tfrecord');
afterAll(tmp.cleanup);

/** CRC32C bit by bit (reflected Castagnoli polynomial), independent of the library under test. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function referenceMask(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 0x100000000;
}

function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** A TFRecord frame assembled from the format description. */
function frame(data: number[]): number[] {
  const length = [...u32le(data.length), 0, 0, 0, 0];
  return [...length, ...u32le(referenceMask(referenceCrc32c(Uint8Array.from(length)))), ...data, ...u32le(referenceMask(referenceCrc32c(Uint8Array.from(data))))];
}

const ascii = (s: string) => Array.from(Buffer.from(s, 'ascii'));

/**
 * tf.train.Example with label: int64 [1, 2] written UNPACKED (tag 0x08 per value), weights:
 * float [1.5] PACKED (tag 0x0a, length 4), and raw: bytes ["hi"], encoded by hand.
 */
function handExample(): number[] {
  const entry = (key: string, feature: number[]) => [0x0a, key.length, ...ascii(key), 0x12, feature.length, ...feature];
  const label = entry('label', [0x1a, 4, 0x08, 1, 0x08, 2]);
  const weights = entry('weights', [0x12, 6, 0x0a, 4, 0x00, 0x00, 0xc0, 0x3f]);
  const raw = entry('raw', [0x0a, 4, 0x0a, 2, ...ascii('hi')]);
  const features = [0x0a, label.length, ...label, 0x0a, weights.length, ...weights, 0x0a, raw.length, ...raw];
  return [0x0a, features.length, ...features];
}

function fixture(name: string, bytes: number[] | Uint8Array): string {
  const file = join(tmp.dir, name);
  writeFileSync(file, Uint8Array.from(bytes));
  return file;
}

async function readAll(file: string) {
  const out = [];
  for await (const r of readTFRecords(file)) out.push(r);
  return out;
}

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as Error;
}

describe('CRC32C and framing', () => {
  it('matches the CRC32C check value and the masking of the format', () => {
    const check = Uint8Array.from(ascii('123456789'));
    expect(referenceCrc32c(check)).toBe(0xe3069283);
    expect(maskedCrc32c(check)).toBe(referenceMask(0xe3069283));
  });

  it('reads a file whose bytes were built by hand, and decodes packed and unpacked lists', async () => {
    const example = handExample();
    const file = fixture('hand.tfrecord', [...frame(example), ...frame([])]);
    const records = await readAll(file);
    expect(records.map((r) => [r.offset, r.end])).toEqual([
      [0, 16 + example.length],
      [16 + example.length, 32 + example.length],
    ]);
    expect(records[1]!.data.length).toBe(0);
    const decoded = decodeExample(records[0]!.data, 'hand');
    expect(decoded['label']).toEqual({ kind: 'int64', values: [1, 2] });
    expect(decoded['weights']?.kind).toBe('float');
    expect(Array.from(decoded['weights']!.values as Float32Array)).toEqual([1.5]);
    expect(decoded['raw']?.kind).toBe('bytes');
    expect(Buffer.from((decoded['raw']!.values as Uint8Array[])[0]!).toString()).toBe('hi');
    expect(Array.from(await readTFRecordAt(file, 0))).toEqual(example);
  });

  it('writes byte-identical frames and packed lists, readable again', async () => {
    const encoded = encodeExample({ label: { kind: 'int64', values: [1, 2] } });
    // Packed: tag 0x0a, length 2, then the varints.
    expect(Array.from(encoded)).toEqual([0x0a, 17, 0x0a, 15, 0x0a, 5, ...ascii('label'), 0x12, 6, 0x1a, 4, 0x0a, 2, 1, 2]);
    const file = join(tmp.dir, 'written.tfrecord');
    await writeTFRecordFile(file, [Uint8Array.from([7, 8, 9])]);
    expect(Array.from(readFileSync(file))).toEqual(frame([7, 8, 9]));
  });

  it('names the file and byte offset of a bad data CRC', async () => {
    const bytes = [...frame([1, 2, 3]), ...frame([4, 5, 6])];
    bytes[20 + 12 + 1] = bytes[20 + 12 + 1]! ^ 0xff;
    const error = await errorOf(readAll(fixture('bad-data-crc.tfrecord', bytes)));
    expect(error.message).toMatch(/bad-data-crc.tfrecord: corrupt record at byte offset 19: data CRC mismatch/);
  });

  it('names the offset of a bad length CRC', async () => {
    const bytes = [...frame([1, 2, 3]), ...frame([4, 5, 6])];
    bytes[19 + 9] = bytes[19 + 9]! ^ 0x01;
    const error = await errorOf(readAll(fixture('bad-length-crc.tfrecord', bytes)));
    expect(error.message).toMatch(/bad-length-crc.tfrecord: corrupt record at byte offset 19: length CRC mismatch/);
  });

  it('reports a record cut in its data or its header', async () => {
    const bytes = [...frame([1, 2, 3]), ...frame([4, 5, 6])];
    const cutData = await errorOf(readAll(fixture('cut-data.tfrecord', bytes.slice(0, 19 + 14))));
    expect(cutData.message).toMatch(/cut-data.tfrecord: truncated record at byte offset 19: it declares 3 data bytes \(19 with framing\), the file has 14 left/);
    const cutHeader = await errorOf(readAll(fixture('cut-header.tfrecord', bytes.slice(0, 19 + 5))));
    expect(cutHeader.message).toMatch(/truncated record at byte offset 19: the header needs 12 bytes, the file has 5 left/);
  });

  it('refuses an absurd declared length instead of allocating it', async () => {
    const length = [0, 0, 0, 0, 1, 0, 0, 0];
    const bytes = [...length, ...u32le(referenceMask(referenceCrc32c(Uint8Array.from(length)))), 1, 2];
    expect((await errorOf(readAll(fixture('huge.tfrecord', bytes)))).message).toMatch(/declares 4294967296 bytes/);
  });

  it('reads records larger than its chunk and across chunk boundaries', async () => {
    const records = Array.from({ length: 50 }, (_, i) => Uint8Array.from({ length: 37 * i }, (_, k) => (k * 7 + i) & 0xff));
    const file = join(tmp.dir, 'chunks.tfrecord');
    await writeTFRecordFile(file, records);
    const back = [];
    for await (const r of readTFRecords(file, 0, 64)) back.push(Array.from(r.data));
    expect(back).toEqual(records.map((r) => Array.from(r)));
  });

  it('writes atomically: a failing source leaves neither the file nor a temporary', async () => {
    const file = join(tmp.dir, 'atomic', 'out.tfrecord');
    await expect(writeTFRecordFile(file, [Uint8Array.from([1])])).rejects.toThrow(/cannot write/);
    const dir = tempDir('atomic');
    const target = join(dir.dir, 'out.tfrecord');
    writeFileSync(target, 'old');
    async function* failing() {
      yield Uint8Array.from([1]);
      throw new Error('source failed');
    }
    await expect(writeTFRecordFile(target, failing())).rejects.toThrow('source failed');
    expect(readFileSync(target, 'utf8')).toBe('old');
    expect(readdirSync(dir.dir)).toEqual(['out.tfrecord']);
    dir.cleanup();
  });
});

function pngOf(value: number): Uint8Array {
  const canvas = createCanvas(4, 4);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = `rgb(${value}, ${value}, ${value})`;
  ctx.fillRect(0, 0, 4, 4);
  return canvas.toBuffer('image/png');
}

describe('tfrecord dataset, export and inspect', () => {
  const split = inMemorySplit({
    x: createColumn(Float32Array.from({ length: 10 * 3 }, (_, i) => i / 2), [10, 3]),
    y: createColumn(Int32Array.from({ length: 10 }, (_, i) => i % 4), [10]),
  });

  it('exports a split and inspects it', async () => {
    const file = join(tmp.dir, 'export.tfrecord');
    expect(await writeSplitToTFRecord(split, file)).toBe(10);
    expect(existsSync(file)).toBe(true);
    expect(await inspectTFRecord(file)).toEqual({
      records: 10,
      features: [
        { key: 'x', kind: 'float', lengths: { min: 3, max: 3 } },
        { key: 'y', kind: 'int64', lengths: { min: 1, max: 1 } },
      ],
    });
  });

  it('loads exported files through globs, in memory and streamed, with the same values', async () => {
    const dir = join(tmp.dir, 'shards');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await writeSplitToTFRecord(inMemorySplit({ x: createColumn(split.columns['x']!.data.slice(0, 12), [4, 3]), y: createColumn(split.columns['y']!.data.slice(0, 4) as Int32Array, [4]) }), join(dir, 'part-0.tfrecord'));
    await writeSplitToTFRecord(inMemorySplit({ x: createColumn(split.columns['x']!.data.slice(12), [6, 3]), y: createColumn(split.columns['y']!.data.slice(4) as Int32Array, [6]) }), join(dir, 'part-1.tfrecord'));
    const features = { x: { kind: 'float', shape: [3] }, y: { kind: 'int64', shape: [] } };
    const memory = await loadDataset('tfrecord', { train: ['shards/part-*.tfrecord'], features }, 1, tmp.dir);
    const train = asInMemory(memory.splits.train!);
    expect(train.columns['x']).toEqual(split.columns['x']);
    expect(train.columns['y']).toEqual(split.columns['y']);
    const streamed = await loadDataset('tfrecord', { train: ['shards/part-?.tfrecord'], features, stream: true }, 1, tmp.dir);
    const stream = streamed.splits.train!;
    expect(stream.kind).toBe('stream');
    const ys: number[] = [];
    if (stream.kind === 'stream') for await (const e of stream.read()) ys.push(e.values['y']![0]!);
    expect(ys).toEqual(Array.from(split.columns['y']!.data));
  });

  it('decodes PNG image features, pads variable lists and names bad records', async () => {
    const file = join(tmp.dir, 'images.tfrecord');
    await writeTFRecordFile(file, [
      encodeExample({ image: { kind: 'bytes', values: [pngOf(255)] }, tokens: { kind: 'int64', values: [5, 6] } }),
      encodeExample({ image: { kind: 'bytes', values: [pngOf(51)] }, tokens: { kind: 'int64', values: [1, 2, 3, 4] } }),
    ]);
    const data = await loadDataset('tfrecord', {
      train: [file],
      features: { x: { key: 'image', kind: 'image', shape: [2, 2, 1] }, t: { key: 'tokens', kind: 'int64', shape: [3], length: 'variable', pad: -1 } },
    });
    const train = asInMemory(data.splits.train!);
    expect(train.columns['x']!.shape).toEqual([2, 2, 2, 1]);
    expect(train.columns['x']!.data[0]).toBeCloseTo(1, 5);
    expect(train.columns['x']!.data[4]).toBeCloseTo(0.2, 2);
    expect(Array.from(train.columns['t']!.data)).toEqual([5, 6, -1, 1, 2, 3]);
    const fixed = loadDataset('tfrecord', { train: [file], features: { t: { key: 'tokens', kind: 'int64', shape: [3] } } });
    expect((await errorOf(fixed)).message).toMatch(/images.tfrecord: record at byte offset 0: feature 'tokens' has 2 values, declared shape \[3\] needs 3/);
    const wrongKind = loadDataset('tfrecord', { train: [file], features: { t: { key: 'tokens', kind: 'float', shape: [3] } } });
    expect((await errorOf(wrongKind)).message).toMatch(/feature 'tokens' is a int64 list, declared float/);
    const missing = loadDataset('tfrecord', { train: [join(tmp.dir, 'nope-*.tfrecord')], features: { t: { kind: 'float', shape: [1] } } });
    expect((await errorOf(missing)).message).toMatch(/no file matches this pattern/);
  });

  it('reports a corrupt image as a DataError naming the record', async () => {
    const file = join(tmp.dir, 'bad-image.tfrecord');
    await writeTFRecordFile(file, [encodeExample({ image: { kind: 'bytes', values: [Uint8Array.from([1, 2, 3, 4])] } })]);
    const error = await errorOf(loadDataset('tfrecord', { train: [file], features: { x: { key: 'image', kind: 'image', shape: [2, 2, 3] } } }));
    expect(error.message).toMatch(/bad-image.tfrecord: record at byte offset 0: feature 'image': not a readable PNG or JPEG/);
  });
});

describe('Example decoding', () => {
  const plain = (e: ReturnType<typeof decodeExample>) =>
    Object.fromEntries(
      Object.entries(e).map(([k, f]) => [k, { kind: f.kind, values: f.kind === 'bytes' ? f.values.map((b) => Array.from(b)) : Array.from(f.values as ArrayLike<number>) }]),
    );

  it('agrees with the generated decoder on packed, unpacked, negative, large and empty values', () => {
    const entry = (key: string, feature: number[]) => [0x0a, key.length, ...ascii(key), 0x12, feature.length, ...feature];
    // FloatList written unpacked: tag 0x0d (field 1, fixed32) before each value: 1.0 and -2.0.
    const unpackedFloats = entry('f', [0x12, 10, 0x0d, 0x00, 0x00, 0x80, 0x3f, 0x0d, 0x00, 0x00, 0x00, 0xc0]);
    // Int64List packed: -1 (ten-byte varint) and 2^33 + 5.
    const int64s = entry('i', [0x1a, 17, 0x0a, 15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x85, 0x80, 0x80, 0x80, 0x20]);
    const empty = entry('e', []);
    const features = [...[unpackedFloats, int64s, empty].flatMap((e) => [0x0a, e.length, ...e])];
    const bytes = Uint8Array.from([0x0a, features.length, ...features]);
    const fast = decodeExample(bytes, 'x');
    expect(plain(fast)).toEqual({
      f: { kind: 'float', values: [1, -2] },
      i: { kind: 'int64', values: [-1, 2 ** 33 + 5] },
      e: { kind: 'float', values: [] },
    });
    expect(plain(fast)).toEqual(plain(decodeExampleReflect(bytes, 'x')));
    const hand = Uint8Array.from(handExample());
    expect(plain(decodeExample(hand, 'x'))).toEqual(plain(decodeExampleReflect(hand, 'x')));
  });

  it('agrees with the generated decoder on written examples of every kind', () => {
    for (let n = 0; n < 20; n++) {
      const example = {
        pixels: { kind: 'float' as const, values: Float32Array.from({ length: n * 7 }, (_, i) => Math.sin(i + n)) },
        ids: { kind: 'int64' as const, values: Array.from({ length: n }, (_, i) => (i - 3) * 1_000_003) },
        blobs: { kind: 'bytes' as const, values: Array.from({ length: n % 3 }, (_, i) => Uint8Array.from({ length: i + n }, (_, k) => k)) },
      };
      const bytes = encodeExample(example);
      expect(plain(decodeExample(bytes, 'x'))).toEqual(plain(decodeExampleReflect(bytes, 'x')));
      expect(Array.from(decodeExample(bytes, 'x')['ids']!.values as ArrayLike<number>)).toEqual(example.ids.values);
    }
  });

  it('rejects cut or malformed Examples with a DataError naming the record', () => {
    const bytes = encodeExample({ x: { kind: 'float', values: [1, 2, 3] } });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => decodeExample(bytes.subarray(0, cut), 'f.tfrecord: record at byte offset 0'), `cut at ${cut}`).toThrow(DataError);
    }
    const wrongWire = Uint8Array.from([0x0a, 7, 0x0a, 5, 0x0a, 1, 0x61, 0x12, 0]);
    expect(() => decodeExample(Uint8Array.from([0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01]), 'r')).toThrow(/r: not a tf.train.Example/);
    expect(decodeExample(wrongWire, 'r')).toEqual({ a: { kind: 'float', values: [] } });
  });
});
