import type { ExpectationConfig } from '@dlexp/config';
import type { ExpectationResult } from './expectations';
import type { RunSummary } from './sinks/sink';

/**
 * Expectation results as a JUnit XML report, the format CI systems (GitHub Actions reporters,
 * GitLab, Jenkins, Azure Pipelines) read: `<testsuites>` holding one `<testsuite>` per run (per
 * trial for a sweep), one `<testcase>` per bound of each expectation, failed with the measured
 * value. This file only builds text; the caller writes it.
 */

/** What went wrong in a test case: `failure` for a bound not met, `error` for one never checked. */
export interface JUnitProblem {
  message: string;
  type: string;
  /** The element's text: more detail than fits the message. */
  details?: string;
}

export interface JUnitTestCase {
  name: string;
  classname: string;
  /** Seconds. */
  time: number;
  failure?: JUnitProblem;
  error?: JUnitProblem;
  /** Not run, and why (a sweep trial its early termination pruned). */
  skipped?: string;
}

export interface JUnitTestSuite {
  name: string;
  /** Seconds. */
  time: number;
  timestamp?: Date;
  /** Shown by most readers beside the suite: backend, seed, config hash, trial values. */
  properties?: Record<string, string>;
  cases: JUnitTestCase[];
}

/** A number as a message shows it: exact up to 6 significant digits. */
function shown(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toPrecision(6))) : String(value);
}

/** The bounds of one expectation, each as a comparison: `test.accuracy >= 0.99`. */
function bounds(metric: string, config: ExpectationConfig): { name: string; holds: (value: number) => boolean }[] {
  const list: { name: string; holds: (value: number) => boolean }[] = [];
  if (config.min !== undefined) list.push({ name: `${metric} >= ${config.min}`, holds: (v) => v >= config.min! });
  if (config.max !== undefined) list.push({ name: `${metric} <= ${config.max}`, holds: (v) => v <= config.max! });
  // An expectation without bounds still asks that the metric be reported, as a finite number.
  if (list.length === 0) list.push({ name: `${metric} is reported`, holds: () => true });
  return list;
}

/** One test case per bound of each checked expectation; a bound not met fails with the measured value. */
export function expectationTestCases(results: ExpectationResult[], classname: string, time = 0): JUnitTestCase[] {
  return results.flatMap((result) =>
    bounds(result.metric, result).map(({ name, holds }) => {
      const testCase: JUnitTestCase = { name, classname, time };
      const actual = result.actual;
      if (actual === undefined) {
        testCase.failure = { type: 'expectation', message: `${result.metric} was not reported by the run (expected ${name})` };
      } else if (!Number.isFinite(actual) || !holds(actual)) {
        testCase.failure = { type: 'expectation', message: `${result.metric} = ${shown(actual)}, expected ${name}`, details: `measured ${result.metric} = ${actual}` };
      }
      return testCase;
    }),
  );
}

/** The suite of one finished run (or trial), from its summary and the expectations it was held to. */
export function runTestSuite(options: {
  /** The suite's name: the experiment's, or `<experiment>/<trial-id>` for a sweep's trial. */
  name: string;
  summary: RunSummary;
  /** `expect:` (or `quick.expect:` with --quick), for the bounds a run that did not complete never checked. */
  expected: Record<string, ExpectationConfig>;
  startedAt?: Date;
  properties?: Record<string, string>;
  /** Why the bounds were deliberately not checked (a pruned sweep trial): each is skipped, not an error. */
  skipped?: string;
}): JUnitTestSuite {
  const { summary, name } = options;
  const totalMs = summary.timing['totalMs'];
  const time = typeof totalMs === 'number' ? totalMs / 1000 : 0;
  let cases: JUnitTestCase[];
  if (options.skipped !== undefined) {
    const skipped = options.skipped;
    cases = Object.entries(options.expected).flatMap(([metric, config]) => bounds(metric, config).map(({ name: bound }) => ({ name: bound, classname: name, time: 0, skipped })));
    if (cases.length === 0) cases = [{ name: 'run completes', classname: name, time, skipped }];
  } else if (summary.status === 'completed') {
    cases = expectationTestCases(summary.expectations ?? [], name, time);
    // A completed run with nothing to check is still a result: the run itself passed.
    if (cases.length === 0) cases = [{ name: 'run completes', classname: name, time }];
  } else {
    const why = summary.status === 'interrupted' ? 'the run was interrupted' : `the run failed${summary.error !== undefined ? `: ${summary.error}` : ''}`;
    const run: JUnitTestCase = { name: 'run completes', classname: name, time, error: { type: summary.status, message: why } };
    const unchecked = Object.entries(options.expected).flatMap(([metric, config]) =>
      bounds(metric, config).map(({ name: bound }) => ({ name: bound, classname: name, time: 0, error: { type: 'not-checked', message: `not checked: ${why}` } })),
    );
    cases = [run, ...unchecked];
  }
  return {
    name,
    time,
    ...(options.startedAt !== undefined ? { timestamp: options.startedAt } : {}),
    properties: {
      status: summary.status,
      backend: summary.backend.name,
      seed: String(summary.seed),
      configHash: summary.configHash,
      ...options.properties,
    },
    cases,
  };
}

