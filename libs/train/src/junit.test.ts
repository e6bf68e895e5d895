import { describe, expect, it } from 'vitest';
import type { ExpectationResult } from './expectations';
import { escapeXml, expectationTestCases, formatJUnitReport, runTestSuite, type JUnitTestSuite } from './junit';
import type { RunSummary } from './sinks/sink';

// --- A strict reader for the XML this writer emits (elements, attributes, text, the five entities
// and character references), so the tests check the document a CI system parses, not our strings.

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function decode(text: string, at: number): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (entity, body: string | undefined) => {
    if (body === undefined) throw new Error(`a bare & at offset ${at}`);
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[body] === undefined) throw new Error(`unknown entity ${entity} at offset ${at}`);
    return named[body];
  });
}

function parseXml(document: string): XmlElement {
  // eslint-disable-next-line no-control-regex
  const forbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.exec(document);
  if (forbidden !== null) throw new Error(`a character XML cannot hold at offset ${forbidden.index}`);
  const declaration = /^<\?xml version="1\.0" encoding="UTF-8"\?>\n/.exec(document);
  if (declaration === null) throw new Error('no XML declaration');
  let at = declaration[0].length;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"<]*")*)\s*(\/?)>/y;
  const attribute = /\s+([A-Za-z_][\w.-]*)="([^"<]*)"/g;
  while (at < document.length) {
    const next = document.indexOf('<', at);
    const text = document.slice(at, next === -1 ? document.length : next);
    if (text.includes('>')) throw new Error(`a bare > in text at offset ${at}`);
    if (stack.length > 0) stack[stack.length - 1]!.text += decode(text, at);
    else if (text.trim() !== '') throw new Error(`text outside the root at offset ${at}`);
    if (next === -1) break;
    tag.lastIndex = next;
    const match = tag.exec(document);
    if (match === null) throw new Error(`malformed tag at offset ${next}`);
    const [whole, closing, name, attributeText, selfClosing] = match as unknown as [string, string, string, string, string];
    if (closing === '/') {
      const open = stack.pop();
      if (open?.name !== name) throw new Error(`</${name}> closes <${open?.name}> at offset ${next}`);
    } else {
      const element: XmlElement = { name, attributes: {}, children: [], text: '' };
      for (const [, key, value] of attributeText.matchAll(attribute)) {
        if (key! in element.attributes) throw new Error(`attribute ${key} twice at offset ${next}`);
        element.attributes[key!] = decode(value!, next);
      }
      if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
      else if (root === undefined) root = element;
      else throw new Error(`a second root element at offset ${next}`);
      if (selfClosing !== '/') stack.push(element);
    }
    at = next + whole.length;
  }
  if (stack.length > 0 || root === undefined) throw new Error('the document ends inside an element');
  return root;
}

// --- The shape of the JUnit XML schema that CI systems read (the Ant/Surefire/Jenkins form):
// which elements hold which, their required and optional attributes, and the attribute types.

const INTEGER = /^(0|[1-9][0-9]*)$/;
const SECONDS = /^[0-9]+(\.[0-9]{1,3})?$/;
const TIMESTAMP = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$/;
const ANY = /^[\s\S]*$/;
const NON_EMPTY = /\S/;

const SCHEMA: Record<string, { required: Record<string, RegExp>; optional: Record<string, RegExp>; children: string[]; text?: boolean }> = {
  testsuites: { required: {}, optional: { name: ANY, tests: INTEGER, failures: INTEGER, errors: INTEGER, skipped: INTEGER, disabled: INTEGER, time: SECONDS }, children: ['testsuite'] },
  testsuite: {
    required: { name: NON_EMPTY, tests: INTEGER, failures: INTEGER, errors: INTEGER },
    optional: { skipped: INTEGER, disabled: INTEGER, time: SECONDS, timestamp: TIMESTAMP, hostname: ANY, id: ANY, package: ANY },
    children: ['properties', 'testcase', 'system-out', 'system-err'],
  },
  properties: { required: {}, optional: {}, children: ['property'] },
  property: { required: { name: NON_EMPTY, value: ANY }, optional: {}, children: [] },
  testcase: { required: { name: NON_EMPTY, classname: NON_EMPTY }, optional: { time: SECONDS, assertions: INTEGER, status: ANY }, children: ['skipped', 'error', 'failure', 'system-out', 'system-err'] },
  failure: { required: {}, optional: { message: ANY, type: ANY }, children: [], text: true },
  error: { required: {}, optional: { message: ANY, type: ANY }, children: [], text: true },
  skipped: { required: {}, optional: { message: ANY }, children: [], text: true },
};

