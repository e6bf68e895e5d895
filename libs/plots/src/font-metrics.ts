import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Text widths from a TrueType font's own tables (cmap → glyph, hmtx → advance width), so that
 * Vega lays out axes and legends for the font the PNG is drawn with. Without a canvas, Vega
 * guesses 0.8 em per character, which cuts labels such as `categoricalCrossentropy` short.
 * Kerning is ignored: a fraction of a pixel per label.
 */

export interface FontMetrics {
  unitsPerEm: number;
  /** Advance width of a code point in font units (the missing glyph's for unmapped ones). */
  advance(codePoint: number): number;
}

interface Table {
  offset: number;
  length: number;
}

function tables(font: Buffer, file: string): Map<string, Table> {
  if (font.length < 12) throw new Error(`${file}: too short to be a TrueType font`);
  const count = font.readUInt16BE(4);
  const found = new Map<string, Table>();
  for (let i = 0; i < count; i++) {
    const record = 12 + 16 * i;
    if (record + 16 > font.length) throw new Error(`${file}: table directory ends early at offset ${record}`);
    const offset = font.readUInt32BE(record + 8);
    const length = font.readUInt32BE(record + 12);
    if (offset + length > font.length) throw new Error(`${file}: table ${font.toString('latin1', record, record + 4)} at offset ${offset} runs past the end`);
    found.set(font.toString('latin1', record, record + 4), { offset, length });
  }
  for (const tag of ['head', 'hhea', 'hmtx', 'cmap']) if (!found.has(tag)) throw new Error(`${file}: no '${tag}' table`);
  return found;
}

/** A cmap subtable of format 4 (Unicode BMP) or 12 (full Unicode), as a code point → glyph lookup. */
function glyphLookup(font: Buffer, cmap: Table, file: string): (codePoint: number) => number {
  const count = font.readUInt16BE(cmap.offset + 2);
  let best: { format: number; offset: number } | undefined;
  for (let i = 0; i < count; i++) {
    const record = cmap.offset + 4 + 8 * i;
    const platform = font.readUInt16BE(record);
    const encoding = font.readUInt16BE(record + 2);
    const offset = cmap.offset + font.readUInt32BE(record + 4);
    const format = font.readUInt16BE(offset);
    const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
    if (!unicode || (format !== 4 && format !== 12)) continue;
    if (best === undefined || format > best.format) best = { format, offset };
  }
  if (best === undefined) throw new Error(`${file}: no Unicode cmap of format 4 or 12`);
  const at = best.offset;
  if (best.format === 12) {
    const groups = font.readUInt32BE(at + 12);
    return (codePoint) => {
      for (let g = 0; g < groups; g++) {
        const group = at + 16 + 12 * g;
        const start = font.readUInt32BE(group);
        if (codePoint < start) return 0;
        if (codePoint <= font.readUInt32BE(group + 4)) return font.readUInt32BE(group + 8) + codePoint - start;
      }
      return 0;
    };
  }
  const segments = font.readUInt16BE(at + 6) / 2;
  const ends = at + 14;
  const starts = ends + 2 * segments + 2;
  const deltas = starts + 2 * segments;
  const rangeOffsets = deltas + 2 * segments;
  return (codePoint) => {
    if (codePoint > 0xffff) return 0;
    for (let s = 0; s < segments; s++) {
      if (codePoint > font.readUInt16BE(ends + 2 * s)) continue;
      const start = font.readUInt16BE(starts + 2 * s);
      if (codePoint < start) return 0;
      const delta = font.readUInt16BE(deltas + 2 * s);
      const rangeOffset = font.readUInt16BE(rangeOffsets + 2 * s);
      if (rangeOffset === 0) return (codePoint + delta) & 0xffff;
      const glyphAt = rangeOffsets + 2 * s + rangeOffset + 2 * (codePoint - start);
      const glyph = font.readUInt16BE(glyphAt);
      return glyph === 0 ? 0 : (glyph + delta) & 0xffff;
    }
    return 0;
  };
}

export function readFontMetrics(file: string): FontMetrics {
  const font = readFileSync(file);
  const found = tables(font, file);
  const head = found.get('head')!;
  const hhea = found.get('hhea')!;
  const hmtx = found.get('hmtx')!;
  const unitsPerEm = font.readUInt16BE(head.offset + 18);
  const metricsCount = font.readUInt16BE(hhea.offset + 34);
  if (unitsPerEm === 0 || metricsCount === 0 || 4 * metricsCount > hmtx.length) throw new Error(`${file}: inconsistent head/hhea/hmtx tables`);
  const glyphOf = glyphLookup(font, found.get('cmap')!, file);
  const cache = new Map<number, number>();
  return {
    unitsPerEm,
    advance(codePoint) {
      let width = cache.get(codePoint);
      if (width === undefined) {
        const glyph = Math.min(glyphOf(codePoint), metricsCount - 1);
        width = font.readUInt16BE(hmtx.offset + 4 * glyph);
        cache.set(codePoint, width);
      }
      return width;
    },
  };
}

export interface TextStyle {
  fontSize: number;
  bold: boolean;
}

export type TextMeasure = (text: string, style: TextStyle) => number;

/** Measures with DejaVu Sans (and its bold face) from the first folder that holds them, if any does. */
export function dejaVuMeasure(fontDirs: string[]): TextMeasure | undefined {
  const dir = fontDirs.find((d) => existsSync(join(d, 'DejaVuSans.ttf')));
  if (dir === undefined) return undefined;
  const regular = readFontMetrics(join(dir, 'DejaVuSans.ttf'));
  const bold = existsSync(join(dir, 'DejaVuSans-Bold.ttf')) ? readFontMetrics(join(dir, 'DejaVuSans-Bold.ttf')) : regular;
  return (text, style) => {
    const metrics = style.bold ? bold : regular;
    let units = 0;
    for (const character of text) units += metrics.advance(character.codePointAt(0)!);
    return (units * style.fontSize) / metrics.unitsPerEm;
  };
}

/** Without the font: about 0.6 em per character, DejaVu Sans' average on labels like these. */
export const estimateMeasure: TextMeasure = (text, style) => 0.6 * [...text].length * style.fontSize * (style.bold ? 1.1 : 1);
