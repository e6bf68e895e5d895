import { DataError } from '@dlexp/core';
import { elementCount, type HostTensor } from './graph-def';
import { halfToFloat } from './graph-def-binary';

/**
 * The weights of a TF.js model file: a manifest of named, shaped, typed entries whose values lie
 * back to back in the shards of their group. Strings are stored as a 4-byte little-endian length
 * followed by the bytes; quantized entries (uint8, uint16, float16) are expanded on reading.
 */

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface WeightGroupJson {
  paths: string[];
  weights: WeightSpec[];
}

const QUANTIZED_SIZES: Record<string, number> = { uint8: 1, uint16: 2, float16: 2 };
const PLAIN_SIZES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Where a group's bytes came from, so an error can name a shard and an offset in it. */
export interface ShardSource {
  path: string;
  bytes: Uint8Array;
}

function locate(shards: readonly ShardSource[], offset: number): string {
  let start = 0;
  for (const shard of shards) {
    if (offset < start + shard.bytes.length) return `${shard.path}: byte ${offset - start}`;
    start += shard.bytes.length;
  }
  const last = shards[shards.length - 1];
  return last === undefined ? `byte ${offset}` : `${last.path}: byte ${last.bytes.length}`;
}

/**
 * Decodes the entries of one weight group from its shards (in order). `file` is the model.json
 * the manifest came from, named when the manifest itself is wrong.
 */
export function decodeWeightGroup(specs: readonly WeightSpec[], shards: readonly ShardSource[], file: string): Map<string, HostTensor> {
  const total = shards.reduce((n, s) => n + s.bytes.length, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const shard of shards) {
    data.set(shard.bytes, at);
    at += shard.bytes.length;
  }
  const view = new DataView(data.buffer);
  const out = new Map<string, HostTensor>();
  let offset = 0;
  const need = (bytes: number, spec: WeightSpec) => {
    if (offset + bytes > total) {
      throw new DataError(`${locate(shards, offset)}: truncated: weight '${spec.name}' needs ${bytes} bytes, ${total - offset} are left in its shards`);
    }
  };
  for (const spec of specs) {
    if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new DataError(`${file}: weight '${spec.name}' has an invalid shape ${JSON.stringify(spec.shape)}`);
    }
    const count = elementCount(spec.shape);
    if (spec.dtype === 'string') {
      const values: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        need(4, spec);
        const length = view.getUint32(offset, true);
        offset += 4;
        need(length, spec);
        values.push(data.slice(offset, offset + length));
        offset += length;
      }
      out.set(spec.name, { dtype: 'string', shape: spec.shape, values });
      continue;
    }
    if (PLAIN_SIZES[spec.dtype] === undefined) {
      throw new DataError(`${file}: weight '${spec.name}' has dtype '${spec.dtype}'; float32, int32, bool and string are supported`);
    }
    const dtype = spec.dtype as 'float32' | 'int32' | 'bool';
    const values = dtype === 'float32' ? new Float32Array(count) : dtype === 'int32' ? new Int32Array(count) : new Uint8Array(count);
    const q = spec.quantization;
    if (q !== undefined) {
      const size = QUANTIZED_SIZES[q.dtype];
      if (size === undefined) throw new DataError(`${file}: weight '${spec.name}' is quantized as '${q.dtype}'; uint8, uint16 and float16 are supported`);
      if (q.dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number')) {
        throw new DataError(`${file}: weight '${spec.name}' is quantized as ${q.dtype} without a scale and a min`);
      }
      need(count * size, spec);
      for (let i = 0; i < count; i++) {
        const p = offset + i * size;
        const v =
          q.dtype === 'uint8' ? view.getUint8(p) * q.scale! + q.min! : q.dtype === 'uint16' ? view.getUint16(p, true) * q.scale! + q.min! : halfToFloat(view.getUint16(p, true));
        values[i] = dtype === 'int32' ? Math.round(v) : v;
      }
      offset += count * size;
    } else {
      const size = PLAIN_SIZES[dtype]!;
      need(count * size, spec);
      for (let i = 0; i < count; i++) {
        const p = offset + i * size;
        values[i] = dtype === 'float32' ? view.getFloat32(p, true) : dtype === 'int32' ? view.getInt32(p, true) : view.getUint8(p);
      }
      offset += count * size;
    }
    out.set(spec.name, { dtype, shape: spec.shape, values } as HostTensor);
  }
  return out;
}

/** The manifest entries and the bytes of a set of constants, in the order given. */
export function encodeWeights(constants: Iterable<[string, HostTensor]>): { specs: WeightSpec[]; data: Uint8Array } {
  const specs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const [name, tensor] of constants) {
    specs.push({ name, shape: [...tensor.shape], dtype: tensor.dtype });
    if (tensor.dtype === 'string') {
      for (const s of tensor.values) {
        const length = new Uint8Array(4);
        new DataView(length.buffer).setUint32(0, s.length, true);
        parts.push(length, s);
      }
    } else {
      const v = tensor.values;
      parts.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  }
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { specs, data };
}
