import protobuf from 'protobufjs';
import { DataError } from '@dlexp/core';

/**
 * `tf.train.Example`, the record payload TensorFlow writes: a map from feature names to a list of
 * bytes, floats or int64s. The schema is parsed from this text once, at first use; proto3 makes
 * numeric lists packed on write, and the decoder accepts packed and unpacked alike.
 */
const EXAMPLE_PROTO = `
syntax = "proto3";
package tensorflow;
message BytesList { repeated bytes value = 1; }
message FloatList { repeated float value = 1 [packed = true]; }
message Int64List { repeated int64 value = 1 [packed = true]; }
message Feature {
  oneof kind {
    BytesList bytes_list = 1;
    FloatList float_list = 2;
    Int64List int64_list = 3;
  }
}
message Features { map<string, Feature> feature = 1; }
message Example { Features features = 1; }
`;

let exampleType: protobuf.Type | undefined;

function getExampleType(): protobuf.Type {
  if (exampleType === undefined) {
    const root = protobuf.parse(EXAMPLE_PROTO, { keepCase: true }).root;
    // Without resolving first, fields keep their unresolved (unpacked) encoding.
    root.resolveAll();
    exampleType = root.lookupType('tensorflow.Example');
  }
  return exampleType;
}

export type FeatureKind = 'bytes' | 'float' | 'int64';

export type ExampleFeature =
  | { kind: 'bytes'; values: Uint8Array[] }
  | { kind: 'float'; values: ArrayLike<number> }
  /** int64 values as JS numbers: exact up to 2^53, which covers ids and labels. */
  | { kind: 'int64'; values: ArrayLike<number> };

export type Example = Record<string, ExampleFeature>;

/** protobufjs gives int64 values as Long objects ({low, high}) when the `long` package is present. */
interface LongBits {
  low: number;
  high: number;
  unsigned?: boolean;
}

function toNumber(v: number | LongBits): number {
  if (typeof v === 'number') return v;
  return (v.unsigned === true ? v.high >>> 0 : v.high | 0) * 4294967296 + (v.low >>> 0);
}

interface DecodedFeature {
  bytes_list?: { value?: Uint8Array[] } | null;
  float_list?: { value?: number[] } | null;
  int64_list?: { value?: (number | LongBits)[] } | null;
}

interface DecodedExample {
  features?: { feature?: Record<string, DecodedFeature> };
}

export function encodeExample(example: Example): Uint8Array {
  const feature: Record<string, DecodedFeature> = {};
  for (const [key, f] of Object.entries(example)) {
    if (f.kind === 'bytes') feature[key] = { bytes_list: { value: f.values } };
    else if (f.kind === 'float') feature[key] = { float_list: { value: Array.from(f.values) } };
    else feature[key] = { int64_list: { value: Array.from(f.values) } };
  }
  const type = getExampleType();
  return type.encode(type.fromObject({ features: { feature } })).finish();
}

/**
 * Decodes one Example with the schema's generated decoder (general, slower: one JS number per
 * value). Kept as the reference the fast reader below is tested against.
 */
