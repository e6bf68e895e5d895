import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ExpectationConfig, LoadedExperiment, TensorBoardConfig } from '@dlexp/config';
import { createPlotsSink } from '@dlexp/plots';
import { createTensorBoardSink } from '@dlexp/tensorboard';
import { formatJUnitReport, runTestSuite, writeFileAtomic, type JUnitTestSuite, type RunSink, type RunSummary } from '@dlexp/train';
import { createConsoleSink } from './console-sink';

/** What a host asks of a run's sinks besides what the experiment says. */
export interface RunSinkOptions {
  /** A progress bar (a terminal) rather than only plain lines. */
  interactive: boolean;
  /** Where the JUnit report goes (an absolute path), when one is wanted. */
  junit?: string;
}

/**
 * Where a run started from the CLI reports: the terminal, TensorBoard event files and the plots
 * (each unless the experiment turns it off), and a JUnit report with --junit. Sweep trials add
 * their values for the HParams tab.
 */
export function createRunSinks(experiment: LoadedExperiment, print: (line: string) => void, options: RunSinkOptions, trial?: Record<string, unknown>): RunSink[] {
  const config = experiment.resolved;
  const sinks: RunSink[] = [createConsoleSink(print, options.interactive)];
  const tensorboard = config.tensorboard as TensorBoardConfig | false;
  if (tensorboard !== false) {
    const hparams = trial === undefined ? undefined : Object.fromEntries(Object.entries(trial).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : JSON.stringify(v)]));
    sinks.push(createTensorBoardSink(tensorboard, hparams !== undefined ? { hparams } : {}));
  }
  if (config.plots) sinks.push(createPlotsSink({ onWarning: print }));
  // A sweep's trials (which may run in processes of their own) write no report: the sweep
  // writes one for all of them when it ends (writeSweepJUnitReport).
  if (options.junit !== undefined && trial === undefined) sinks.push(createJUnitSink(options.junit, experiment));
  return sinks;
}

/** Writes the report, creating its folder. */
function writeReport(file: string, suites: JUnitTestSuite[], name: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, formatJUnitReport(suites, name));
}

/** Writes the run's suite when the run ends, completed or not. */
function createJUnitSink(file: string, experiment: LoadedExperiment): RunSink {
  const expected: Record<string, ExpectationConfig> = experiment.expectations;
  let startedAt: Date | undefined;
  return {
    start() {
      startedAt = new Date();
    },
    end({ summary }) {
      const name = experiment.resolved.name;
      writeReport(file, [runTestSuite({ name, summary, expected, ...(startedAt !== undefined ? { startedAt } : {}) })], name);
    },
  };
}

/**
 * With --junit, a report for a run that never started (its config or data was refused): one
 * test case, `run starts`, in error with the message. For the run command to call when it
 * catches such an error, so CI shows the problem where it shows the results.
 */
export function writeJUnitStartError(junit: string | undefined, name: string, message: string): void {
  if (junit === undefined) return;
  writeReport(junit, [{ name, time: 0, cases: [{ name: 'run starts', classname: name, time: 0, error: { type: 'not-started', message } }] }], name);
}

/** What the report needs of a trial in a sweep's summary.json. */
interface SweepTrialEntry {
  id: string;
  status?: string;
  /** Values by parameter name (or, in older summaries, by experiment path under `parameters`). */
  values?: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  runDirectory?: string;
  error?: string;
  epoch?: number;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * With --junit, writes a sweep's report from its folder once the sweep has ended: one suite per
 * trial, `<experiment>/<trial-id>`, from the trial's summary.json (its expectations, one test case
 * per bound), with the trial's values as properties. A trial the sweep pruned has its bounds
 * skipped; one that left no summary is an error. The sweep command calls this after it writes
 * the sweep's summary.json.
 */
export function writeSweepJUnitReport(junit: string | undefined, sweepDirectory: string, experiment: LoadedExperiment): void {
  if (junit === undefined) return;
  const name = experiment.resolved.name;
  const sweepSummary = readJson(join(sweepDirectory, 'summary.json')) as { trials?: SweepTrialEntry[] } | undefined;
  const trialsFolder = join(sweepDirectory, 'trials');
  const entries: SweepTrialEntry[] =
    sweepSummary?.trials ?? (existsSync(trialsFolder) ? readdirSync(trialsFolder).sort().map((id) => ({ id, runDirectory: join('trials', id) })) : []);
  const suites = entries.map((entry) => {
    const suiteName = `${name}/${entry.id}`;
    const trialValues = entry.values ?? entry.parameters ?? {};
    const properties = Object.fromEntries(Object.entries(trialValues).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
    const summary = readJson(join(sweepDirectory, entry.runDirectory ?? join('trials', entry.id), 'summary.json')) as RunSummary | undefined;
    const expected: Record<string, ExpectationConfig> = experiment.expectations;
    if (summary === undefined) {
      const missing: RunSummary = {
        name,
        status: 'failed',
        seed: experiment.resolved.seed,
        backend: { name: 'unknown', tfBackend: 'unknown' },
        metrics: {},
        timing: {},
        configHash: '',
        versions: {},
        error: entry.error ?? `the trial left no summary.json (status ${entry.status ?? 'unknown'})`,
      };
      return runTestSuite({ name: suiteName, summary: missing, expected, properties });
    }
    const startedAt = typeof summary.timing['startedAt'] === 'string' ? new Date(summary.timing['startedAt']) : undefined;
    const pruned = entry.status === 'pruned' ? `pruned by the sweep's early termination${entry.epoch !== undefined ? ` after epoch ${entry.epoch}` : ''}` : undefined;
    return runTestSuite({
      name: suiteName,
      summary,
      expected,
      properties,
      ...(startedAt !== undefined && !Number.isNaN(startedAt.getTime()) ? { startedAt } : {}),
      ...(pruned !== undefined ? { skipped: pruned } : {}),
    });
  });
  writeReport(junit, suites, name);
}
