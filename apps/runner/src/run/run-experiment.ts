import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { ConfigError, DataError, RunError, didYouMean, fillEntry } from '@dlexp/core';
import { splitFeatures, type DataSplit, type LoadedDataset } from '@dlexp/data';
import { clipByGlobalNorm, clipByValue, createOptimizer } from '@dlexp/optim';
import { activateBackend, assertKernelsAvailable, collectStepKernels } from '../backends';
import type { ActiveBackend } from '../backends';
import type { LoadedExperiment } from '../config/experiment';
import { ModelConfigError, type Batch, type TrainableModel } from '../models/model';
import type { Registries } from '../registries';
import { checkExpectations, type ExpectationResult } from './expectations';
import { RunDirectory } from './run-directory';
import { Checkpoints } from './checkpoints';
import { createProgress } from './progress';
import { expectationsTable, metricsTable } from './tables';
import { collectPredictions, evaluateSplit, trainModel, withFirstExamples, type Splits } from './train-loop';
import { collectVersions } from './versions';

/** What a run was started with, so `resume` and `evaluate` rebuild exactly the same experiment. */
export interface Invocation {
  file: string;
  quick: boolean;
  set: string[];
  seed?: number;
  backend?: string;
  /** For a sweep trial: the values the sweep set, by path. */
  trial?: Record<string, unknown>;
  configHash: string;
}

export interface RunOptions {
  /** Exactly this run directory (`--out`). */
  out?: string;
  /** Continue the run in this existing directory from its newest checkpoint. */
  resume?: string;
  /** The command-line options that produced `experiment` (recorded in invocation.json). */
  invocation?: Omit<Invocation, 'configHash'>;
  /** Show a progress bar (a terminal) instead of only plain lines. */
  interactive?: boolean;
  /** Where `runs/` goes when --out is not given. */
  root: string;
  /** Command-line options the run was started with, noted at the top of config.resolved.yaml. */
  argv: string[];
  print(line: string): void;
}

export interface RunOutcome {
  status: 'completed' | 'failed' | 'interrupted';
  runDirectory: string;
  metrics: Record<string, number>;
  expectations: ExpectationResult[];
  /** 0 completed and every expectation met; 1 otherwise (130 after an interrupt). */
  exitCode: number;
}

/** sha256 of the resolved config with keys sorted, so equal configs hash equally. */
export function configHash(config: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(config))).digest('hex');
}

/** Loads the dataset, turning problems with data files into config errors at `data`. */
export async function loadData(experiment: LoadedExperiment, registries: Registries): Promise<LoadedDataset> {
  const { data, seed } = experiment.resolved;
  try {
    return await registries.datasets.get(data.type).create(data, { seed, resolvePath: experiment.resolvePath });
  } catch (error) {
    if (error instanceof DataError || error instanceof ConfigError) {
      throw new ConfigError([experiment.source.diagnostic(['data'], error.message)]);
    }
    throw error;
  }
}

export async function buildModel(experiment: LoadedExperiment, registries: Registries, train: DataSplit, print: (line: string) => void): Promise<TrainableModel> {
  const { model, seed } = experiment.resolved;
  const features = splitFeatures(train);
  let built: TrainableModel | undefined;
  try {
    const created = registries.models.get(model.type).create(model, { seed, modelRegistries: registries.modelRegistries, features, print });
    built = created;
    await withFirstExamples(train, 2, (batch) => dryRun(created, batch));
    return built;
  } catch (error) {
    built?.dispose();
    if (error instanceof ModelConfigError) {
      throw new ConfigError(error.problems.map((p) => experiment.source.diagnostic(['model', ...p.path], p.message, p.offset === undefined ? {} : { offset: p.offset })));
    }
    throw error;
  }
}

/**
 * Runs a new model once on real examples (loss, gradients, metrics, fetches, predictions), so what
 * the config gets wrong there surfaces as a config error before training.
 */
