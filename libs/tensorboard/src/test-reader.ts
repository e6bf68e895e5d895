/**
 * An event-file reader for the tests, written from the formats' descriptions and sharing no code
 * with the writers: TFRecord framing (u64 length, masked CRC32C of it, data, masked CRC32C of the
 * data), CRC32C bit by bit, the protobuf wire format, and TensorBoard's field numbers typed in
 * from the .proto files. If the writer and this reader agree, both read the specs the same way.
 */

/** CRC32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's mask: rotate right by 15 bits, add a constant. */
export function maskForTest(crc: number): number {
  const rotated = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rotated + 0xa282ead8) % 0x100000000;
}

export interface FramedRecord {
  offset: number;
  length: number;
  data: Uint8Array;
}

export interface FramingResult {
  records: FramedRecord[];
  /** Bytes after the last complete record (a record cut short by a kill). */
  trailing: number;
}

/** Splits a file into records, checking both CRCs of each; a cut-off last record is reported, not read. */
export function readFraming(file: Uint8Array): FramingResult {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const records: FramedRecord[] = [];
  let at = 0;
  while (at < file.length) {
    if (file.length - at < 12) break;
    const low = view.getUint32(at, true);
    const high = view.getUint32(at + 4, true);
    const lengthCrc = view.getUint32(at + 8, true);
    if (lengthCrc !== maskForTest(crc32cBitwise(file.subarray(at, at + 8)))) throw new Error(`length CRC mismatch at byte ${at}`);
    const length = high * 2 ** 32 + low;
    if (file.length - at < 12 + length + 4) break;
    const data = file.subarray(at + 12, at + 12 + length);
    const dataCrc = view.getUint32(at + 12 + length, true);
    if (dataCrc !== maskForTest(crc32cBitwise(data))) throw new Error(`data CRC mismatch in the record at byte ${at}`);
    records.push({ offset: at, length, data });
    at += 12 + length + 4;
  }
  return { records, trailing: file.length - at };
}

export type WireField =
  | { wire: 0; varint: bigint }
  | { wire: 1; bytes: Uint8Array }
  | { wire: 2; bytes: Uint8Array }
  | { wire: 5; bytes: Uint8Array };

/** A decoded message: every occurrence of every field, in order. */
export type WireMessage = Map<number, WireField[]>;

