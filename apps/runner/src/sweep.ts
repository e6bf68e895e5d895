import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { activateBackend } from '@dlexp/backends';
import { formatDiagnostic } from '@dlexp/core';
import type { LoadedExperiment } from '@dlexp/config';
import { writeSweepPlots } from '@dlexp/plots';
import {
  bestLine,
  checkExperimentSweep,
  configurationYaml,
  createChildProcessExecutor,
  createSamplerRegistry,
  createTrialResolver,
  epochTable,
  readTrialRows,
  runSweep,
  sweepTable,
  type SweepLoadOptions,
  type SweepMethodRegistry,
  type SweepSummaryFile,
} from '@dlexp/sweep';
import { newRunId, type Invocation, type Registries, type RunOptions } from '@dlexp/train';
import { EXIT, type Io } from './cli/context';
import type { OptionValues } from './cli/options';
import { writeSweepJUnitReport } from './cli/run-sinks';
import { createLiveView } from './sweep-live';
import { writeTrajectoryPlots } from './sweep-plots';
import type { RunnerTrialContext } from './trial-child';

/** The sweep methods (grid, random, tpe), from the sweep library; they also define the `sweep:` block's schema. */
export function createSweepMethodRegistry(): SweepMethodRegistry {
  return createSamplerRegistry();
}

/** The trial process's entry, run through tsx like the runner itself. */
const TRIAL_ENTRY = fileURLToPath(new URL('./trial-child.ts', import.meta.url));
const typescriptLoader = () => ['--import', import.meta.resolve('tsx')];

/**
 * Checks an experiment's sweep without running it: the block at its YAML lines, and the trials it
 * can propose validated as experiments. Returns the warnings (a test metric), formatted.
 */
export function validateSweep(experiment: LoadedExperiment, registries: Registries, file: string, load: SweepLoadOptions): string[] {
  return checkExperimentSweep(experiment, registries, { file, load }).warnings.map(formatDiagnostic);
}

export interface SweepCommandOptions {
  /** The experiment file, absolute. */
  file: string;
  load: SweepLoadOptions;
  /** What the sweep was started with; each trial records it plus its own values. */
  invocation: Omit<Invocation, 'configHash' | 'trial'>;
  out?: string;
  root: string;
  argv: string[];
  /** The command line's options, for the trials' sinks (console, TensorBoard, plots). */
  values: OptionValues;
  io: Io;
  /** Whether the terminal gets a live table (else plain lines). */
  interactive: boolean;
  signal: AbortSignal;
  versions: Record<string, string>;
  backendOptions?: RunOptions['backendOptions'];
}

/**
 * `parallel` when the sweep block leaves it out: the core count for CPU backends (cpu, wasm,
 * native), divided by the threads each trial computes with; 1 on a GPU, which trials would share.
 * `auto` is resolved here once, as each trial would resolve it.
 */
async function defaultParallel(experiment: LoadedExperiment, options: SweepCommandOptions): Promise<number> {
  const { backend: named, threads } = experiment.resolved;
  const backend =
    named === 'auto'
      ? (await activateBackend(named, { ...options.backendOptions, log: () => undefined, ...(threads !== undefined ? { threads } : {}) })).name
      : named;
  if (backend === 'cuda' || backend === 'webgpu') return 1;
  return Math.max(1, Math.floor(availableParallelism() / (threads ?? 1)));
}

/** The metrics of the per-epoch table: the sweep's metric and the loss of its split. */
function epochKeys(metric: string): string[] {
  const split = metric.includes('.') ? metric.slice(0, metric.indexOf('.')) : undefined;
  const loss = split === undefined ? undefined : `${split}.loss`;
  return loss === undefined || loss === metric ? [metric] : [loss, metric];
}

