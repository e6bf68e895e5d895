import { inflateSync } from 'node:zlib';
import { createCanvas, loadImage, type Image } from '@napi-rs/canvas';
import { crc32 } from '@node-rs/crc32';
import { DataError } from '@dlexp/core';

export type ChannelCount = 1 | 3;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

type Checked = { bytes: Uint8Array; problem?: undefined } | { problem: string; bytes?: undefined };

/**
 * The decoder behind @napi-rs/canvas crashes the whole process (SIGSEGV) on some malformed
 * files (truncated PNGs, broken JPEG headers or Huffman tables, corrupt ICC profiles, formats it
 * sniffs but cannot decode), so every image is checked here first. What passes is rebuilt from
 * the parts needed to decode the pixels only: colour profiles, metadata and comments are dropped,
 * which also keeps pixel values as stored rather than colour-managed.
 */
export function sanitizeImage(bytes: Uint8Array): Checked {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return checkPng(bytes);
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return checkJpeg(bytes);
  return { problem: 'not a PNG or JPEG file (unknown signature)' };
}

/** What is wrong with an image file, or undefined when it can be decoded safely. */
export function imageProblem(bytes: Uint8Array): string | undefined {
  return sanitizeImage(bytes).problem;
}

const PNG_KEPT = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);

function checkPng(bytes: Uint8Array): Checked {
  const fail = (problem: string): Checked => ({ problem });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let header: { width: number; height: number; depth: number; color: number; interlace: number } | undefined;
  const idat: Uint8Array[] = [];
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  let ended = false;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) return fail(`PNG truncated in the chunk header at byte ${at}`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) return fail(`PNG truncated: chunk ${type} at byte ${at} needs ${length} data bytes`);
    const stored = view.getUint32(at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== stored) return fail(`PNG chunk ${type} at byte ${at} fails its CRC`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (header === undefined && type !== 'IHDR') return fail('PNG does not start with an IHDR chunk');
    if (type === 'IHDR') {
      if (header !== undefined) return fail('PNG has two IHDR chunks');
      if (length !== 13) return fail('PNG IHDR chunk has the wrong length');
      const d = new DataView(data.buffer, data.byteOffset, 13);
      header = { width: d.getUint32(0), height: d.getUint32(4), depth: data[8]!, color: data[9]!, interlace: data[12]! };
      if (header.width === 0 || header.height === 0) return fail('PNG has zero width or height');
      if (header.width * header.height > 1 << 28) return fail(`PNG of ${header.width}x${header.height} pixels is too large`);
      const depths = header.color === 0 ? [1, 2, 4, 8, 16] : header.color === 3 ? [1, 2, 4, 8] : [8, 16];
      if (PNG_CHANNELS[header.color] === undefined || !depths.includes(header.depth)) return fail('PNG has an invalid color type or bit depth');
      if (data[10] !== 0 || data[11] !== 0 || header.interlace > 1) return fail('PNG has an unknown compression, filter or interlace method');
    } else if (type === 'IDAT') idat.push(data);
    if (PNG_KEPT.has(type)) kept.push(bytes.subarray(at, at + 12 + length));
    at += 12 + length;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (header === undefined) return fail('PNG has no IHDR chunk');
  if (idat.length === 0) return fail('PNG has no image data (IDAT)');
  if (!ended) return fail('PNG truncated: no IEND chunk');
  let pixels: Buffer;
  try {
    pixels = inflateSync(Buffer.concat(idat));
  } catch {
    return fail('PNG image data does not decompress');
  }
  if (header.interlace === 0) {
    const rowBytes = Math.ceil((header.width * PNG_CHANNELS[header.color]! * header.depth) / 8);
    if (pixels.length < header.height * (rowBytes + 1)) return fail('PNG image data is shorter than its dimensions need');
  }
  return { bytes: Buffer.concat(kept) };
}

const SOF_SUPPORTED = new Set([0xc0, 0xc1, 0xc2]);
const SOF_ANY = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
/** Segments the decoder needs before the first scan: tables, frame header, restart interval, JFIF and Adobe markers. */
const JPEG_KEPT = new Set([0xdb, 0xc4, 0xc0, 0xc1, 0xc2, 0xdd, 0xe0, 0xee]);