function readVarint(bytes: Uint8Array, start: number): [bigint, number] {
  let value = 0n;
  let shift = 0n;
  let at = start;
  for (;;) {
    if (at >= bytes.length) throw new Error(`varint runs past the end at byte ${start}`);
    const byte = bytes[at++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7n;
    if (shift > 63n) throw new Error(`varint longer than ten bytes at byte ${start}`);
  }
}

export function decodeMessage(bytes: Uint8Array): WireMessage {
  const message: WireMessage = new Map();
  let at = 0;
  while (at < bytes.length) {
    const [key, afterKey] = readVarint(bytes, at);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    at = afterKey;
    let entry: WireField;
    if (wire === 0) {
      const [value, next] = readVarint(bytes, at);
      entry = { wire: 0, varint: value };
      at = next;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (at + size > bytes.length) throw new Error(`fixed field ${field} runs past the end`);
      entry = { wire, bytes: bytes.subarray(at, at + size) };
      at += size;
    } else if (wire === 2) {
      const [length, next] = readVarint(bytes, at);
      const end = next + Number(length);
      if (end > bytes.length) throw new Error(`field ${field} runs past the end`);
      entry = { wire: 2, bytes: bytes.subarray(next, end) };
      at = end;
    } else throw new Error(`unexpected wire type ${wire} for field ${field}`);
    const list = message.get(field) ?? [];
    list.push(entry);
    message.set(field, list);
  }
  return message;
}

function only(message: WireMessage, field: number): WireField | undefined {
  const list = message.get(field);
  if (list === undefined) return undefined;
  // proto3: for a scalar field the last occurrence wins.
  return list[list.length - 1];
}

export function has(message: WireMessage, field: number): boolean {
  return message.has(field);
}

export function varintField(message: WireMessage, field: number): bigint | undefined {
  const entry = only(message, field);
  if (entry === undefined) return undefined;
  if (entry.wire !== 0) throw new Error(`field ${field} is not a varint`);
  return entry.varint;
}

/** A signed int64 varint as a number. */
export function int64Field(message: WireMessage, field: number): number | undefined {
  const raw = varintField(message, field);
  if (raw === undefined) return undefined;
  return Number(BigInt.asIntN(64, raw));
}

export function doubleField(message: WireMessage, field: number): number | undefined {
  const entry = only(message, field);
  if (entry === undefined) return undefined;
  if (entry.wire !== 1) throw new Error(`field ${field} is not fixed64`);
  return new DataView(entry.bytes.buffer, entry.bytes.byteOffset, 8).getFloat64(0, true);
}

export function floatField(message: WireMessage, field: number): number | undefined {
  const entry = only(message, field);
  if (entry === undefined) return undefined;
  if (entry.wire !== 5) throw new Error(`field ${field} is not fixed32`);
  return new DataView(entry.bytes.buffer, entry.bytes.byteOffset, 4).getFloat32(0, true);
}

export function bytesFields(message: WireMessage, field: number): Uint8Array[] {
  return (message.get(field) ?? []).map((entry) => {
    if (entry.wire !== 2) throw new Error(`field ${field} is not length-delimited`);
    return entry.bytes;
  });
}

export function bytesField(message: WireMessage, field: number): Uint8Array | undefined {
  const list = bytesFields(message, field);
  return list[list.length - 1];
}

export function stringField(message: WireMessage, field: number): string | undefined {
  const bytes = bytesField(message, field);
  return bytes === undefined ? undefined : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

export function stringFields(message: WireMessage, field: number): string[] {
  return bytesFields(message, field).map((b) => new TextDecoder('utf-8', { fatal: true }).decode(b));
}

export function messageField(message: WireMessage, field: number): WireMessage | undefined {
  const bytes = bytesField(message, field);
  return bytes === undefined ? undefined : decodeMessage(bytes);
}

export function messageFields(message: WireMessage, field: number): WireMessage[] {
  return bytesFields(message, field).map(decodeMessage);
}

/** A packed repeated double field (all occurrences concatenated, as the spec says). */
export function packedDoubles(message: WireMessage, field: number): number[] {
  const out: number[] = [];
  for (const bytes of bytesFields(message, field)) {
    if (bytes.length % 8 !== 0) throw new Error(`packed doubles of field ${field} are not a multiple of 8 bytes`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < bytes.length; i += 8) out.push(view.getFloat64(i, true));
  }
  return out;
}

export function packedFloats(message: WireMessage, field: number): number[] {
  const out: number[] = [];
  for (const bytes of bytesFields(message, field)) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < bytes.length; i += 4) out.push(view.getFloat32(i, true));
  }
  return out;
}

export function packedVarints(message: WireMessage, field: number): bigint[] {
  const out: bigint[] = [];
  for (const bytes of bytesFields(message, field)) {
    let at = 0;
    while (at < bytes.length) {
      const [value, next] = readVarint(bytes, at);
      out.push(value);
      at = next;
    }
  }
  return out;
}

// ---- TensorBoard messages, field numbers from the .proto files ----

export interface TestHistogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

export interface TestTensor {
  dtype: number;
  shape: number[] | undefined;
  stringVal: string[];
  floatVal: number[];
}

export interface TestSummaryValue {
  tag: string;
  simpleValue?: number;
  histo?: TestHistogram;
  tensor?: TestTensor;
  pluginName?: string;
  pluginContent?: Uint8Array;
}

export interface TestEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  sourceWriter?: string;
  graphDef?: Uint8Array;
  sessionLogStatus?: number;
  summary?: TestSummaryValue[];
}

