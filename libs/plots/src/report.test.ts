import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport, writeReport } from './report';
import { gridSweepFixture, regressionPredictions, repeatedSweepFixture, temporaryFolder, writeRunFixture } from './test-fixtures';

const CHROMIUM = process.env['DLEXP_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const browserRequired = process.env['DLEXP_REQUIRE_BROWSER'] === '1';
const screenshots = fileURLToPath(new URL('../test-results/', import.meta.url));
const now = new Date('2026-12-01T00:00:00.000Z');

/** The little of the DOM the browser test reads. */
interface Queryable {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement> & ArrayLike<PageElement>;
}
interface PageElement extends Queryable {
  id: string;
  getBoundingClientRect(): { width: number; height: number };
}

/** No script, no stylesheet or image from elsewhere, nothing that fetches. */
function expectSelfContained(html: string): void {
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/<link/i);
  expect(html).not.toMatch(/<iframe|<object|<embed/i);
  expect(html).not.toMatch(/\ssrc\s*=/i);
  expect(html).not.toMatch(/url\((?!#)/i);
  expect(html).not.toMatch(/href="(?!#)/i);
  expect(html).not.toMatch(/@import/i);
  expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
}

describe('HTML report', () => {
  it('shows a run\'s metrics, expectations, figures and config, self-contained', async () => {
    const dir = writeRunFixture(join(temporaryFolder('report'), 'run'), {
      expectations: [
        { metric: 'test.accuracy', min: 0.85, actual: 0.88, met: true },
        { metric: 'test.loss', max: 0.3, actual: 0.35, met: false },
      ],
      config: { name: 'fixture <classifier>', description: 'compares <b>things</b> & more', train: { steps: 60 } },
    });
    const html = await renderReport(dir, { now });
    expectSelfContained(html);
    expect(html).toContain('<h2>Final metrics</h2>');
    expect(html).toMatch(/<td>test.accuracy<\/td><td class="number">0.88<\/td>/);
    expect(html).toContain('<h2>Expectations</h2>');
    expect(html).toContain('1 of 2 met');
    expect(html).toContain('NOT MET');
    expect(html.match(/<figure id="figure-(loss|accuracy)"/g)).toHaveLength(2);
    // Text from the files is escaped, never markup.
    expect(html).toContain('compares &lt;b&gt;things&lt;/b&gt; &amp; more');
    expect(html).not.toContain('<b>things</b>');
    expect(html).toContain('name: fixture &lt;classifier&gt;');
    // Each inlined chart's ids are its own.
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows a failed run\'s error, and a run still going', async () => {
    const failed = writeRunFixture(join(temporaryFolder('report-failed'), 'run'), { status: 'failed', error: 'loss became NaN at step 3', metrics: {} });
    const html = await renderReport(failed, { now });
    expect(html).toContain('<p class="error">loss became NaN at step 3</p>');
    expect(html).toContain('status-failed');
    const running = writeRunFixture(join(temporaryFolder('report-running'), 'run'), { withoutSummary: true });
    expect(await renderReport(running, { now })).toContain('No summary.json yet');
  });

  it('shows a sweep\'s trials with the best one marked, and its figures', async () => {
    const dir = gridSweepFixture(join(temporaryFolder('report-sweep'), 'sweep'));
    const file = await writeReport(dir, { now });
    expect(file).toBe(join(dir, 'report.html'));
    const html = readFileSync(file, 'utf8');
    expectSelfContained(html);
    expect(html).toContain('<th>trial</th><th>train.optimizer.learningRate</th><th>model.loss.type</th><th>status</th><th>test.accuracy</th>');
    expect(html).toMatch(/<tr class="best"><td>trial-004 ★<\/td>/);
    expect(html.match(/<figure id="figure-/g)).toHaveLength(5);
    expect(html).toContain('grid search · 4 trials · maximize test.accuracy · best trial-004 (test.accuracy = 0.9)');
  });

  it('shows a sweep\'s configurations with mean ± std over repeats, the seeds, and every trial of the best one', async () => {
    const html = await renderReport(repeatedSweepFixture(join(temporaryFolder('report-repeated'), 'sweep')), { now });
    expect(html).toContain('<h2>Configurations</h2>');
    expect(html).toContain('<th>configuration</th><th>rate</th><th>status</th><th>trials</th><th>validation.accuracy mean</th><th>std</th><th>repeats</th>');
    expect(html).toMatch(/<tr class="best"><td>2<\/td><td>0.1<\/td><td>completed<\/td><td>trial-003, trial-004<\/td><td class="number">0.81<\/td>/);
    expect(html).toContain('<th>trial</th><th>rate</th><th>seed</th><th>status</th>');
    expect(html.match(/<tr class="best"><td>trial-00[34] ★<\/td>/g)).toHaveLength(2);
  });

  it('refuses a folder that is neither a run nor a sweep', async () => {
    const empty = temporaryFolder('report-empty');
    await expect(writeReport(empty)).rejects.toThrow(`${empty}: neither a run folder nor a sweep folder`);
  });
});

describe.runIf(haveChromium || browserRequired)('HTML report in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`DLEXP_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM} (apt-get install chromium, or set DLEXP_CHROMIUM)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** How many pixels of a PNG screenshot are not white: resvg decodes it as an SVG image into raw RGBA. */
  function inkedPixels(png: Buffer): { width: number; height: number; inked: number } {
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}"><image width="${width}" height="${height}" xlink:href="data:image/png;base64,${png.toString('base64')}"/></svg>`;
    const { pixels } = new Resvg(svg, { background: 'white' }).render();
    let inked = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i]! < 240 || pixels[i + 1]! < 240 || pixels[i + 2]! < 240) inked++;
    return { width, height, inked };
  }

  it.each([
    ['run', () => writeRunFixture(join(temporaryFolder('browser-run'), 'run'), { predictions: regressionPredictions() }), 3],
    ['sweep', () => gridSweepFixture(join(temporaryFolder('browser-sweep'), 'sweep')), 5],
  ] as const)('draws every figure of a %s report, loading nothing from elsewhere', async (kind, makeFolder, figureCount) => {
    const file = await writeReport(makeFolder(), { now });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => problems.push(`console ${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const figures = await page.evaluate(() =>
      // The page's DOM, typed by hand: this project compiles without the DOM library.
      [...(globalThis as unknown as { document: Queryable }).document.querySelectorAll('figure')].map((figure) => {
        const svg = figure.querySelector('svg')!;
        const box = svg.getBoundingClientRect();
        // Marks Vega drew (lines, dots, bars, rules), each with a size on the page.
        const marks = [...svg.querySelectorAll('.role-mark path, .role-mark line, .role-mark rect')].filter((element) => {
          const markBox = element.getBoundingClientRect();
          return markBox.width > 0 || markBox.height > 0;
        });
        return { id: figure.id, width: box.width, height: box.height, marks: marks.length, texts: svg.querySelectorAll('text').length };
      }),
    );
    expect(figures).toHaveLength(figureCount);
    for (const figure of figures) {
      expect(figure.width, figure.id).toBeGreaterThan(100);
      expect(figure.height, figure.id).toBeGreaterThan(100);
      expect(figure.marks, figure.id).toBeGreaterThan(0);
      expect(figure.texts, figure.id).toBeGreaterThan(3);
    }
    expect(requests).toEqual([pathToFileURL(file).href]);
    expect(problems).toEqual([]);

    mkdirSync(screenshots, { recursive: true });
    const png = await page.screenshot({ path: join(screenshots, `report-${kind}.png`), fullPage: true });
    await page.close();
    const { width, height, inked } = inkedPixels(png);
    expect(width).toBe(1200);
    expect(height).toBeGreaterThan(1500);
    // Figures and tables cover a good part of the page; a blank or unstyled page would not.
    expect(inked / (width * height)).toBeGreaterThan(0.01);
  });
});
