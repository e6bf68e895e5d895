/**
 * A minimal protocol-buffer wire encoder: just what the TensorBoard messages need.
 *
 * Every field is written when its method is called; proto3's "omit the default" rule is applied by
 * the message encoders, because members of a `oneof` (a scalar's `simple_value` of 0, say) must
 * be written even when they hold the default.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const TWO_POW_64 = 1n << 64n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

export class ProtoWriter {
  private buffer = Buffer.allocUnsafe(256);
  private length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /** An unsigned varint below 2^53 (field tags, lengths, enum values, non-negative ints). */
  private rawVarint(value: number): void {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buffer[this.length++] = v;
  }

  /** A varint of a 64-bit two's-complement value: negative numbers take ten bytes, as in protobuf. */
  private rawVarint64(value: bigint): void {
    let v = value < 0n ? value + TWO_POW_64 : value;
    this.reserve(10);
    while (v >= 0x80n) {
      this.buffer[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.length++] = Number(v);
  }

  private tag(field: number, wireType: number): void {
    this.rawVarint(field * 8 + wireType);
  }

  /** uint32/uint64/enum/bool fields holding a non-negative integer. */
  uint(field: number, value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`field ${field}: ${value} is not a non-negative integer`);
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  /** int32/int64 fields: any integer in int64's range, negatives as ten-byte varints. */
  int64(field: number, value: number | bigint): this {
    const v = typeof value === 'bigint' ? value : BigInt(value);
    if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`field ${field}: ${value} is outside int64's range`);
    this.tag(field, WIRE_VARINT);
    this.rawVarint64(v);
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.uint(field, value ? 1 : 0);
  }

  double(field: number, value: number): this {
    this.tag(field, WIRE_FIXED64);
    this.reserve(8);
    this.buffer.writeDoubleLE(value, this.length);
    this.length += 8;
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    this.reserve(4);
    this.buffer.writeFloatLE(value, this.length);
    this.length += 4;
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  /** An embedded message, built by `build` on a fresh writer. */
  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  packedDoubles(field: number, values: ArrayLike<number>): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(values.length * 8);
    this.reserve(values.length * 8);
    for (let i = 0; i < values.length; i++) {
      this.buffer.writeDoubleLE(values[i]!, this.length);
      this.length += 8;
    }
    return this;
  }

  packedFloats(field: number, values: ArrayLike<number>): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.rawVarint(values.length * 4);
    this.reserve(values.length * 4);
    for (let i = 0; i < values.length; i++) {
      this.buffer.writeFloatLE(values[i]!, this.length);
      this.length += 4;
    }
    return this;
  }

  /** Packed int64 (or int32/enum/bool) values. */
  packedInt64s(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const value of values) {
      const v = typeof value === 'bigint' ? value : BigInt(value);
      if (v < INT64_MIN || v > INT64_MAX) throw new RangeError(`field ${field}: ${value} is outside int64's range`);
      inner.rawVarint64(v);
    }
    return this.bytes(field, inner.finish());
  }

  /** The bytes written so far (a copy: the writer may be reused). */
  finish(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buffer, 0, this.length);
  }
}