/** The checks libjpeg makes before it errors out on a Huffman table (which the decoder above does not survive). */
function huffmanProblem(seg: Uint8Array, p: number, isDC: boolean): string | undefined {
  let code = 0;
  let last = 0;
  for (let k = 1; k <= 16; k++) if (seg[p + k]! > 0) last = k;
  for (let k = 1; k <= last; k++) {
    code += seg[p + k]!;
    if (code >= 1 << k) return 'JPEG Huffman table is oversubscribed';
    code <<= 1;
  }
  if (isDC) {
    let symbols = 0;
    for (let k = 1; k <= 16; k++) symbols += seg[p + k]!;
    for (let i = 0; i < symbols; i++) if (seg[p + 17 + i]! > 15) return 'JPEG DC Huffman table has a symbol above 15';
  }
  return undefined;
}

function checkJpeg(bytes: Uint8Array): Checked {
  const fail = (problem: string): Checked => ({ problem });
  let at = 2;
  let components: number[] | undefined;
  let progressive = false;
  const quantUsed: number[] = [];
  const quantDefined = new Set<number>();
  const huffTables = new Set<number>();
  const kept: Uint8Array[] = [bytes.subarray(0, 2)];
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) return fail(`JPEG has no marker at byte ${at}`);
    while (bytes[at] === 0xff) at++;
    if (at >= bytes.length) return fail('JPEG truncated after a marker prefix');
    const marker = bytes[at++]!;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9) return fail('JPEG ends before its image data');
    if (at + 2 > bytes.length) return fail(`JPEG truncated in the segment at byte ${at - 2}`);
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (length < 2 || at + length > bytes.length) return fail(`JPEG truncated: the segment at byte ${at - 2} needs ${length} bytes`);
    const seg = bytes.subarray(at + 2, at + length);
    if (SOF_ANY.has(marker)) {
      if (!SOF_SUPPORTED.has(marker)) return fail(`JPEG coding process 0x${marker.toString(16)} is not supported (baseline, extended or progressive only)`);
      if (components !== undefined) return fail('JPEG has two frame headers');
      if (seg.length < 6) return fail('JPEG frame header is too short');
      if (seg[0] !== 8) return fail(`JPEG sample precision ${seg[0]} is not supported (8 bits only)`);
      const height = (seg[1]! << 8) | seg[2]!;
      const width = (seg[3]! << 8) | seg[4]!;
      const count = seg[5]!;
      if (height === 0 || width === 0) return fail('JPEG has zero width or height');
      if (![1, 3, 4].includes(count) || seg.length !== 6 + 3 * count) return fail('JPEG frame header has an invalid component list');
      progressive = marker === 0xc2;
      components = [];
      let blocks = 0;
      for (let c = 0; c < count; c++) {
        const h = seg[7 + 3 * c]! >> 4;
        const v = seg[7 + 3 * c]! & 15;
        if (h < 1 || h > 4 || v < 1 || v > 4) return fail('JPEG component has invalid sampling factors');
        if (seg[8 + 3 * c]! > 3) return fail('JPEG component names an invalid quantization table');
        quantUsed.push(seg[8 + 3 * c]!);
        blocks += h * v;
        components.push(seg[6 + 3 * c]!);
      }
      if (count > 1 && blocks > 10) return fail('JPEG sampling factors need more blocks per unit than allowed');
      if (components.length !== new Set(components).size) return fail('JPEG frame repeats a component id');
    } else if (marker === 0xdb) {
      let p = 0;
      while (p < seg.length) {
        const precision = seg[p]! >> 4;
        const id = seg[p]! & 15;
        if (precision > 1 || id > 3) return fail('JPEG quantization table header is invalid');
        quantDefined.add(id);
        p += 1 + 64 * (precision + 1);
      }
      if (p !== seg.length) return fail('JPEG quantization table is truncated');
    } else if (marker === 0xc4) {
      let p = 0;
      while (p < seg.length) {
        if (p + 17 > seg.length) return fail('JPEG Huffman table is truncated');
        let symbols = 0;
        for (let k = 1; k <= 16; k++) symbols += seg[p + k]!;
        if (seg[p]! >> 4 > 1 || (seg[p]! & 15) > 3) return fail('JPEG Huffman table header is invalid');
        if (symbols > 256 || p + 17 + symbols > seg.length) return fail('JPEG Huffman table is truncated or too large');
        const problem = huffmanProblem(seg, p, seg[p]! >> 4 === 0);
        if (problem !== undefined) return fail(problem);
        huffTables.add(seg[p]!);
        p += 17 + symbols;
      }
    } else if (marker === 0xdd) {
      if (seg.length !== 2) return fail('JPEG restart interval segment has the wrong length');
    } else if (marker === 0xee) {
      if (seg.length < 12) return fail('JPEG Adobe segment is too short');
    } else if (marker === 0xda) {
      if (components === undefined) return fail('JPEG scan comes before its frame header');
      for (const id of quantUsed) if (!quantDefined.has(id)) return fail(`JPEG quantization table ${id} is used but not defined`);
      const count = seg[0] ?? 0;
      if (count < 1 || count > 4 || seg.length !== 4 + 2 * count) return fail('JPEG scan header is invalid');
      const ss = seg[1 + 2 * count]!;
      const se = seg[2 + 2 * count]!;
      const approximation = seg[3 + 2 * count]!;
      if (!progressive && (ss !== 0 || se !== 63 || approximation !== 0)) return fail('JPEG sequential scan has invalid spectral parameters');
      if (progressive && (se > 63 || ss > se || (ss === 0 && se !== 0) || (approximation & 15) > 13)) return fail('JPEG progressive scan has invalid spectral parameters');
      for (let c = 0; c < count; c++) {
        if (!components.includes(seg[1 + 2 * c]!)) return fail('JPEG scan names a component the frame does not have');
        const tables = seg[2 + 2 * c]!;
        // Sequential scans need both tables; progressive ones use one kind per scan.
        if (!progressive && (!huffTables.has(tables >> 4) || !huffTables.has(0x10 | (tables & 15)))) {
          return fail('JPEG scan uses an undefined Huffman table');
        }
      }
      if (at + length >= bytes.length) return fail('JPEG has no image data after its scan header');
      kept.push(bytes.subarray(at - 2));
      return { bytes: Buffer.concat(kept) };
    }
    if (JPEG_KEPT.has(marker)) kept.push(Buffer.concat([Uint8Array.from([0xff, marker]), bytes.subarray(at, at + length)]));
    at += length;
  }
  return fail('JPEG has no image data');
}

