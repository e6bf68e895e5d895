import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, RunError } from '@dlexp/core';
import { activateBackend, type ActivateOptions } from '@dlexp/backends';
import type { LoadedExperiment } from '@dlexp/config';
import type { DataSplit, LoadedDataset } from '@dlexp/data';
import { buildModel, checkWatchedMetrics, loadData, preflightKernels } from './build';
import { computeEmbedding } from './embedding';
import { openExperiment } from './experiment';
import { checkExpectations, type ExpectationResult } from './expectations';
import { configHash, type Invocation } from './invocation';
import { collectPredictions, evaluateSplit } from './loop/evaluation';
import { multiTaskProblems } from './loop/multi-task';
import { restoreCheckpoint, trainModel, type Splits, type TrainResult } from './loop/train-loop';
import { preprocessingFor } from './models/preprocessing';
import type { TrainableModel } from './models/trainable-model';
import { prepareTransfer, type TransferOptions } from './models/transfer';
import { buildOptimizer } from './optimizer';
import type { Registries } from './registries';
import { createRunDirectorySink } from './sinks/run-directory-sink';
import { combineSinks, type RunSink, type RunSummary } from './sinks/sink';
import { CheckpointFolder, type Checkpoint } from './storage/checkpoints';
import { readFolder } from './storage/files';
import { RunDirectory } from './storage/run-directory';

export interface RunOptions {
  /** Exactly this run directory (`--out`). */
  out?: string;
  /** Continue the run in this existing directory from its newest checkpoint. */
  resume?: string;
  /** The command-line options that produced `experiment` (recorded in invocation.json). */
  invocation?: Omit<Invocation, 'configHash'>;
  /** Where `runs/` goes when `out` is not given. */
  root: string;
  /** Command-line options the run was started with, noted at the top of config.resolved.yaml. */
  argv: string[];
  /** Where the run reports besides its own directory (console, TensorBoard, a live view). */
  sinks?: RunSink[];
  /** Aborting stops training between two steps, saves a checkpoint and ends the run 'interrupted'. */
  signal?: AbortSignal;
  /** Versions to record in summary.json besides the backend's (the host's: runner, git commit). */
  versions?: Record<string, string>;
  /** What the host adds to backend selection (a WebGPU adapter probe in a child process). */
  backendOptions?: Pick<ActivateOptions, 'probeWebgpuAdapter'>;
  /** Where experiments named in model.from are trained and kept (default: the user's cache folder). */
  modelCache?: string;
}

export interface RunOutcome {
  status: 'completed' | 'failed' | 'interrupted';
  runDirectory: string;
  metrics: Record<string, number>;
  expectations: ExpectationResult[];
  summary: RunSummary;
}

/**
 * Runs one experiment: backend → data → model → optimizer (config errors all surface before the
 * run directory exists) → train → final metrics → expectations → summary.json, written last.
 * A run failure (a NaN loss) ends as status 'failed' with its summary written; config errors throw
 * ConfigError; anything else is a bug and is rethrown after the summary records it.
 */
