import { DataError } from '@dlexp/core';
import { readMaybeGzip } from './files';

/**
 * The IDX format (used by MNIST and Fashion-MNIST): two zero bytes, a type code, the number of
 * dimensions, each dimension as a big-endian uint32, then the values, big-endian, row-major.
 */

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: IdxData;
}

const TYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

/** Parses IDX bytes; `file` only labels error messages. Bytes of uint8 files are not copied. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const fail = (what: string): never => {
    throw new DataError(`${file}: not a valid IDX file: ${what}`);
  };
  if (bytes.length < 4) fail(`${bytes.length} bytes is too short for the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail(`magic number 0x${magic.toString(16).padStart(8, '0')} does not start with two zero bytes`);
  }
  const type = TYPES[bytes[2]!];
  if (type === undefined) fail(`unknown element type code 0x${bytes[2]!.toString(16).padStart(2, '0')} in the magic number`);
  const { dtype, bytes: width } = type!;
  const rank = bytes[3]!;
  if (rank === 0) fail('the magic number declares 0 dimensions');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) fail(`truncated header: ${rank} dimensions need ${headerBytes} bytes, the file has ${bytes.length}`);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * width;
  if (bytes.length < expected) {
    fail(`truncated: dimensions [${shape.join(', ')}] of ${dtype} need ${expected} bytes, the file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    fail(`${bytes.length - expected} unexpected bytes after the ${expected} that dimensions [${shape.join(', ')}] of ${dtype} need`);
  }
  return { dtype, shape, data: decodeValues(bytes, headerBytes, count, dtype) };
}

function decodeValues(bytes: Uint8Array, start: number, count: number, dtype: IdxDtype): IdxData {
  if (dtype === 'uint8') return bytes.subarray(start, start + count);
  if (dtype === 'int8') return new Int8Array(bytes.buffer, bytes.byteOffset + start, count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * WIDTH[dtype]);
  switch (dtype) {
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i);
      return out;
    }
    default: {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i);
      return out;
    }
  }
}

const WIDTH: Record<IdxDtype, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

/** Reads an IDX file, gzip-compressed or not. */
export async function readIdxFile(file: string): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(file), file);
}

/** IDX bytes for an array (big-endian values), e.g. to write test fixtures or exports. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const code = Number(Object.entries(TYPES).find(([, t]) => t.dtype === array.dtype)![0]);
  const width = WIDTH[array.dtype];
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new Error(`shape [${array.shape.join(', ')}] needs ${count} values, got ${array.data.length}`);
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + count * width);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  for (let i = 0; i < count; i++) {
    const v = array.data[i]!;
    const at = header + i * width;
    switch (array.dtype) {
      case 'uint8':
        view.setUint8(at, v);
        break;
      case 'int8':
        view.setInt8(at, v);
        break;
      case 'int16':
        view.setInt16(at, v);
        break;
      case 'int32':
        view.setInt32(at, v);
        break;
      case 'float32':
        view.setFloat32(at, v);
        break;
      case 'float64':
        view.setFloat64(at, v);
        break;
    }
  }
  return out;
}
