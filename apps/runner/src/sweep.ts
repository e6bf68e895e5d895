import { mkdirSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Table from 'cli-table3';
import { ConfigError, Registry, formatPath, parsePath, type Diagnostic, type RegistryEntry } from '@dlexp/core';
import { trialOverrides, type LoadedExperiment, type LoadOptions, type SweepParameterConfig, type TrialParameters } from '@dlexp/config';
import { formatNumber, loadExperiment, newRunId, runExperiment, writeFileAtomic, type Invocation, type Registries, type RunOptions, type RunSink } from '@dlexp/train';

interface SweepMethodContext {
  parameters: Record<string, SweepParameterConfig>;
}

/** A sweep method proposes the trials to run, in order. */
export type SweepMethod = () => TrialParameters[];

export type SweepMethodRegistry = Registry<SweepMethodContext, SweepMethod>;

/** Every combination of the values, the first parameter varying slowest. */
const grid: RegistryEntry<Record<string, never>, SweepMethodContext, SweepMethod> = {
  name: 'grid',
  description: 'Every combination of the listed values, one trial each, run in order.',
  params: {},
  create: (_p, context) => () => {
    let trials: TrialParameters[] = [{}];
    for (const [path, { values }] of Object.entries(context.parameters)) {
      trials = trials.flatMap((trial) => values.map((value) => ({ ...trial, [path]: value })));
    }
    return trials;
  },
};

export function createSweepMethodRegistry(): SweepMethodRegistry {
  const registry: SweepMethodRegistry = new Registry('sweep method', 'sweeps');
  registry.register(grid);
  return registry;
}

export interface SweepOptions {
  file: string;
  load: LoadOptions;
  /** What the sweep was started with; each trial records it plus its own values. */
  invocation: Omit<Invocation, 'configHash' | 'trial'>;
  out?: string;
  root: string;
  argv: string[];
  print(line: string): void;
  /** Where each trial reports (the console, TensorBoard with the trial's values, plots). */
  sinksFor(trial: LoadedExperiment, parameters: TrialParameters): RunSink[];
  signal?: AbortSignal;
  versions?: Record<string, string>;
  backendOptions?: RunOptions['backendOptions'];
}

interface TrialRecord {
  id: string;
  parameters: TrialParameters;
  status: 'completed' | 'failed' | 'interrupted';
  metrics: Record<string, number>;
  expectationsMet: boolean;
  runDirectory: string;
}

/**
 * Every trial a sweep proposes, each loaded and validated as its own experiment; all problems of
 * all trials are reported together (as one ConfigError) before anything runs.
 */
export function loadSweepTrials(base: LoadedExperiment, registries: Registries, file: string, load: LoadOptions): { proposals: TrialParameters[]; trials: LoadedExperiment[] } {
  const sweep = base.resolved.sweep!;
  const method = (registries.sweeps as SweepMethodRegistry).get(sweep.method ?? 'grid').create({}, { parameters: sweep.parameters });
  const proposals = method();
  const trials: LoadedExperiment[] = [];
  const problems: Diagnostic[] = [];
  for (const parameters of proposals) {
    try {
      trials.push(loadExperiment(file, registries, { ...load, trial: trialOverrides(parameters, sweep.parameters) }));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const found of error.diagnostics) {
        const d = found.file === 'sweep' ? atSweepValue(base, found, parameters) : found;
        if (!problems.some((p) => p.message === d.message && p.line === d.line && p.col === d.col)) problems.push(d);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { proposals, trials };
}

/** A problem with a value the sweep set, moved to where that value is written in the sweep block. */
function atSweepValue(base: LoadedExperiment, diagnostic: Diagnostic, trial: TrialParameters): Diagnostic {
  const parameters = base.resolved.sweep!.parameters;
  for (const [name, value] of Object.entries(trial)) {
    const config = parameters[name]!;
    const paths = (config.paths ?? [name]).map((p) => formatPath(base.source.resolvePath(parsePath(p))));
    if (!paths.some((p) => diagnostic.path === p || diagnostic.path.startsWith(`${p}.`) || diagnostic.path.startsWith(`${p}[`))) continue;
    const index = config.values.findIndex((v) => JSON.stringify(v) === JSON.stringify(value));
    return base.source.diagnostic(['sweep', 'parameters', name, 'values', index], `${diagnostic.path}: ${diagnostic.message}`);
  }
  return diagnostic;
}

/**
 * Runs one trial per combination the sweep method proposes, each a normal run under
 * `<out>/trials/<trial-id>/`, then writes `<out>/summary.json` with every trial and the best.
 * Every trial's config is validated before the first one starts.
 */
export async function runSweep(base: LoadedExperiment, registries: Registries, options: SweepOptions): Promise<number> {
  const sweep = base.resolved.sweep!;
  const goal = sweep.goal ?? 'maximize';
  const { proposals, trials } = loadSweepTrials(base, registries, options.file, options.load);

  const out = options.out ?? join(options.root, 'runs', base.resolved.name, `sweep-${newRunId(new Date(), base.resolved.seed)}`);
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new ConfigError(`--out ${out}: the folder is not empty; give a new or empty folder`);
  }
  mkdirSync(join(out, 'trials'), { recursive: true });
  const records: TrialRecord[] = [];
  let interrupted = false;
  for (const [index, trial] of trials.entries()) {
    const id = `trial-${String(index + 1).padStart(3, '0')}`;
    const parameters = proposals[index]!;
    options.print(`\n${id} of ${trials.length}: ${Object.entries(parameters).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`);
    const outcome = await runExperiment(trial, registries, {
      out: join(out, 'trials', id),
      root: options.root,
      argv: options.argv,
      sinks: options.sinksFor(trial, parameters),
      invocation: { ...options.invocation, trial: trialOverrides(parameters, sweep.parameters) },
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.versions !== undefined ? { versions: options.versions } : {}),
      ...(options.backendOptions !== undefined ? { backendOptions: options.backendOptions } : {}),
    });
    records.push({
      id,
      parameters,
      status: outcome.status,
      metrics: outcome.metrics,
      expectationsMet: outcome.expectations.every((e) => e.met),
      runDirectory: join('trials', id),
    });
    if (outcome.status === 'interrupted') {
      interrupted = true;
      break;
    }
  }
  const ranked = records.filter((r) => r.status === 'completed' && Number.isFinite(r.metrics[sweep.metric]));
  ranked.sort((a, b) => (goal === 'maximize' ? b.metrics[sweep.metric]! - a.metrics[sweep.metric]! : a.metrics[sweep.metric]! - b.metrics[sweep.metric]!));
  const best = ranked[0];
  const summary = {
    name: base.resolved.name,
    status: interrupted ? 'interrupted' : records.every((r) => r.status === 'completed') ? 'completed' : 'failed',
    sweep: { method: sweep.method ?? 'grid', metric: sweep.metric, goal, parameters: sweep.parameters },
    trials: records,
    best: best === undefined ? null : { id: best.id, parameters: best.parameters, [sweep.metric]: best.metrics[sweep.metric] },
  };
  writeFileAtomic(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  options.print(`\n${sweepTable(records, sweep.metric, best?.id)}`);
  if (best !== undefined) options.print(`best: ${best.id} (${sweep.metric} = ${formatNumber(best.metrics[sweep.metric])})`);
  options.print(`sweep directory: ${out}`);
  if (interrupted) return 130;
  const completed = records.filter((r) => r.status === 'completed');
  if (best === undefined && completed.length > 0) {
    const reported = [...new Set(completed.flatMap((r) => Object.keys(r.metrics)))].sort();
    options.print(`no trial reported sweep.metric '${sweep.metric}', so there is no best trial (the trials reported: ${reported.join(', ')})`);
    return 1;
  }
  return records.every((r) => r.status === 'completed' && r.expectationsMet) ? 0 : 1;
}

function sweepTable(records: TrialRecord[], metric: string, bestId: string | undefined): string {
  const parameterNames = [...new Set(records.flatMap((r) => Object.keys(r.parameters)))];
  const metricNames = [...new Set(records.flatMap((r) => Object.keys(r.metrics)))].sort((a, b) => (a === metric ? -1 : b === metric ? 1 : a.localeCompare(b)));
  // The generalization gap is what regularization comparisons are about: for every metric measured
  // on both train and test, a column with the gap, signed so that overfitting is positive.
  const gaps = metricNames
    .filter((m) => m.startsWith('train.') && metricNames.includes(`test.${m.slice('train.'.length)}`))
    .map((m) => m.slice('train.'.length));
  const gapHead = (m: string) => (m.includes('loss') ? `test−train ${m}` : `train−test ${m}`);
  const gapValue = (r: TrialRecord, m: string) => {
    const difference = (r.metrics[`train.${m}`] ?? NaN) - (r.metrics[`test.${m}`] ?? NaN);
    return formatNumber(m.includes('loss') ? -difference : difference);
  };
  const table = new Table({ head: ['trial', ...parameterNames, 'status', ...metricNames, ...gaps.map(gapHead)], style: { head: [], border: [] } });
  for (const r of records) {
    table.push([
      r.id === bestId ? `${r.id} *` : r.id,
      ...parameterNames.map((p) => (typeof r.parameters[p] === 'string' ? String(r.parameters[p]) : JSON.stringify(r.parameters[p]))),
      r.status === 'completed' && !r.expectationsMet ? 'expectations not met' : r.status,
      ...metricNames.map((m) => formatNumber(r.metrics[m])),
      ...gaps.map((m) => gapValue(r, m)),
    ]);
  }
  return table.toString();
}
