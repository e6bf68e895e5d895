import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { DataError } from '@dlexp/core';
import { describeFsError } from './files';

/**
 * TFRecord framing: each record is
 *   uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data.
 * The CRC is masked (rotated and offset) because a CRC over data that itself holds CRCs is weak.
 */

const HEADER = 12;
const FOOTER = 4;
/** Records above this are refused as corrupt rather than allocated (TensorFlow's own limit is similar). */
export const MAX_RECORD_BYTES = 1 << 30;

export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc(crc32c(bytes));
}

/** One record's bytes, framed. */
export function encodeTFRecord(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + data.length + FOOTER);
  out.writeUInt32LE(data.length >>> 0, 0);
  out.writeUInt32LE(Math.floor(data.length / 0x100000000), 4);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, HEADER);
  out.writeUInt32LE(maskedCrc32c(data), HEADER + data.length);
  return out;
}

export interface TFRecord {
  /** Byte offset of the record's header in its file. */
  offset: number;
  /** Byte offset just after the record: where the next one starts. */
  end: number;
  data: Uint8Array;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

async function openForReading(file: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new DataError(`${file}: cannot open: ${describeFsError(error)}`);
  }
  return { handle, size: (await handle.stat()).size };
}

/**
 * Validates the header at `at` of `buf` (the record starting at file offset `offset`) and
 * returns the data length. `available` is how many bytes the file still has from `offset`.
 */
function checkHeader(file: string, buf: Uint8Array, at: number, offset: number, available: number): number {
  if (available < HEADER) {
    throw new DataError(`${file}: truncated record at byte offset ${offset}: the header needs ${HEADER} bytes, the file has ${available} left`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + at, HEADER);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const stored = view.getUint32(8, true);
  const computed = maskedCrc32c(buf.subarray(at, at + 8));
  if (stored !== computed) {
    throw new DataError(`${file}: corrupt record at byte offset ${offset}: length CRC mismatch (stored ${hex(stored)}, computed ${hex(computed)})`);
  }
  const length = high * 0x100000000 + low;
  if (length > MAX_RECORD_BYTES) throw new DataError(`${file}: record at byte offset ${offset} declares ${length} bytes, more than the ${MAX_RECORD_BYTES} accepted`);
  if (HEADER + length + FOOTER > available) {
    throw new DataError(
      `${file}: truncated record at byte offset ${offset}: it declares ${length} data bytes (${HEADER + length + FOOTER} with framing), the file has ${available} left`,
    );
  }
  return length;
}

function checkData(file: string, buf: Uint8Array, at: number, length: number, offset: number): Uint8Array {
  const data = buf.subarray(at + HEADER, at + HEADER + length);
  const stored = new DataView(buf.buffer, buf.byteOffset + at + HEADER + length, FOOTER).getUint32(0, true);
  const computed = maskedCrc32c(data);
  if (stored !== computed) {
    throw new DataError(
      `${file}: corrupt record at byte offset ${offset}: data CRC mismatch (stored ${hex(stored)}, computed ${hex(computed)}; data starts at byte ${offset + HEADER})`,
    );
  }
  return data;
}

/**
 * The records of a file in order, from byte `from` (a record boundary, e.g. a saved `end`),
 * read in chunks of `chunkBytes`: memory stays bounded by the chunk and the largest record,
 * whatever the file size. Every CRC is checked; the data of a record stays valid after the loop
 * moves on (chunks are never reused).
 */
export async function* readTFRecords(file: string, from = 0, chunkBytes = 4 << 20): AsyncGenerator<TFRecord> {
  const { handle, size } = await openForReading(file);
  try {
    if (from > size) throw new DataError(`${file}: position ${from} is past the end of the file (${size} bytes)`);
    let buf = Buffer.alloc(0);
    let bufStart = from;
    let at = 0;
    let fileOffset = from;
    const ensure = async (needed: number): Promise<void> => {
      const have = buf.length - at;
      if (have >= needed) return;
      const want = Math.min(Math.max(needed, chunkBytes), size - (bufStart + buf.length) + have);
      const next = Buffer.allocUnsafe(want);
      buf.copy(next, 0, at);
      let filled = have;
      while (filled < want) {
        const { bytesRead } = await handle.read(next, filled, want - filled, bufStart + buf.length + (filled - have));
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      bufStart += at;
      buf = next.subarray(0, filled);
      at = 0;
    };
    while (fileOffset < size) {
      const available = size - fileOffset;
      await ensure(Math.min(HEADER, available));
      const length = checkHeader(file, buf, at, fileOffset, available);
      await ensure(HEADER + length + FOOTER);
      const data = checkData(file, buf, at, length, fileOffset);
      const end = fileOffset + HEADER + length + FOOTER;
      yield { offset: fileOffset, end, data };
      at += HEADER + length + FOOTER;
      fileOffset = end;
    }
  } finally {
    await handle.close();
  }
}

/** The single record whose header starts at `offset`. */
export async function readTFRecordAt(file: string, offset: number): Promise<Uint8Array> {
  const { handle, size } = await openForReading(file);
  try {
    const head = Buffer.alloc(Math.min(HEADER, Math.max(0, size - offset)));
    await handle.read(head, 0, head.length, offset);
    const length = checkHeader(file, head, 0, offset, size - offset);
    const whole = Buffer.allocUnsafe(HEADER + length + FOOTER);
    head.copy(whole, 0);
    await handle.read(whole, HEADER, length + FOOTER, offset + HEADER);
    return checkData(file, whole, 0, length, offset);
  } finally {
    await handle.close();
  }
}

/**
 * Writes records to `file` atomically: into a temporary file beside it, renamed over `file` only
 * once everything is written, so a crash never leaves a half-written file under the final name.
 * Returns the number of records written.
 */
export async function writeTFRecordFile(file: string, records: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<number> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'w');
  } catch (error) {
    throw new DataError(`${file}: cannot write: ${describeFsError(error)}`);
  }
  let count = 0;
  try {
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      await handle.write(Buffer.concat(pending, pendingBytes));
      pending.length = 0;
      pendingBytes = 0;
    };
    for await (const data of records) {
      const framed = encodeTFRecord(data);
      pending.push(framed);
      pendingBytes += framed.length;
      count++;
      if (pendingBytes >= 1 << 20) await flush();
    }
    await flush();
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await rename(temp, file);
  return count;
}
