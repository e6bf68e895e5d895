import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { activateBackend } from '@dlexp/backends';
import { formatDiagnostic } from '@dlexp/core';
import type { LoadedExperiment } from '@dlexp/config';
import { writeSweepPlots } from '@dlexp/plots';
import type { QueuedTrialContext, QueueTarget } from '@dlexp/queue';
import {
  bestLine,
  checkExperimentSweep,
  configurationYaml,
  createChildProcessExecutor,
  createTrialResolver,
  epochTable,
  gridSize,
  readTrialRows,
  runSweep,
  sweepTable,
  type SweepLoadOptions,
  type Executor,
  type ResolvedSweepConfig,
  type SweepSummaryFile,
  type TrialHostContext,
} from '@dlexp/sweep';
import { loadExperiment, newRunId, type Invocation, type Registries, type RunOptions } from '@dlexp/train';
import { EXIT, type Io } from './io';
import { writeSweepJUnitReport } from './run-sinks';
import { createLiveView } from './sweep-live';
import { writeTrajectoryPlots } from './sweep-plots';

/** What a trial process gets besides the sweep library's context: the host's versions, and a queued trial's spec. */
export interface HostTrialContext extends TrialHostContext {
  versions: Record<string, string>;
  /** A trial taken from a queue by a worker: opened from its spec (see @dlexp/queue). */
  queued?: QueuedTrialContext;
}

/** A sweep's queue, as the command line chose it. */
export interface QueueChoice {
  url: string;
  name?: string;
  retries?: number;
}

/**
 * Checks an experiment's sweep without running it: the block at its YAML lines, and the trials it
 * can propose validated as experiments. Returns the warnings (a test metric), formatted.
 */
export function validateSweep(experiment: LoadedExperiment, registries: Registries, file: string, load: SweepLoadOptions): string[] {
  return checkExperimentSweep(experiment, registries, { file, load }).warnings.map(formatDiagnostic);
}