async function dryRun(model: TrainableModel, batch: Batch): Promise<void> {
  try {
    const { loss, grads } = model.lossAndGradients(batch, 0);
    tf.dispose([loss, ...grads.values()]);
    await model.evaluateBatch(batch);
    await model.fetchedValues();
    await model.predictions?.(batch);
  } catch (error) {
    throw model.explainFailure(error) ?? error;
  }
}

/**
 * Early stopping watches a metric of the epoch-end rows: train.loss or a metric of a held-out
 * split. A name that will never appear is a config error now, not a failure after an epoch.
 */
async function checkWatchedMetric(experiment: LoadedExperiment, model: TrainableModel, splits: Splits): Promise<void> {
  const watched = experiment.resolved.train.earlyStopping!.metric;
  const available = ['train.loss'];
  for (const name of ['validation', 'test'] as const) {
    const split = splits[name];
    if (split === undefined) continue;
    const metrics = await withFirstExamples(split, 2, (batch) => model.evaluateBatch(batch));
    for (const metric of Object.keys(metrics)) available.push(`${name}.${metric}`);
  }
  if (!available.includes(watched)) {
    throw new ConfigError([
      experiment.source.diagnostic(['train', 'earlyStopping', 'metric'], `'${watched}' is not measured at epoch ends${didYouMean(watched, available)} (measured: ${available.join(', ')})`),
    ]);
  }
}

/** The configured optimizer, with gradient clipping first when asked for. */
export function buildOptimizer(train: LoadedExperiment['resolved']['train'], registries: Registries) {
  const before = [
    ...(train.clipValue !== undefined ? [clipByValue(train.clipValue)] : []),
    ...(train.clipGlobalNorm !== undefined ? [clipByGlobalNorm(train.clipGlobalNorm)] : []),
  ];
  const optimizerConfig = fillEntry('optimizer', train.optimizer, (kind, name) =>
    kind === 'optimizer' ? registries.optimizers.get(name).params : registries.schedules.get(name).params,
  ) as { type: string };
  return createOptimizer(registries.optimizers, optimizerConfig, { schedules: registries.schedules }, before);
}

/**
 * Checks, before training, that the backend has every kernel one training step of this model
 * needs: a throwaway copy of the model takes one step on one example on the cpu backend (which
 * has them all) under the profiler, and any kernel the chosen backend lacks is named at once,
 * instead of a crash in the middle of an epoch.
 */
