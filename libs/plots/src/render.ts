import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { dejaVuMeasure, estimateMeasure, type TextMeasure } from './font-metrics';

/**
 * Vega-Lite spec → Vega spec → SVG (vega's headless View; SVG needs no canvas) → PNG (resvg). All
 * offline: the View gets a loader that refuses every URL and file, and the specs carry their data.
 */

/** Where Debian puts DejaVu (package fonts-dejavu-core); resvg loads fonts only when told where. */
export const DEFAULT_FONT_DIRS = ['/usr/share/fonts/truetype/dejavu'];

export interface RenderOptions {
  /** Warnings from Vega-Lite and Vega (an encoding dropped, a scale that cannot be built, ...). */
  onWarning?: (message: string) => void;
}

export interface PngOptions {
  /** Pixels per SVG unit (default 2: sharp on high-density screens and in documents). */
  scale?: number;
  /** Folders of .ttf files for the text (default: DejaVu from DEFAULT_FONT_DIRS). */
  fontDirs?: string[];
}

function messageOf(args: unknown[]): string {
  return args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
}

/** A logger for Vega and Vega-Lite that hands warnings to the caller instead of printing them. */
function warningLogger(onWarning: (message: string) => void, errors: string[] = []): vega.LoggerInterface {
  let level = vega.Warn;
  const logger: vega.LoggerInterface = {
    level(value?: number) {
      if (value === undefined) return level;
      level = value;
      return logger;
    },
    error(...args: unknown[]) {
      // Vega goes on after logging an error; the caller throws once rendering is over.
      errors.push(messageOf(args));
      return logger;
    },
    warn(...args: unknown[]) {
      // Vega only warns when data fails to load; a chart without its data is an error here.
      if (args[0] === 'Loading failed') errors.push(messageOf(args));
      else if (level >= vega.Warn) onWarning(messageOf(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

/** Refuses to load anything: every chart carries its data inline, and rendering never goes online. */
const offlineLoader: vega.Loader = {
  load: (uri) => Promise.reject(new Error(`charts load no external data (asked for ${uri})`)),
  sanitize: (uri) => Promise.reject(new Error(`charts load no external data (asked for ${uri})`)),
  http: (uri) => Promise.reject(new Error(`charts load no external data (asked for ${uri})`)),
  file: (file) => Promise.reject(new Error(`charts load no external data (asked for ${file})`)),
};

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}

/** vega-scenegraph's text measurer: exported at run time, missing from vega's type declarations. */
const textMetrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
let measuring: TextMeasure | undefined;

/**
 * Points Vega's text layout at DejaVu's real glyph widths (once per process: Vega keeps one
 * measurer for all views). Labels cut short by a limit are measured whole, which only leaves a
 * little extra room beside them.
 */
function measureTextWithDejaVu(): void {
  if (measuring !== undefined) return;
  let measure: TextMeasure;
  try {
    measure = dejaVuMeasure(DEFAULT_FONT_DIRS) ?? estimateMeasure;
  } catch {
    // A damaged font file costs exact label widths, not the chart.
    measure = estimateMeasure;
  }
  measuring = measure;
  textMetrics.width = (item, text) => {
    const value = text === null || text === undefined ? '' : String(text).trim();
    const weight = item.fontWeight;
    const bold = weight === 'bold' || weight === 'bolder' || (typeof weight === 'number' && weight >= 600) || (typeof weight === 'string' && Number(weight) >= 600);
    return measure(value, { fontSize: item.fontSize ?? 11, bold });
  };
}

/** The Vega spec a Vega-Lite spec compiles to. */
export function compileSpec(spec: TopLevelSpec, options: RenderOptions = {}): vega.Spec {
  const errors: string[] = [];
  const compiled = compile(spec, { logger: warningLogger(options.onWarning ?? (() => undefined), errors) }).spec;
  if (errors.length > 0) throw new Error(`the chart spec does not compile: ${errors.join('; ')}`);
  return compiled;
}

/** Renders a Vega-Lite spec to a standalone SVG document. */
export async function renderSvg(spec: TopLevelSpec, options: RenderOptions = {}): Promise<string> {
  measureTextWithDejaVu();
  const errors: string[] = [];
  const logger = warningLogger(options.onWarning ?? (() => undefined), errors);
  const view = new vega.View(vega.parse(compile(spec, { logger }).spec), { renderer: 'none', loader: offlineLoader, logger, logLevel: vega.Warn });
  try {
    const svg = await view.toSVG();
    if (errors.length > 0) throw new Error(`the chart could not be drawn: ${errors.join('; ')}`);
    return svg;
  } finally {
    view.finalize();
  }
}

/** Rasterizes an SVG document to PNG bytes. */
export function svgToPng(svg: string, options: PngOptions = {}): Uint8Array {
  const fontDirs = (options.fontDirs ?? DEFAULT_FONT_DIRS).filter((dir) => existsSync(dir));
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    font: {
      fontDirs,
      // Without the DejaVu folder, fall back to whatever fonts the system has rather than no text.
      loadSystemFonts: fontDirs.length === 0,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return resvg.render().asPng();
}

/** Renders a Vega-Lite spec straight to PNG bytes. */
export async function renderPng(spec: TopLevelSpec, options: RenderOptions & PngOptions = {}): Promise<Uint8Array> {
  return svgToPng(await renderSvg(spec, options), options);
}

/**
 * Makes the ids in an SVG (clip paths, gradients) unique by a prefix, so that several charts can
 * be inlined in one HTML document without one chart's `url(#clip1)` pointing at another's.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
  if (ids.size === 0) return svg;
  return svg
    .replace(/\sid="([^"]+)"/g, (_m, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}${id})` : m))
    .replace(/href="#([^"]+)"/g, (m, id: string) => (ids.has(id) ? `href="#${prefix}${id}"` : m));
}