export async function runExperiment(experiment: LoadedExperiment, registries: Registries, options: RunOptions): Promise<RunOutcome> {
  const config = experiment.resolved;
  const startedAt = new Date();
  const extraSinks = combineSinks(options.sinks ?? []);
  const say = (line: string) => extraSinks.message(line);
  if (options.out !== undefined && options.resume === undefined) RunDirectory.assertUsable(options.out);
  // --- A model that starts from a saved one: found (an experiment trained once, into the cache)
  // before this run picks its backend, and its kept layers spliced into the model config.
  const quick = options.invocation?.quick ?? (options.resume !== undefined && startedQuick(options.resume));
  const transfer = await prepareTransfer(experiment, transferOptions(registries, options, quick, say));
  const building = transfer?.experiment ?? experiment;
  if (transfer !== undefined) say(transfer.description);
  const backend = await activateBackend(config.backend, { ...options.backendOptions, log: say, ...(config.threads !== undefined ? { threads: config.threads } : {}) });
  const dataset = await loadData(experiment, registries);
  const splits: Splits = dataset.splits;
  if (splits.train === undefined) throw new ConfigError([experiment.source.diagnostic(['data'], 'the dataset has no train split')]);
  await preflightKernels(building, registries, backend, splits.train);
  tf.engine().startScope();
  let model: TrainableModel | undefined;
  let optimizer: ReturnType<typeof buildOptimizer> | undefined;
  try {
    model = await buildModel(building, registries, splits.train, say);
    transfer?.initialize(model);
    checkMultiTask(experiment, model, say);
    optimizer = buildOptimizer(config.train, registries);
    await checkWatchedMetrics(experiment, model, splits);
    // A projector layer that does not exist is a config error now, not after training.
    await computeEmbedding(experiment, model, dataset);

    // --- The run directory exists only once the experiment is known to be runnable.
    const hash = configHash(config);
    const directory =
      options.resume !== undefined
        ? RunDirectory.open(options.resume)
        : RunDirectory.create({ ...(options.out !== undefined ? { out: options.out } : {}), root: options.root, name: config.name, seed: config.seed, now: startedAt });
    const checkpoints = new CheckpointFolder(directory.file('checkpoints'), config.train.keepCheckpoints);
    const resumeFrom = options.resume !== undefined ? checkpoints.latest() : undefined;
    if (options.resume !== undefined) say(resumeFrom === undefined ? 'no checkpoint yet: starting again from step 0' : `resuming from step ${resumeFrom.state.step}`);
    const sink = combineSinks([
      createRunDirectorySink(directory, { invocation: options.invocation ?? { file: experiment.file, quick: false, set: [] }, argv: options.argv }),
      ...(options.sinks ?? []),
    ]);
    const backendSummary: RunSummary['backend'] = {
      name: backend.name,
      tfBackend: backend.tfBackend,
      ...(backend.adapter !== undefined ? { adapter: backend.adapter } : {}),
      ...(backend.device !== undefined ? { device: backend.device } : {}),
      ...(backend.threads !== undefined ? { threads: backend.threads } : {}),
    };
    const summary: RunSummary = {
      name: config.name,
      status: 'failed',
      seed: config.seed,
      backend: backendSummary,
      metrics: {},
      timing: {},
      configHash: hash,
      versions: { ...(options.versions ?? {}), ...backend.versions },
    };
    const stepsPerEpoch = splits.train.size === undefined ? undefined : Math.ceil(splits.train.size / Math.min(config.train.batchSize ?? splits.train.size, splits.train.size));
    await sink.start({
      experiment,
      configHash: hash,
      runDirectory: directory.path,
      backend,
      dataset: dataset.description,
      graphDef: model.graphDef(),
      firstStep: resumeFrom?.state.step ?? 0,
      loggedRows: resumeFrom?.state.loggedRows ?? 0,
      totalSteps: config.train.steps ?? (stepsPerEpoch === undefined ? undefined : stepsPerEpoch * config.train.epochs!),
      stepsPerEpoch,
    });
    say(`${config.name}: ${dataset.description}; backend ${backend.name}${backend.adapter !== undefined ? ` (${backend.adapter})` : ''}`);

    try {
      // --- Train.
      let result: TrainResult;
      try {
        result = await trainModel({
          model,
          optimizer,
          train: config.train,
          splits,
          seed: config.seed,
          sink,
          checkpoints,
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
          ...(resumeFrom !== undefined ? { resumeFrom } : {}),
        });
      } finally {
        if (resumeFrom !== undefined) tf.dispose([...resumeFrom.tensors.values()]);
      }
      if (result.stoppedEarlyAt !== undefined) {
        const stopping = config.train.earlyStopping!;
        say(`early stopping: ${stopping.metric} did not improve for ${stopping.patience ?? 3} epochs; stopped after epoch ${result.stoppedEarlyAt}`);
      }
      if (result.stopped !== undefined) say(`stopped at step ${result.stopped.step}: ${result.stopped.reason}`);
      if (result.status === 'interrupted') say(`interrupted: checkpoint saved at step ${result.steps}; continue with: runner resume ${directory.path}`);

      // --- With keepBest.restore, what is measured and saved is the best checkpoint's model.
      const keepBest = config.train.keepBest;
      let restoredBest = false;
      if (result.status === 'completed' && keepBest?.restore === true && result.best !== undefined && result.best.step !== result.steps) {
        const best = checkpoints.best();
        if (best !== undefined) {
          restoreFrom(model, optimizer, best);
          restoredBest = true;
          say(`keepBest: measuring the best checkpoint (step ${result.best.step}, ${keepBest.metric} = ${result.best.value})`);
        }
      }

      // --- Final metrics on every whole split, the model, predictions, expectations.
      const metrics = result.status === 'completed' ? await finalMetrics(model, splits) : {};
      const files = new Map<string, string>();
      if (result.status === 'completed') {
        const predictions = await collectPredictions(model, splits.train);
        if (predictions !== undefined) files.set(predictions.file, toCsv(predictions.columns));
      }
      const expectations = result.status === 'completed' ? checkExpectations(experiment.expectations, metrics) : [];
      Object.assign(summary, {
        status: result.status,
        metrics,
        timing: timing(startedAt, result),
        ...(result.stoppedEarlyAt !== undefined ? { stoppedEarlyAtEpoch: result.stoppedEarlyAt } : {}),
        ...(result.stopped !== undefined ? { stopped: result.stopped } : {}),
        ...(result.best !== undefined && keepBest !== undefined ? { best: { metric: keepBest.metric, value: result.best.value, step: result.best.step, restored: restoredBest } } : {}),
        ...(expectations.length > 0 ? { expectations } : {}),
      });
      const embedding = result.status === 'completed' ? await computeEmbedding(experiment, model, dataset) : undefined;
      const savedModel = result.status === 'completed' ? await modelFiles(model, dataset) : undefined;
      await sink.end({ summary, files, ...(savedModel !== undefined ? { model: savedModel } : {}), ...(embedding !== undefined ? { embedding } : {}) });
      return { status: result.status, runDirectory: directory.path, metrics, expectations, summary };
    } catch (error) {
      summary.error = (error as Error).message;
      summary.timing = { startedAt: startedAt.toISOString(), totalMs: Date.now() - startedAt.getTime() };
      if (error instanceof RunError) say(`run failed: ${error.message}`);
      await sink.end({ summary, files: new Map() });
      if (error instanceof RunError) {
        return { status: 'failed', runDirectory: directory.path, metrics: {}, expectations: [], summary };
      }
      throw error;
    }
  } finally {
    optimizer?.dispose();
    model?.dispose();
    tf.engine().endScope();
  }
}