/** Characters XML 1.0 cannot hold at all: most control characters, lone surrogates, U+FFFE/U+FFFF. */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text or an attribute value escaped for XML. Characters XML cannot hold (an ANSI colour code in an
 * error message) are written as `\uXXXX`, so the report stays well-formed and says what was there.
 */
export function escapeXml(text: string, inAttribute = false): string {
  const safe = text.replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const escaped = safe.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  // In attributes, quotes end the value and line breaks and tabs would be normalized to spaces.
  return inAttribute ? escaped.replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;') : escaped;
}

function attributes(values: Record<string, string | number | undefined>): string {
  return Object.entries(values)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => ` ${key}="${escapeXml(String(value), true)}"`)
    .join('');
}

/** Seconds with millisecond precision, as JUnit readers parse `time`. */
function seconds(value: number): string {
  return (Number.isFinite(value) && value > 0 ? value : 0).toFixed(3);
}

/** `2026-11-27T12:00:00`: the timestamp form of the JUnit schema (UTC, no zone, no fraction). */
function timestamp(date: Date): string {
  return date.toISOString().slice(0, 19);
}

function problemElement(tag: 'failure' | 'error', problem: JUnitProblem): string {
  const open = `<${tag}${attributes({ message: problem.message, type: problem.type })}`;
  return problem.details === undefined ? `${open}/>` : `${open}>${escapeXml(problem.details)}</${tag}>`;
}

/** The one outcome a test case shows: a failure wins over an error, an error over a skip. */
function outcome(testCase: JUnitTestCase): 'failure' | 'error' | 'skipped' | 'passed' {
  return testCase.failure !== undefined ? 'failure' : testCase.error !== undefined ? 'error' : testCase.skipped !== undefined ? 'skipped' : 'passed';
}

function count(suite: JUnitTestSuite) {
  const outcomes = suite.cases.map(outcome);
  return {
    tests: suite.cases.length,
    failures: outcomes.filter((o) => o === 'failure').length,
    errors: outcomes.filter((o) => o === 'error').length,
    skipped: outcomes.filter((o) => o === 'skipped').length,
  };
}

/** The whole report: a `<testsuites>` root with the totals, then each suite. */
export function formatJUnitReport(suites: JUnitTestSuite[], name = 'dlexp'): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const totals = suites.map(count).reduce((a, b) => ({ tests: a.tests + b.tests, failures: a.failures + b.failures, errors: a.errors + b.errors, skipped: a.skipped + b.skipped }), { tests: 0, failures: 0, errors: 0, skipped: 0 });
  const time = suites.reduce((sum, s) => sum + (Number.isFinite(s.time) && s.time > 0 ? s.time : 0), 0);
  lines.push(`<testsuites${attributes({ name, ...totals, time: seconds(time) })}>`);
  for (const suite of suites) {
    const counts = count(suite);
    lines.push(`  <testsuite${attributes({ name: suite.name, ...counts, time: seconds(suite.time), timestamp: suite.timestamp === undefined ? undefined : timestamp(suite.timestamp) })}>`);
    const properties = Object.entries(suite.properties ?? {});
    if (properties.length > 0) {
      lines.push('    <properties>');
      for (const [key, value] of properties) lines.push(`      <property${attributes({ name: key, value })}/>`);
      lines.push('    </properties>');
    }
    for (const testCase of suite.cases) {
      const open = `    <testcase${attributes({ name: testCase.name, classname: testCase.classname, time: seconds(testCase.time) })}`;
      const shown = outcome(testCase);
      const problem =
        shown === 'failure'
          ? problemElement('failure', testCase.failure!)
          : shown === 'error'
            ? problemElement('error', testCase.error!)
            : shown === 'skipped'
              ? `<skipped${attributes({ message: testCase.skipped })}/>`
              : undefined;
      lines.push(problem === undefined ? `${open}/>` : `${open}>${problem}</testcase>`);
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