export function decodeExampleReflect(bytes: Uint8Array, where: string): Example {
  let message: DecodedExample;
  try {
    message = getExampleType().decode(bytes) as unknown as DecodedExample;
  } catch (error) {
    throw new DataError(`${where}: not a tf.train.Example: ${error instanceof Error ? error.message : String(error)}`);
  }
  const out: Example = {};
  for (const [key, f] of Object.entries(message.features?.feature ?? {})) {
    // Decoded messages hold null, not undefined, in the unset members of a oneof.
    if (f.bytes_list) out[key] = { kind: 'bytes', values: f.bytes_list.value ?? [] };
    else if (f.float_list) out[key] = { kind: 'float', values: f.float_list.value ?? [] };
    else if (f.int64_list) out[key] = { kind: 'int64', values: (f.int64_list.value ?? []).map(toNumber) };
    // A Feature with no list set is how TensorFlow writes an empty feature; it is read as an empty float list.
    else out[key] = { kind: 'float', values: [] };
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class MalformedExample extends Error {}

/** The end of a length-delimited field whose length has just been read. */
function endOf(reader: protobuf.Reader): number {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw new MalformedExample('a length-delimited field runs past the end of the record');
  return end;
}

function concatFloats(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function readFloatList(reader: protobuf.Reader, end: number): Float32Array {
  const parts: Float32Array[] = [];
  const single: number[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== 1) {
      reader.skipType(tag & 7);
      continue;
    }
    if ((tag & 7) === WIRE_LEN) {
      const stop = endOf(reader);
      const length = stop - reader.pos;
      if (length % 4 !== 0) throw new MalformedExample('a packed float list is not a whole number of floats');
      // One copy into an aligned buffer replaces a JS call per value: this is where decoding spends its time.
      const bytes = new Uint8Array(length);
      bytes.set(reader.buf.subarray(reader.pos, stop));
      if (LITTLE_ENDIAN) parts.push(new Float32Array(bytes.buffer, 0, length / 4));
      else {
        const view = new DataView(bytes.buffer, bytes.byteOffset, length);
        parts.push(Float32Array.from({ length: length / 4 }, (_, i) => view.getFloat32(4 * i, true)));
      }
      reader.pos = stop;
    } else if ((tag & 7) === WIRE_FIXED32) single.push(reader.float());
    else throw new MalformedExample(`a float list value has wire type ${tag & 7}`);
  }
  if (single.length > 0) parts.push(Float32Array.from(single));
  return concatFloats(parts);
}

function readInt64List(reader: protobuf.Reader, end: number): number[] {
  const values: number[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== 1) {
      reader.skipType(tag & 7);
      continue;
    }
    if ((tag & 7) === WIRE_LEN) {
      const stop = endOf(reader);
      while (reader.pos < stop) values.push(toNumber(reader.int64()));
      if (reader.pos !== stop) throw new MalformedExample('a packed int64 list ends inside a value');
    } else if ((tag & 7) === WIRE_VARINT) values.push(toNumber(reader.int64()));
    else throw new MalformedExample(`an int64 list value has wire type ${tag & 7}`);
  }
  return values;
}

function readBytesList(reader: protobuf.Reader, end: number): Uint8Array[] {
  const values: Uint8Array[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === WIRE_LEN) values.push(reader.bytes());
    else reader.skipType(tag & 7);
  }
  return values;
}

function readFeature(reader: protobuf.Reader, end: number): ExampleFeature {
  // Like the generated decoder: the last list member present wins.
  let feature: ExampleFeature = { kind: 'float', values: [] };
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field >= 1 && field <= 3) {
      if ((tag & 7) !== WIRE_LEN) throw new MalformedExample(`Feature field ${field} has wire type ${tag & 7}`);
      const stop = endOf(reader);
      if (field === 1) feature = { kind: 'bytes', values: readBytesList(reader, stop) };
      else if (field === 2) feature = { kind: 'float', values: readFloatList(reader, stop) };
      else feature = { kind: 'int64', values: readInt64List(reader, stop) };
      if (reader.pos !== stop) throw new MalformedExample('a list ends inside a value');
    } else reader.skipType(tag & 7);
  }
  return feature;
}

function readFeatures(reader: protobuf.Reader, end: number, out: Example): void {
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== 1 || (tag & 7) !== WIRE_LEN) {
      reader.skipType(tag & 7);
      continue;
    }
    const stop = endOf(reader);
    let key = '';
    let feature: ExampleFeature = { kind: 'float', values: [] };
    while (reader.pos < stop) {
      const entryTag = reader.uint32();
      if (entryTag === ((1 << 3) | WIRE_LEN)) key = reader.string();
      else if (entryTag === ((2 << 3) | WIRE_LEN)) feature = readFeature(reader, endOf(reader));
      else reader.skipType(entryTag & 7);
    }
    if (reader.pos !== stop) throw new MalformedExample('a feature map entry ends inside a field');
    out[key] = feature;
  }
}

/**
 * Decodes one Example, reading the wire format with protobufjs's Reader and taking packed float
 * lists as whole arrays. Packed and unpacked lists both decode; unknown fields are skipped.
 * `where` (file and offset) labels errors.
 */
export function decodeExample(bytes: Uint8Array, where: string): Example {
  const out: Example = {};
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === WIRE_LEN) {
        const end = endOf(reader);
        readFeatures(reader, end, out);
      } else reader.skipType(tag & 7);
    }
  } catch (error) {
    throw new DataError(`${where}: not a tf.train.Example: ${error instanceof Error ? error.message : String(error)}`);
  }
  return out;
}