/** How model.from trains an experiment it names: a run of its own, reporting through this run's messages. */
function transferOptions(registries: Registries, options: RunOptions, quick: boolean, say: (line: string) => void): TransferOptions {
  return {
    quick,
    say,
    ...(options.modelCache !== undefined ? { cacheDirectory: options.modelCache } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    open: (file, open) => openExperiment(file, registries, open),
    train: (source, out) =>
      runExperiment(source, registries, {
        out,
        root: options.root,
        argv: [],
        invocation: { file: source.file, quick, set: [] },
        sinks: [
          {
            message: (line) => say(`  ${line}`),
            row: (row) => say(`  ${source.resolved.name}: ${Object.entries(row).filter(([k]) => k !== 'timeMs').map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`),
          },
        ],
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(options.versions !== undefined ? { versions: options.versions } : {}),
        ...(options.backendOptions !== undefined ? { backendOptions: options.backendOptions } : {}),
        ...(options.modelCache !== undefined ? { modelCache: options.modelCache } : {}),
      }),
  };
}

/** Whether the run in `runDirectory` was started with --quick (its model.from experiment is then the quick form). */
function startedQuick(runDirectory: string): boolean {
  const file = join(runDirectory, 'invocation.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { quick?: boolean }).quick === true;
  } catch {
    return false;
  }
}

/** train.multiTask against the model's heads: problems are config errors at their line. */
function checkMultiTask(experiment: LoadedExperiment, model: TrainableModel, say: (line: string) => void): void {
  const multiTask = experiment.resolved.train.multiTask;
  const problems = multiTaskProblems(multiTask, model);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => experiment.source.diagnostic(['train', ...p.path], p.message)));
  const heads = model.heads?.() ?? [];
  if (heads.length > 1) say(`multi-task: ${multiTask?.mode ?? 'joint'} training of ${heads.join(', ')}`);
}

/** The model's files, with preprocessing.json for a model fed with images (so predicting needs no flags). */
async function modelFiles(model: TrainableModel, dataset: LoadedDataset): Promise<Map<string, Uint8Array>> {
  const files = await model.exportFiles();
  const preprocessing = preprocessingFor(model, dataset);
  if (preprocessing !== undefined) files.set('preprocessing.json', new TextEncoder().encode(`${JSON.stringify(preprocessing, null, 2)}\n`));
  return files;
}

function timing(startedAt: Date, result: TrainResult): RunSummary['timing'] {
  return {
    startedAt: startedAt.toISOString(),
    totalMs: Date.now() - startedAt.getTime(),
    trainMs: Math.round(result.trainMs),
    steps: result.steps,
    epochs: result.epochs,
    msPerStep: result.steps > 0 ? result.trainMs / result.steps : 0,
  };
}