/** Runs the sweep an experiment holds, with a live view, and prints its results; returns the exit code. */
export async function runSweepCommand(experiment: LoadedExperiment, registries: Registries, options: SweepCommandOptions): Promise<number> {
  const { io, file, load } = options;
  const checked = checkExperimentSweep(experiment, registries, { file, load });
  for (const warning of checked.warnings) io.err(formatDiagnostic(warning));
  const { config } = checked;
  const out = options.out ?? join(options.root, 'runs', experiment.resolved.name, `sweep-${newRunId(new Date(), experiment.resolved.seed)}`);

  const context: RunnerTrialContext = {
    file,
    open: load,
    invocation: options.invocation,
    root: options.root,
    argv: options.argv,
    values: options.values,
    versions: options.versions,
  };
  const live = createLiveView({ io, interactive: options.interactive, metric: config.metric });
  const result = await runSweep({
    name: experiment.resolved.name,
    config,
    written: experiment.resolved.sweep as unknown as Parameters<typeof runSweep>[0]['written'],
    experimentHash: checked.experimentHash,
    experimentSeed: experiment.resolved.seed,
    out,
    defaultParallel: () => defaultParallel(experiment, options),
    resolveTrial: createTrialResolver(experiment, registries, { file, load }),
    executor: (parallel) => {
      live.begin(parallel, out);
      return createChildProcessExecutor({
        entry: TRIAL_ENTRY,
        execArgv: typescriptLoader(),
        context: context as unknown as Parameters<typeof createChildProcessExecutor>[0]['context'],
        runDirectory: (spec) => join(out, 'trials', spec.trialId),
        onOutput: live.output,
      });
    },
    signal: options.signal,
    onEvent: live.event,
  });
  live.stop();

  const summary = result.file;
  printResults(summary, out, io, experiment.resolved.train);
  if (summary.best !== null) {
    io.out('\nthe best configuration, as an experiment (the sweep block removed):\n');
    io.out(configurationYaml(registries, { file, load }, { ...summary.best.parameters }).trimEnd());
    io.out(`\n# or as overrides of ${load.displayName ?? file}:\n${stringify(summary.best.parameters).trimEnd()}`);
  }
  await writePlots(out, experiment, result.state.records(), io);
  // With --junit, one suite per trial, read from the summary just written.
  writeSweepJUnitReport(options.values, out, experiment);
  io.out(`sweep directory: ${out}`);

  if (result.status === 'interrupted') {
    const again = options.out === undefined ? ` with --out ${out}` : '';
    io.out(`interrupted: each running trial saved a checkpoint; run the same command${again} to resume the sweep`);
    return EXIT.interrupted;
  }
  return exitCode(summary, io);
}

function printResults(summary: SweepSummaryFile, out: string, io: Io, train: LoadedExperiment['resolved']['train']): void {
  io.out(`\n${sweepTable(summary, { stoppedColumn: train.stopWhen !== undefined })}`);
  // The metric per epoch, side by side: the optimizer comparison's table (budgets in epochs only).
  const configurations = new Set(summary.trials.map((t) => t.configuration)).size;
  if (configurations <= 10 && train.epochs !== undefined) {
    const rows = new Map(summary.trials.map((t) => [t.id, readTrialRows(out, t.id)]));
    const table = epochTable(summary, rows, epochKeys(summary.sweep.metric));
    if (table !== undefined) io.out(`\n${table}`);
  }
  const best = bestLine(summary);
  if (best !== undefined) io.out(`\n${best}`);
  const spent = summary.epochs;
  if (summary.sweep.earlyTermination !== null && spent > 0) io.out(`epochs trained by all trials together: ${Number(spent.toFixed(2))}`);
}

/** Plots of the sweep (and its trials' paths over their surface); a failure is a warning, not a failed sweep. */
async function writePlots(out: string, experiment: LoadedExperiment, records: Parameters<typeof writeTrajectoryPlots>[2], io: Io): Promise<void> {
  if (!experiment.resolved.plots) return;
  const warn = (message: string) => io.err(`warning: plots: ${message}`);
  try {
    const written = await writeSweepPlots(out, { onWarning: warn });
    for (const problem of written.problems) warn(problem);
  } catch (error) {
    warn((error as Error).message);
  }
  try {
    await writeTrajectoryPlots(out, experiment, records, warn);
  } catch (error) {
    warn(`trajectories: ${(error as Error).message}`);
  }
}

/**
 * 0 when the sweep found a best configuration whose trials met the experiment's expectations;
 * 1 when no trial completed with the metric, or the best missed an expectation. Trials that
 * failed or were pruned are part of a sweep's normal work and do not fail it.
 */
function exitCode(summary: SweepSummaryFile, io: Io): number {
  const { metric } = summary.sweep;
  if (summary.best === null) {
    const completed = summary.trials.filter((t) => t.status === 'completed');
    const reported = [...new Set(completed.flatMap((t) => Object.keys(t.metrics)))].sort();
    io.out(
      completed.length === 0
        ? 'no trial completed, so there is no best configuration'
        : `no configuration completed every repeat with sweep.metric '${metric}', so there is no best (the trials reported: ${reported.join(', ')})`,
    );
    return EXIT.failed;
  }
  const bestTrials = summary.trials.filter((t) => summary.best!.trialIds.includes(t.id));
  if (bestTrials.some((t) => t.expectationsMet === false)) {
    io.out('the best configuration did not meet every expectation of the experiment (see its trials\' summary.json)');
    return EXIT.failed;
  }
  return EXIT.ok;
}