export async function preflightKernels(experiment: LoadedExperiment, registries: Registries, backend: ActiveBackend, train: DataSplit): Promise<void> {
  if (backend.tfBackend === 'cpu') return;
  const kernels = await collectStepKernels(async () => {
    // Building runs the model once (forward, backward, metrics); the step adds the optimizer.
    const model = await buildModel(experiment, registries, train, () => undefined);
    const optimizer = buildOptimizer(experiment.resolved.train, registries);
    try {
      await withFirstExamples(train, 1, async (batch) => {
        const { loss, grads } = model.lossAndGradients(batch, 0);
        optimizer.apply(grads, model.trainableVariables(), 0);
        tf.dispose([loss, ...grads.values()]);
      });
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  });
  assertKernelsAvailable(kernels, backend.name);
}

/**
 * Runs one experiment: backend → data → model → optimizer (all config errors surface before the
 * run directory exists) → train → final metrics → expectations → summary.json, written last.
 */
export async function runExperiment(experiment: LoadedExperiment, registries: Registries, options: RunOptions): Promise<RunOutcome> {
  const config = experiment.resolved;
  const startedAt = new Date();
  const backend = await activateBackend(config.backend, { log: (line) => options.print(line) });
  const dataset = await loadData(experiment, registries);
  const splits: Splits = dataset.splits;
  if (splits.train === undefined) throw new ConfigError([experiment.source.diagnostic(['data'], 'the dataset has no train split')]);
  await preflightKernels(experiment, registries, backend, splits.train);
  tf.engine().startScope();
  try {
    const model = await buildModel(experiment, registries, splits.train, options.print);
    const optimizer = buildOptimizer(config.train, registries);
    if (config.train.earlyStopping !== undefined) await checkWatchedMetric(experiment, model, splits);

    const hash = configHash(config);
    let directory: RunDirectory;
    let resumeFrom: ReturnType<Checkpoints['latest']>;
    if (options.resume !== undefined) {
      directory = RunDirectory.open(options.resume);
      resumeFrom = new Checkpoints(directory.file('checkpoints'), config.train.keepCheckpoints).latest();
      directory.truncateMetrics(resumeFrom?.state.loggedRows ?? 0);
      options.print(resumeFrom === undefined ? 'no checkpoint yet: starting again from step 0' : `resuming from step ${resumeFrom.state.step}`);
    } else {
      directory = RunDirectory.create({ ...(options.out !== undefined ? { out: options.out } : {}), root: options.root, name: config.name, seed: config.seed, now: startedAt });
      directory.write('config.resolved.yaml', `# ${config.name}: resolved from ${experiment.source.file}${options.argv.length > 0 ? ` with ${options.argv.join(' ')}` : ''}\n# config hash ${hash}\n${stringify(config)}`);
      directory.write('metrics.jsonl', '');
      directory.write('graph.json', `${JSON.stringify(model.graphDef())}\n`);
      const invocation: Invocation = { ...(options.invocation ?? { file: experiment.file, quick: false, set: [] }), configHash: hash };
      directory.write('invocation.json', `${JSON.stringify(invocation, null, 2)}\n`);
    }
    const checkpoints = new Checkpoints(directory.file('checkpoints'), config.train.keepCheckpoints);
    const progress = createProgress(options.print, options.interactive === true);
    options.print(`${config.name}: ${dataset.description}; backend ${backend.name}${backend.adapter !== undefined ? ` (${backend.adapter})` : ''}`);

    let interruptedBy: string | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (interruptedBy !== undefined) {
        // A second Ctrl-C means now: stop without the final checkpoint (the last saved one remains).
        options.print(`${signal} again: stopping at once; resume from the last saved checkpoint`);
        process.exit(130);
      }
      interruptedBy = signal;
      options.print(`${signal}: finishing the current step, then saving a checkpoint (press Ctrl-C again to stop at once)`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const summary: Record<string, unknown> = {
      name: config.name,
      status: 'failed',
      seed: config.seed,
      backend: { name: backend.name, tfBackend: backend.tfBackend, ...(backend.adapter !== undefined ? { adapter: backend.adapter } : {}), ...(backend.device !== undefined ? { device: backend.device } : {}) },
      metrics: {},
      timing: {},
      configHash: hash,
      versions: { ...collectVersions(), ...backend.versions },
    };
    try {
      const result = await trainModel({
        model,
        optimizer,
        train: config.train,
        splits,
        seed: config.seed,
        log: (row) => {
          directory.appendMetrics(row);
          progress.line(formatLogRow(row));
        },
        interrupted: () => interruptedBy !== undefined,
        checkpoints,
        ...(resumeFrom !== undefined ? { resumeFrom } : {}),
        progress: (step, total, loss) => progress.update(step, total, loss),
      });
      progress.stop();
      if (resumeFrom !== undefined) tf.dispose([...resumeFrom.tensors.values()]);
      if (result.status === 'completed') await model.save(directory.file('model'));
      if (result.stoppedEarlyAt !== undefined) options.print(`early stopping: ${config.train.earlyStopping!.metric} did not improve for ${config.train.earlyStopping!.patience ?? 3} epochs; stopped after epoch ${result.stoppedEarlyAt}`);
      if (result.status === 'interrupted') options.print(`interrupted by ${interruptedBy}: checkpoint saved at step ${result.steps}; continue with: runner resume ${directory.path}`);
      if (result.status === 'completed') {
        const predictions = await collectPredictions(model, splits.train);
        if (predictions !== undefined) directory.write(predictions.file, toCsv(predictions.columns));
      }
      const expectations = result.status === 'completed' ? checkExpectations(experiment.expectations, result.metrics) : [];
      const totalMs = Date.now() - startedAt.getTime();
      Object.assign(summary, {
        status: result.status,
        metrics: result.metrics,
        timing: { startedAt: startedAt.toISOString(), totalMs, trainMs: Math.round(result.trainMs), steps: result.steps, epochs: result.epochs, msPerStep: result.steps > 0 ? result.trainMs / result.steps : 0 },
        ...(result.stoppedEarlyAt !== undefined ? { stoppedEarlyAtEpoch: result.stoppedEarlyAt } : {}),
        ...(expectations.length > 0 ? { expectations } : {}),
      });
      directory.write('summary.json', `${JSON.stringify(summary, null, 2)}\n`);
      options.print(metricsTable(result.metrics));
      const unmet = expectations.filter((e) => !e.met);
      if (expectations.length > 0) {
        options.print(unmet.length === 0 ? `all ${expectations.length} expectations met` : `${unmet.length} of ${expectations.length} expectations not met:`);
        if (unmet.length > 0) options.print(expectationsTable(expectations));
      }
      options.print(`run directory: ${directory.path}`);
      const exitCode = result.status === 'interrupted' ? 130 : unmet.length > 0 ? 1 : 0;
      return { status: result.status, runDirectory: directory.path, metrics: result.metrics, expectations, exitCode };
    } catch (error) {
      progress.stop();
      summary['error'] = (error as Error).message;
      summary['timing'] = { startedAt: startedAt.toISOString(), totalMs: Date.now() - startedAt.getTime() };
      directory.write('summary.json', `${JSON.stringify(summary, null, 2)}\n`);
      if (error instanceof RunError) {
        options.print(`run failed: ${error.message}`);
        options.print(`run directory: ${directory.path}`);
        return { status: 'failed', runDirectory: directory.path, metrics: {}, expectations: [], exitCode: 1 };
      }
      throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      optimizer.dispose();
      model.dispose();
    }
  } finally {
    tf.engine().endScope();
  }
}

function formatLogRow(row: Record<string, number>): string {
  const parts = Object.entries(row)
    .filter(([key]) => key !== 'timeMs' && key !== 'step' && key !== 'epoch')
    .map(([key, value]) => `${key}=${Number(value.toPrecision(5))}`);
  return `step ${row['step']} (epoch ${Number((row['epoch'] ?? 0).toFixed(2))}): ${parts.join(' ')}`;
}

function toCsv(columns: Record<string, number[]>): string {
  const names = Object.keys(columns);
  const rows = columns[names[0]!]?.length ?? 0;
  const lines = [names.join(',')];
  for (let i = 0; i < rows; i++) lines.push(names.map((n) => String(columns[n]![i])).join(','));
  return `${lines.join('\n')}\n`;
}

/** Restores a saved model and measures it on one split (the course's restore-and-test). */
export async function evaluateRun(experiment: LoadedExperiment, registries: Registries, modelFolder: string, splitName: string, print: (line: string) => void): Promise<Record<string, number>> {
  await activateBackend(experiment.resolved.backend, { log: print });
  const dataset = await loadData(experiment, registries);
  const split = (dataset.splits as Partial<Record<string, DataSplit>>)[splitName];
  if (split === undefined) {
    throw new ConfigError(`the dataset has no '${splitName}' split (it has: ${Object.keys(dataset.splits).join(', ')})`);
  }
  const model = await buildModel(experiment, registries, dataset.splits.train ?? split, () => undefined);
  try {
    await model.load(modelFolder);
    const metrics = Object.fromEntries(Object.entries(await evaluateSplit(model, split)).map(([k, v]) => [`${splitName}.${k}`, v]));
    return metrics;
  } finally {
    model.dispose();
  }
}