export async function decodeImage(
  bytes: Uint8Array,
  height: number,
  width: number,
  channels: ChannelCount,
  scale: number,
  where: string,
): Promise<Float32Array> {
  const checked = sanitizeImage(bytes);
  if (checked.problem !== undefined) throw new DataError(`${where}: not a readable PNG or JPEG image: ${checked.problem}`);
  let image: Image;
  try {
    image = await loadImage(Buffer.from(checked.bytes.buffer, checked.bytes.byteOffset, checked.bytes.byteLength));
  } catch (error) {
    throw new DataError(`${where}: not a readable PNG or JPEG image: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (image.width === 0 || image.height === 0) throw new DataError(`${where}: the image is empty or could not be decoded`);
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0, width, height);
  return rgbaToFloat(ctx.getImageData(0, 0, width, height).data, channels, scale);
}

export function rgbaToFloat(rgba: Uint8ClampedArray, channels: ChannelCount, scale: number, out?: Float32Array, at = 0): Float32Array {
  const pixels = rgba.length / 4;
  const result = out ?? new Float32Array(pixels * channels);
  if (channels === 1) {
    for (let i = 0, j = 0; i < pixels; i++, j += 4) {
      result[at + i] = (0.299 * rgba[j]! + 0.587 * rgba[j + 1]! + 0.114 * rgba[j + 2]!) * scale;
    }
  } else {
    for (let i = 0, j = 0; i < pixels; i++, j += 4) {
      const o = at + 3 * i;
      result[o] = rgba[j]! * scale;
      result[o + 1] = rgba[j + 1]! * scale;
      result[o + 2] = rgba[j + 2]! * scale;
    }
  }
  return result;
}