/** Every way the document departs from the schema's shape; empty when it conforms. */
function schemaProblems(root: XmlElement): string[] {
  const problems: string[] = [];
  if (root.name !== 'testsuites') problems.push(`the root is <${root.name}>, not <testsuites>`);
  const visit = (element: XmlElement, path: string) => {
    const rule = SCHEMA[element.name];
    if (rule === undefined) return problems.push(`${path}: <${element.name}> is not a JUnit element`);
    for (const [key, pattern] of Object.entries(rule.required)) {
      if (!(key in element.attributes)) problems.push(`${path}: no ${key}`);
      else if (!pattern.test(element.attributes[key]!)) problems.push(`${path}: ${key}="${element.attributes[key]}" is not of its type`);
    }
    for (const [key, value] of Object.entries(element.attributes)) {
      const pattern = rule.required[key] ?? rule.optional[key];
      if (pattern === undefined) problems.push(`${path}: ${key} is not an attribute of <${element.name}>`);
      else if (!pattern.test(value)) problems.push(`${path}: ${key}="${value}" is not of its type`);
    }
    if (rule.text !== true && element.text.trim() !== '') problems.push(`${path}: text inside <${element.name}>`);
    for (const child of element.children) {
      if (!rule.children.includes(child.name)) problems.push(`${path}: <${child.name}> inside <${element.name}>`);
      visit(child, `${path}/${child.name}`);
    }
    if (element.name === 'testcase' && element.children.filter((c) => ['skipped', 'error', 'failure'].includes(c.name)).length > 1) problems.push(`${path}: more than one result`);
    if (element.name === 'testsuite' && element.children.filter((c) => c.name === 'properties').length > 1) problems.push(`${path}: two <properties>`);
    return undefined;
  };
  visit(root, root.name);
  // The counts readers show must agree with the test cases.
  const tally = (suites: XmlElement[]) => {
    const cases = suites.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));
    return {
      tests: cases.length,
      failures: cases.filter((c) => c.children.some((r) => r.name === 'failure')).length,
      errors: cases.filter((c) => c.children.some((r) => r.name === 'error')).length,
      skipped: cases.filter((c) => c.children.some((r) => r.name === 'skipped')).length,
    };
  };
  for (const suite of root.children) {
    for (const [key, value] of Object.entries(tally([suite]))) if ((key !== 'skipped' || key in suite.attributes) && suite.attributes[key] !== String(value)) problems.push(`testsuite ${suite.attributes['name']}: ${key}="${suite.attributes[key]}" but ${value} counted`);
  }
  for (const [key, value] of Object.entries(tally(root.children))) if (root.attributes[key] !== undefined && root.attributes[key] !== String(value)) problems.push(`testsuites: ${key}="${root.attributes[key]}" but ${value} counted`);
  return problems;
}

function validate(xml: string): XmlElement {
  const root = parseXml(xml);
  expect(schemaProblems(root)).toEqual([]);
  return root;
}

function summary(overrides: Partial<RunSummary>): RunSummary {
  return {
    name: 'mnist-cnn',
    status: 'completed',
    seed: 1,
    backend: { name: 'wasm', tfBackend: 'wasm' },
    metrics: {},
    timing: { startedAt: '2026-11-27T12:00:00.000Z', totalMs: 12345.6 },
    configHash: 'abc123',
    versions: {},
    ...overrides,
  };
}

const cases = (suite: XmlElement) => suite.children.filter((c) => c.name === 'testcase');

