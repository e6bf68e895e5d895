import { DataError } from '@dlexp/core';

/**
 * The protocol buffer wire format, just what GraphDef needs: a reader that knows where it is in
 * the file (every problem names the byte offset) and a writer that builds messages bottom up.
 * Field numbers and types are the caller's business; this file knows only tags and encodings.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

/** A field's tag as read: its number, wire type and the offset of the tag in the file. */
export interface FieldTag {
  field: number;
  wire: number;
  at: number;
}

/** Reads one message (or a nested one: a window of the same bytes) front to back. */
export class WireReader {
  private position: number;

  /**
   * @param bytes the whole file, so that offsets are file offsets
   * @param file named in every error
   * @param start first byte of this message; `end` one past its last byte
   */
  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.position = start;
  }

  get offset(): number {
    return this.position;
  }

  done(): boolean {
    return this.position >= this.end;
  }

  fail(message: string, at = this.position): never {
    throw new DataError(`${this.file}: byte ${at}: ${message}`);
  }

  tag(): FieldTag {
    const at = this.position;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) this.fail('field number 0 is not valid (corrupt or not a protocol buffer)', at);
    if (wire !== WIRE_VARINT && wire !== WIRE_FIXED64 && wire !== WIRE_BYTES && wire !== WIRE_FIXED32) {
      this.fail(`wire type ${wire} of field ${field} is not valid (corrupt or not a protocol buffer)`, at);
    }
    return { field, wire, at };
  }

  /** An unsigned varint as a JS number; exact below 2^53, which covers sizes, enums and dims. */
  varint(): number {
    return Number(this.bigVarint());
  }

  /** An int64/int32 varint: negative values come as 10-byte two's complement. */
  signedVarint(): number {
    return Number(BigInt.asIntN(64, this.bigVarint()));
  }

  private bigVarint(): bigint {
    const at = this.position;
    // Numbers are exact for the first 7 groups (49 bits); longer varints (negative int64s) go on in BigInt.
    let small = 0;
    let factor = 1;
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) this.fail('truncated in a varint', at);
      const b = this.bytes[this.position++]!;
      if (i < 7) {
        small += (b & 0x7f) * factor;
        factor *= 128;
        if ((b & 0x80) === 0) return BigInt(small);
        continue;
      }
      let big = BigInt(small);
      let shift = BigInt(7 * i);
      let current = b;
      for (;;) {
        big += BigInt(current & 0x7f) << shift;
        if ((current & 0x80) === 0) return BigInt.asUintN(64, big);
        shift += 7n;
        if (shift >= 70n) this.fail('varint longer than 10 bytes', at);
        if (this.position >= this.end) this.fail('truncated in a varint', at);
        current = this.bytes[this.position++]!;
      }
    }
    return this.fail('varint longer than 10 bytes', at);
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  fixed32(): DataView {
    return this.view(4);
  }

  float(): number {
    return this.view(4).getFloat32(0, true);
  }

  double(): number {
    return this.view(8).getFloat64(0, true);
  }

  private view(size: number): DataView {
    if (this.position + size > this.end) this.fail(`truncated: ${size} bytes needed, ${this.end - this.position} left`);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.position, size);
    this.position += size;
    return view;
  }

  /** A length-delimited field's bounds; the reader moves past it. */
  span(): { start: number; end: number } {
    const at = this.position;
    const length = this.varint();
    const start = this.position;
    if (length > this.end - start) this.fail(`truncated: a field of ${length} bytes starting at byte ${start} runs past the end (${this.end})`, at);
    this.position = start + length;
    return { start, end: start + length };
  }

  bytesField(): Uint8Array {
    const { start, end } = this.span();
    return this.bytes.subarray(start, end);
  }

  string(): string {
    return utf8.decode(this.bytesField());
  }

  /** A reader over a nested message. */
  message(): WireReader {
    const { start, end } = this.span();
    return new WireReader(this.bytes, this.file, start, end);
  }

  /** The values of a repeated scalar field, packed (one length-delimited run) or not (one value). */
  repeated<T>(wire: number, scalarWire: number, read: (r: WireReader) => T): T[] {
    if (wire !== WIRE_BYTES) {
      if (wire !== scalarWire) this.fail(`wire type ${wire} where ${scalarWire} was expected`);
      return [read(this)];
    }
    const inner = this.message();
    const values: T[] = [];
    while (!inner.done()) values.push(read(inner));
    return values;
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_FIXED64) this.view(8);
    else if (wire === WIRE_FIXED32) this.view(4);
    else this.span();
  }

  /** Checks the wire type of a field the caller knows, so a mismatch is an error, not garbage. */
  expect(tag: FieldTag, wire: number): void {
    if (tag.wire !== wire) this.fail(`field ${tag.field} has wire type ${tag.wire}, expected ${wire}`, tag.at);
  }
}

/** Builds one message; nested messages are built by their own writer and added as bytes. */
export class WireWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.length += this.scratch.length;
    this.scratch = [];
  }

  private pushVarint(value: number): void {
    if (value >= 0 && value < 2 ** 49) {
      let v = value;
      while (v >= 128) {
        this.scratch.push((v % 128) | 0x80);
        v = Math.floor(v / 128);
      }
      this.scratch.push(v);
      return;
    }
    // Negative int64/int32 values are written as 10-byte two's complement, as protobuf does.
    let v = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    while (v >= 128n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private key(field: number, wire: number): void {
    this.pushVarint(field * 8 + wire);
  }

  varint(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    this.pushVarint(value);
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.varint(field, value ? 1 : 0);
  }

  float(field: number, value: number): this {
    this.key(field, WIRE_FIXED32);
    const buffer = new DataView(new ArrayBuffer(4));
    buffer.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.scratch.push(buffer.getUint8(i));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, WIRE_BYTES);
    this.pushVarint(value.length);
    this.flushScratch();
    this.chunks.push(value);
    this.length += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8Encoder.encode(value));
  }

  message(field: number, inner: WireWriter): this {
    return this.bytes(field, inner.finish());
  }

  /** A packed run of varints (int32, int64, bool, enum). */
  packedVarints(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const inner = new WireWriter();
    for (const v of values) inner.pushVarint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return this.bytes(field, data);
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
