import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import type { TopLevelSpec } from 'vega-lite';
import { dejaVuMeasure, readFontMetrics } from './font-metrics';
import { DEFAULT_FONT_DIRS, renderPng, renderSvg, scopeSvgIds, svgToPng } from './render';
import { metricHistorySpec } from './specs';
import { temporaryFolder } from './test-fixtures';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const haveDejaVu = existsSync(join(DEFAULT_FONT_DIRS[0]!, 'DejaVuSans.ttf'));

const spec = metricHistorySpec({ metric: 'loss', points: Array.from({ length: 20 }, (_, i) => ({ step: i + 1, split: 'train', value: 1 / (i + 1) })) });

function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  // IHDR is the first chunk: 8 signature bytes, 4 length, 4 type, then width and height.
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('rendering', () => {
  it('rasterizes to a PNG with the signature and the SVG size times the scale', async () => {
    const svg = await renderSvg(spec);
    const width = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)![1]);
    const height = Number(/height="(\d+(?:\.\d+)?)"/.exec(svg)![1]);
    const png = svgToPng(svg, { scale: 2 });
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const size = pngSize(png);
    expect(Math.abs(size.width - 2 * width)).toBeLessThanOrEqual(1);
    expect(Math.abs(size.height - 2 * height)).toBeLessThanOrEqual(1);
    // A plausible picture: more than a blank image's few hundred bytes, far less than raw pixels.
    expect(png.length).toBeGreaterThan(5_000);
    expect(png.length).toBeLessThan(size.width * size.height * 4);
    writeFileSync(join(temporaryFolder('png'), 'loss.png'), png);
  });

  it('renders a spec straight to PNG at scale 1', async () => {
    const png = await renderPng(spec, { scale: 1 });
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(pngSize(png).width).toBeGreaterThan(400);
  });

  it('loads nothing from a URL: a spec asking for remote data fails with a clear error', async () => {
    const remote: TopLevelSpec = { data: { url: 'https://example.com/data.json' }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' } } };
    await expect(renderSvg(remote)).rejects.toThrow(/charts load no external data \(asked for https:\/\/example.com\/data.json\)/);
  });

  it('hands Vega-Lite warnings to the caller instead of printing them', async () => {
    const warnings: string[] = [];
    const replaced: TopLevelSpec = { data: { values: [{ a: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative', scale: { type: 'band' } } } };
    await renderSvg(replaced, { onWarning: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(/"band" scale/);
  });

  it('gives each inlined chart its own ids, references included', () => {
    const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"></g><use href="#clip1"/><g fill="url(#other)"/></svg>';
    const scoped = scopeSvgIds(svg, 'f3-');
    expect(scoped).toContain('id="f3-clip1"');
    expect(scoped).toContain('url(#f3-clip1)');
    expect(scoped).toContain('href="#f3-clip1"');
    expect(scoped).toContain('url(#other)');
  });
});

describe('text measurement', () => {
  it.skipIf(!haveDejaVu)('measures text as wide as resvg draws it with DejaVu Sans', () => {
    const measure = dejaVuMeasure(DEFAULT_FONT_DIRS)!;
    for (const [text, size, bold] of [
      ['categoricalCrossentropy', 11, false],
      ['train.optimizer.learningRate', 12, true],
      ['0.000001', 11, false],
    ] as const) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="0" y="30" font-family="DejaVu Sans" font-size="${size}" font-weight="${bold ? 'bold' : 'normal'}">${text}</text></svg>`;
      const drawn = new Resvg(svg, { font: { fontDirs: DEFAULT_FONT_DIRS, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans' } }).innerBBox()!;
      // The ink box is narrower than the advance by the side bearings of the first and last glyphs.
      expect(Math.abs(measure(text, { fontSize: size, bold }) - drawn.width), text).toBeLessThan(2.5);
    }
  });

  it('names the file when a font cannot be read', () => {
    const file = join(temporaryFolder('font'), 'broken.ttf');
    writeFileSync(file, Buffer.from([0, 1, 0, 0, 0, 9]));
    expect(() => readFontMetrics(file)).toThrow(`${file}: too short to be a TrueType font`);
  });
});