describe('the reader and schema used by these tests', () => {
  it('rejects what CI readers reject', () => {
    expect(() => parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<a><b></a></b>')).toThrow(/closes/);
    expect(() => parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<a x="1 & 2"/>')).toThrow(/bare &/);
    expect(() => parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<a>\u001b</a>')).toThrow(/cannot hold/);
    expect(schemaProblems(parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="s" tests="2" failures="0" errors="0"><testcase name="c"/></testsuite></testsuites>'))).toEqual([
      'testsuites/testsuite/testcase: no classname',
      'testsuite s: tests="2" but 1 counted',
    ]);
  });
});

describe('expectationTestCases', () => {
  it('makes one test case per bound, failing with the measured value', () => {
    const results: ExpectationResult[] = [
      { metric: 'k', min: 0.09, max: 0.11, actual: 0.1, met: true },
      { metric: 'test.accuracy', min: 0.99, actual: 0.98123456, met: false },
      { metric: 'train.loss', max: 0.01, actual: 0.5, met: false },
    ];
    const made = expectationTestCases(results, 'linear', 1.5);
    expect(made.map((c) => c.name)).toEqual(['k >= 0.09', 'k <= 0.11', 'test.accuracy >= 0.99', 'train.loss <= 0.01']);
    expect(made.map((c) => c.failure?.message)).toEqual([undefined, undefined, 'test.accuracy = 0.981235, expected test.accuracy >= 0.99', 'train.loss = 0.5, expected train.loss <= 0.01']);
    expect(made[2]!.failure!.details).toBe('measured test.accuracy = 0.98123456');
    expect(made.every((c) => c.classname === 'linear' && c.time === 1.5)).toBe(true);
  });

  it('fails only the bound that is missed when both are given', () => {
    const [min, max] = expectationTestCases([{ metric: 'b', min: 0.19, max: 0.21, actual: 0.25, met: false }], 'linear');
    expect(min!.failure).toBeUndefined();
    expect(max!.failure!.message).toBe('b = 0.25, expected b <= 0.21');
  });

  it('fails a metric that was not reported, or is not a number, on every bound', () => {
    const made = expectationTestCases(
      [
        { metric: 'test.accuracy', min: 0.9, actual: undefined, met: false },
        { metric: 'train.loss', min: 0, max: 1, actual: NaN, met: false },
      ],
      'x',
    );
    expect(made.map((c) => c.failure?.message)).toEqual([
      'test.accuracy was not reported by the run (expected test.accuracy >= 0.9)',
      'train.loss = NaN, expected train.loss >= 0',
      'train.loss = NaN, expected train.loss <= 1',
    ]);
  });
});

describe('runTestSuite and formatJUnitReport', () => {
  it('writes a completed run as a valid report: totals, properties, times in seconds, a timestamp', () => {
    const suite = runTestSuite({
      name: 'mnist-cnn',
      summary: summary({ expectations: [{ metric: 'test.accuracy', min: 0.99, actual: 0.9812, met: false }, { metric: 'train.loss', max: 1, actual: 0.1, met: true }] }),
      expected: { 'test.accuracy': { min: 0.99 }, 'train.loss': { max: 1 } },
      startedAt: new Date('2026-11-27T12:00:00.250Z'),
    });
    const xml = formatJUnitReport([suite], 'mnist-cnn');
    const root = validate(xml);
    expect(root.attributes).toEqual({ name: 'mnist-cnn', tests: '2', failures: '1', errors: '0', skipped: '0', time: '12.346' });
    const [written] = root.children;
    expect(written!.attributes).toEqual({ name: 'mnist-cnn', tests: '2', failures: '1', errors: '0', skipped: '0', time: '12.346', timestamp: '2026-11-27T12:00:00' });
    const properties = written!.children.find((c) => c.name === 'properties')!.children.map((p) => [p.attributes['name'], p.attributes['value']]);
    expect(properties).toEqual([
      ['status', 'completed'],
      ['backend', 'wasm'],
      ['seed', '1'],
      ['configHash', 'abc123'],
    ]);
    const [accuracy, loss] = cases(written!);
    expect(accuracy!.attributes).toEqual({ name: 'test.accuracy >= 0.99', classname: 'mnist-cnn', time: '12.346' });
    expect(accuracy!.children[0]).toEqual({ name: 'failure', attributes: { message: 'test.accuracy = 0.9812, expected test.accuracy >= 0.99', type: 'expectation' }, children: [], text: 'measured test.accuracy = 0.9812' });
    expect(loss!.children).toEqual([]);
  });

  it('reports a failed run as an error, and every bound it never checked as an error too', () => {
    const suite = runTestSuite({
      name: 'mnist-cnn',
      summary: summary({ status: 'failed', error: 'the loss became NaN at step 12', timing: { totalMs: 800 } }),
      expected: { 'test.accuracy': { min: 0.99 }, k: { min: 0, max: 1 } },
    });
    const root = validate(formatJUnitReport([suite]));
    expect(root.attributes).toMatchObject({ name: 'dlexp', tests: '4', failures: '0', errors: '4' });
    expect(cases(root.children[0]!).map((c) => [c.attributes['name'], c.children[0]!.name, c.children[0]!.attributes['message']])).toEqual([
      ['run completes', 'error', 'the run failed: the loss became NaN at step 12'],
      ['test.accuracy >= 0.99', 'error', 'not checked: the run failed: the loss became NaN at step 12'],
      ['k >= 0', 'error', 'not checked: the run failed: the loss became NaN at step 12'],
      ['k <= 1', 'error', 'not checked: the run failed: the loss became NaN at step 12'],
    ]);
    const interrupted = runTestSuite({ name: 'x', summary: summary({ status: 'interrupted' }), expected: {} });
    expect(interrupted.cases).toEqual([{ name: 'run completes', classname: 'x', time: 12345.6 / 1000, error: { type: 'interrupted', message: 'the run was interrupted' } }]);
  });

  it('skips every bound of a trial the sweep pruned, with the reason', () => {
    const suite = runTestSuite({ name: 'sweep/trial-002', summary: summary({ status: 'interrupted' }), expected: { 'test.accuracy': { min: 0.9 } }, skipped: 'pruned at epoch 1 by the sweep' });
    const root = validate(formatJUnitReport([suite]));
    expect(root.attributes).toMatchObject({ tests: '1', failures: '0', errors: '0', skipped: '1' });
    expect(cases(root.children[0]!)[0]!.children).toEqual([{ name: 'skipped', attributes: { message: 'pruned at epoch 1 by the sweep' }, children: [], text: '' }]);
  });

  it('gives a completed run with no expectations one passing case, so the run still shows', () => {
    const root = validate(formatJUnitReport([runTestSuite({ name: 'plain', summary: summary({}), expected: {} })]));
    expect(cases(root.children[0]!).map((c) => c.attributes['name'])).toEqual(['run completes']);
    expect(root.attributes['failures']).toBe('0');
  });

  it('writes one suite per sweep trial with the trial values as properties, and adds up the totals', () => {
    const trial = (id: string, accuracy: number, values: Record<string, string>): JUnitTestSuite =>
      runTestSuite({
        name: `mnist-dropout/${id}`,
        summary: summary({ expectations: [{ metric: 'test.accuracy', min: 0.84, actual: accuracy, met: accuracy >= 0.84 }], timing: { totalMs: 1000 } }),
        expected: { 'test.accuracy': { min: 0.84 } },
        properties: values,
      });
    const root = validate(formatJUnitReport([trial('trial-001', 0.87, { dropoutRate: '0' }), trial('trial-002', 0.8, { dropoutRate: '0.3' })], 'mnist-dropout'));
    expect(root.attributes).toEqual({ name: 'mnist-dropout', tests: '2', failures: '1', errors: '0', skipped: '0', time: '2.000' });
    expect(root.children.map((s) => s.attributes['name'])).toEqual(['mnist-dropout/trial-001', 'mnist-dropout/trial-002']);
    expect(root.children[1]!.children[0]!.children.at(-1)!.attributes).toEqual({ name: 'dropoutRate', value: '0.3' });
  });

  it('escapes names and messages so any text survives a round trip through an XML reader', () => {
    const nasty = `a<b>&"c"\n'd'\t\u001b[31mred\u001b[0m \uD800 é ✓ 🙂`;
    const suite = runTestSuite({ name: `weird & <name>`, summary: summary({ status: 'failed', error: nasty }), expected: { 'a.b<c>': { min: 1 } } });
    const root = validate(formatJUnitReport([suite], 'q"uote'));
    expect(root.attributes['name']).toBe('q"uote');
    const [run, bound] = cases(root.children[0]!);
    expect(run!.attributes['classname']).toBe('weird & <name>');
    // Line breaks and tabs survive in attributes; characters XML cannot hold are spelled out.
    expect(run!.children[0]!.attributes['message']).toBe(`the run failed: a<b>&"c"\n'd'\t\\u001b[31mred\\u001b[0m \\ud800 é ✓ 🙂`);
    expect(bound!.attributes['name']).toBe('a.b<c> >= 1');
  });

  it('escapes the five XML characters, and in attributes line breaks and tabs', () => {
    expect(escapeXml(`<&>"'`)).toBe(`&lt;&amp;&gt;"'`);
    expect(escapeXml(`<&>"'\n\t\r`, true)).toBe('&lt;&amp;&gt;&quot;&apos;&#10;&#9;&#13;');
    expect(escapeXml('\u0000\u0008\u000b\u000c\u001f\ufffe\uffff')).toBe('\\u0000\\u0008\\u000b\\u000c\\u001f\\ufffe\\uffff');
    // A surrogate pair is one character and stays; a lone one cannot be written.
    expect(escapeXml('🙂\uDC00')).toBe('🙂\\udc00');
  });

  it('writes an empty report when nothing ran', () => {
    const root = validate(formatJUnitReport([]));
    expect(root.attributes).toEqual({ name: 'dlexp', tests: '0', failures: '0', errors: '0', skipped: '0', time: '0.000' });
  });
});