/** HistogramProto (histogram.proto): min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6, bucket 7. */
function readHistogram(message: WireMessage): TestHistogram {
  return {
    min: doubleField(message, 1) ?? 0,
    max: doubleField(message, 2) ?? 0,
    num: doubleField(message, 3) ?? 0,
    sum: doubleField(message, 4) ?? 0,
    sumSquares: doubleField(message, 5) ?? 0,
    bucketLimit: packedDoubles(message, 6),
    bucket: packedDoubles(message, 7),
  };
}

/** TensorProto (tensor.proto): dtype 1, tensor_shape 2 (dim 2 → size 1), float_val 5, string_val 8. */
function readTensor(message: WireMessage): TestTensor {
  const shapeMessage = messageField(message, 2);
  return {
    dtype: Number(varintField(message, 1) ?? 0n),
    shape: shapeMessage === undefined ? undefined : messageFields(shapeMessage, 2).map((dim) => int64Field(dim, 1) ?? 0),
    stringVal: stringFields(message, 8),
    floatVal: packedFloats(message, 5),
  };
}

/** Summary.Value (summary.proto): tag 1, simple_value 2, histo 5, tensor 8, metadata 9 (plugin_data 1 → plugin_name 1, content 2). */
export function readSummaryValue(message: WireMessage): TestSummaryValue {
  const value: TestSummaryValue = { tag: stringField(message, 1) ?? '' };
  const simple = floatField(message, 2);
  if (simple !== undefined) value.simpleValue = simple;
  const histo = messageField(message, 5);
  if (histo !== undefined) value.histo = readHistogram(histo);
  const tensor = messageField(message, 8);
  if (tensor !== undefined) value.tensor = readTensor(tensor);
  const pluginData = messageField(messageField(message, 9) ?? new Map(), 1);
  if (pluginData !== undefined) {
    value.pluginName = stringField(pluginData, 1) ?? '';
    value.pluginContent = bytesField(pluginData, 2) ?? new Uint8Array(0);
  }
  return value;
}

/** Event (event.proto): wall_time 1, step 2, file_version 3, graph_def 4, summary 5 (value 1), session_log 7 (status 1), source_metadata 10 (writer 1). */
export function readEvent(bytes: Uint8Array): TestEvent {
  const message = decodeMessage(bytes);
  const event: TestEvent = { wallTime: doubleField(message, 1) ?? 0, step: int64Field(message, 2) ?? 0 };
  const fileVersion = stringField(message, 3);
  if (fileVersion !== undefined) event.fileVersion = fileVersion;
  const source = messageField(message, 10);
  if (source !== undefined) event.sourceWriter = stringField(source, 1) ?? '';
  const graphDef = bytesField(message, 4);
  if (graphDef !== undefined) event.graphDef = graphDef;
  const summary = messageField(message, 5);
  if (summary !== undefined) event.summary = messageFields(summary, 1).map(readSummaryValue);
  const sessionLog = messageField(message, 7);
  if (sessionLog !== undefined) event.sessionLogStatus = Number(varintField(sessionLog, 1) ?? 0n);
  const known = new Set([1, 2, 3, 4, 5, 7, 10]);
  for (const field of message.keys()) if (!known.has(field)) throw new Error(`unexpected Event field ${field}`);
  return event;
}

/** Every complete event of a file, with the framing result. */
export function readEventFile(file: Uint8Array): { events: TestEvent[]; records: FramedRecord[]; trailing: number } {
  const framing = readFraming(file);
  return { events: framing.records.map((r) => readEvent(r.data)), records: framing.records, trailing: framing.trailing };
}

/** `tag → [step, value]` for every simple_value in the events. */
export function scalarSeries(events: readonly TestEvent[]): Map<string, [number, number][]> {
  const series = new Map<string, [number, number][]>();
  for (const event of events) {
    for (const value of event.summary ?? []) {
      if (value.simpleValue === undefined) continue;
      const list = series.get(value.tag) ?? [];
      list.push([event.step, value.simpleValue]);
      series.set(value.tag, list);
    }
  }
  return series;
}