export interface SweepCommandOptions {
  /** The trial process's entry script (the host's own) and the Node options it needs (a TypeScript loader). */
  trialEntry: string;
  trialExecArgv: string[];
  /** Where the JUnit report goes (absolute), with --junit. */
  junit?: string;
  /** The experiment file, absolute. */
  file: string;
  load: SweepLoadOptions;
  /** What the sweep was started with; each trial records it plus its own values. */
  invocation: Omit<Invocation, 'configHash' | 'trial'>;
  out?: string;
  root: string;
  argv: string[];
  io: Io;
  /** Whether the terminal gets a live table (else plain lines). */
  interactive: boolean;
  signal: AbortSignal;
  versions: Record<string, string>;
  backendOptions?: RunOptions['backendOptions'];
  /** Run the trials on workers through this queue instead of in processes of this machine. */
  queue?: QueueChoice;
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

/**
 * `parallel` of a sweep through a queue when the block leaves it out. Grid and random proposals
 * ignore results: every trial is enqueued at once and the workers take them as they free up.
 * Samplers that learn from results (TPE) and early termination get the trial slots of the
 * workers listening when the sweep starts (at least 1): more trials at once would be proposed
 * from fewer results for no gain. Recorded in summary.json, as always, for resume.
 */
async function queueParallel(config: ResolvedSweepConfig, target: QueueTarget, queueName: string, io: Io): Promise<number> {
  const adaptive = (config.method !== 'grid' && config.method !== 'random') || config.earlyTermination !== undefined;
  if (!adaptive) {
    const configurations = config.method === 'grid' ? Math.min(gridSize(config.space), config.maxTrials ?? Infinity) : (config.maxTrials ?? 1);
    return Number.isFinite(configurations) ? Math.max(1, configurations * config.repeats) : 1;
  }
  const { workerSlots } = await import('@dlexp/queue');
  const { workers, slots } = await workerSlots(target, queueName);
  if (workers === 0) io.out('no worker listens on the queue yet: 1 trial at a time (set sweep.parallel to choose; start workers with runner worker --queue …)');
  return Math.max(1, slots);
}

/** The queue's executor, or an error (exit 2) when its URL is wrong or its Redis cannot be reached: checked before the sweep's folder exists. */
async function openSweepQueue(choice: QueueChoice): Promise<{ target: QueueTarget; name: string; retries: number }> {
  const { checkQueueConnection, checkQueueName, parseQueueUrl, DEFAULT_QUEUE_NAME } = await import('@dlexp/queue');
  const target = parseQueueUrl(choice.url);
  const name = checkQueueName(choice.name ?? DEFAULT_QUEUE_NAME);
  await checkQueueConnection(target);
  return { target, name, retries: choice.retries ?? 2 };
}

/** Why a trial's values make no valid experiment: the error loading it gives, as a local trial would fail with. */
function unresolvedTrialError(registries: Registries, file: string, load: SweepLoadOptions, spec: { parameters: Record<string, unknown>; seed: number }): string {
  const { plugins: _plugins, workspace: _workspace, ...options } = load as SweepLoadOptions & { plugins?: unknown; workspace?: unknown };
  try {
    loadExperiment(file, registries, { ...options, trial: { ...spec.parameters, seed: spec.seed } });
    return 'its experiment could not be resolved on the coordinator';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
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

  const context: HostTrialContext = {
    file,
    open: load,
    invocation: options.invocation,
    root: options.root,
    argv: options.argv,
    versions: options.versions,
  };
  const live = createLiveView({ io, interactive: options.interactive, metric: config.metric });
  const queue = options.queue !== undefined ? await openSweepQueue(options.queue) : undefined;
  const { createQueueExecutor } = queue !== undefined ? await import('@dlexp/queue') : { createQueueExecutor: undefined };
  const closers: (() => Promise<void>)[] = [];
  const localExecutor = (): Executor =>
    createChildProcessExecutor({
      entry: options.trialEntry,
      execArgv: options.trialExecArgv,
      context: context as unknown as Parameters<typeof createChildProcessExecutor>[0]['context'],
      runDirectory: (spec) => join(out, 'trials', spec.trialId),
      onOutput: live.output,
    });
  const result = await runSweep({
    name: experiment.resolved.name,
    config,
    written: experiment.resolved.sweep as unknown as Parameters<typeof runSweep>[0]['written'],
    experimentHash: checked.experimentHash,
    experimentSeed: experiment.resolved.seed,
    out,
    defaultParallel: () => (queue !== undefined ? queueParallel(config, queue.target, queue.name, io) : defaultParallel(experiment, options)),
    resolveTrial: createTrialResolver(experiment, registries, { file, load }),
    executor: (parallel, run) => {
      live.begin(parallel, out);
      if (queue === undefined || createQueueExecutor === undefined) return localExecutor();
      io.out(`trials go to the workers of queue ${queue.name} at ${queue.target.display}${run.resumed ? ' (those already there are followed, not enqueued again)' : ''}`);
      const executor = createQueueExecutor({
        target: queue.target,
        queueName: queue.name,
        run,
        name: experiment.resolved.name,
        experimentFile: file,
        workspace: options.root,
        quick: load.quick === true,
        pruning: config.earlyTermination !== undefined,
        retries: queue.retries,
        invocation: options.invocation as unknown as Parameters<typeof createQueueExecutor>[0]['invocation'],
        argv: options.argv,
        runDirectory: (spec) => join(out, 'trials', spec.trialId),
        onOutput: live.output,
        onNotice: (line) => io.err(line),
        explainUnresolved: (spec) => unresolvedTrialError(registries, file, load, spec),
      });
      closers.push(() => executor.close());
      return executor;
    },
    signal: options.signal,
    onEvent: (event, state) => {
      // Stopping the coordinator leaves a queued trial to its worker: the next run follows it.
      if (queue !== undefined && event.type === 'interrupted' && !options.interactive) io.out(`${event.trialId} stays in the queue: its worker goes on, and the next run of the sweep follows it`);
      else live.event(event, state);
    },
  }).finally(async () => {
    for (const close of closers) await close();
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
  writeSweepJUnitReport(options.junit, out, experiment);
  io.out(`sweep directory: ${out}`);

  if (result.status === 'interrupted') {
    const again = options.out === undefined ? ` with --out ${out}` : '';
    if (queue !== undefined) io.out(`interrupted: the trials in the queue go on on the workers; run the same command${again} to follow them again and finish the sweep`);
    else io.out(`interrupted: each running trial saved a checkpoint; run the same command${again} to resume the sweep`);
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