/** Every split measured whole, plus the model's fetched values. */
async function finalMetrics(model: TrainableModel, splits: Splits): Promise<Record<string, number>> {
  const metrics: Record<string, number> = {};
  for (const [name, split] of Object.entries(splits)) {
    if (split === undefined) continue;
    for (const [metric, value] of Object.entries(await evaluateSplit(model, split))) metrics[`${name}.${metric}`] = value;
  }
  Object.assign(metrics, await model.fetchedValues());
  return metrics;
}

function restoreFrom(model: TrainableModel, optimizer: ReturnType<typeof buildOptimizer>, checkpoint: Checkpoint): void {
  try {
    restoreCheckpoint(model, optimizer, checkpoint.tensors, checkpoint.state.step);
  } finally {
    tf.dispose([...checkpoint.tensors.values()]);
  }
}

function toCsv(columns: Record<string, number[]>): string {
  const names = Object.keys(columns);
  const rows = columns[names[0]!]?.length ?? 0;
  const lines = [names.join(',')];
  for (let i = 0; i < rows; i++) lines.push(names.map((n) => String(columns[n]![i])).join(','));
  return `${lines.join('\n')}\n`;
}

/** Which weights `evaluate` measures: the saved model (`last`, the default) or the keepBest checkpoint. */
export type EvaluatedCheckpoint = 'last' | 'best';

/**
 * Restores a run's model and measures it on one split (the course's restore-and-test). `last` is
 * the model saved at the end (or, for a run that did not finish, its newest checkpoint); `best`
 * the keepBest checkpoint.
 */
export async function evaluateRun(
  experiment: LoadedExperiment,
  registries: Registries,
  runDirectory: string,
  options: { split: string; checkpoint?: EvaluatedCheckpoint; log?: (line: string) => void; backendOptions?: Pick<ActivateOptions, 'probeWebgpuAdapter'> },
): Promise<Record<string, number>> {
  const log = options.log ?? (() => undefined);
  const which = options.checkpoint ?? 'last';
  const checkpoints = new CheckpointFolder(join(runDirectory, 'checkpoints'), experiment.resolved.train.keepCheckpoints);
  const modelFolder = join(runDirectory, 'model');
  if (which === 'best' && !existsSync(join(runDirectory, 'checkpoints', 'best'))) {
    throw new ConfigError(`${runDirectory}: the run has no best checkpoint (set train.keepBest to keep one)`);
  }
  if (which === 'last' && !existsSync(modelFolder) && checkpoints.complete().length === 0) {
    throw new ConfigError(`${runDirectory}: the run has no saved model and no checkpoint (did it start training?)`);
  }
  const transfer = await prepareTransfer(
    experiment,
    transferOptions(registries, { root: runDirectory, argv: [], ...(options.backendOptions !== undefined ? { backendOptions: options.backendOptions } : {}) }, startedQuick(runDirectory), log),
  );
  await activateBackend(experiment.resolved.backend, { ...options.backendOptions, log, ...(experiment.resolved.threads !== undefined ? { threads: experiment.resolved.threads } : {}) });
  const dataset = await loadData(experiment, registries);
  const split = (dataset.splits as Partial<Record<string, DataSplit>>)[options.split];
  if (split === undefined) {
    throw new ConfigError(`the dataset has no '${options.split}' split (it has: ${Object.keys(dataset.splits).join(', ')})`);
  }
  const model = await buildModel(transfer?.experiment ?? experiment, registries, dataset.splits.train ?? split, () => undefined);
  const optimizer = buildOptimizer(experiment.resolved.train, registries);
  try {
    if (which === 'last' && existsSync(modelFolder)) {
      const names = experiment.resolved.model.type === 'ops' ? ['tensors.json', 'tensors.bin'] : ['model.json', 'weights.bin'];
      model.importFiles(readFolder(modelFolder, names), modelFolder);
    } else {
      const checkpoint = which === 'best' ? checkpoints.best() : checkpoints.latest();
      if (checkpoint === undefined) throw new ConfigError(`${runDirectory}: no ${which} checkpoint to evaluate`);
      log(`evaluating the ${which === 'best' ? 'best' : 'newest'} checkpoint (step ${checkpoint.state.step})`);
      restoreFrom(model, optimizer, checkpoint);
    }
    return Object.fromEntries(Object.entries(await evaluateSplit(model, split)).map(([k, v]) => [`${options.split}.${k}`, v]));
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
