import * as tf from '@tensorflow/tfjs';
import { join } from 'pathe';
import { ConfigError, RunError, type Diagnostic } from '@dlexp/core';
import type { LoadedExperiment } from '@dlexp/config';
import {
  buildModel,
  buildOptimizer,
  checkExpectations,
  checkWatchedMetrics,
  collectPredictions,
  combineSinks,
  createRegistries,
  evaluateSplit,
  loadData,
  loadExperiment,
  preflightKernels,
  trainModel,
  type ExpectationResult,
  type LoggedRow,
  type Registries,
  type Splits,
  type TrainableModel,
} from '@dlexp/train';
import { writeVirtualFile } from '../node-shims/virtual-files';
import { activatePageBackend, type PageBackend, type PageBackendChoice } from './page-backends';
import { PAGE_FOLDER, provideDataFiles } from './page-data';

/**
 * Training an experiment in the page, composed from the engine's own pieces (what `runExperiment`
 * does, minus the run folder): load and validate the YAML → backend → data → kernel preflight →
 * model → optimizer → the train loop, reporting through a sink → final metrics on every whole
 * split → expectations. The same file gives the same numbers as the CLI on the same backend.
 */

let registries: Registries | undefined;
/** The engine's registries, built once per page. */
export function pageRegistries(): Registries {
  registries ??= createRegistries();
  return registries;
}

export interface PageExperiment {
  /** The YAML as written in the editor. */
  text: string;
  /** Its file name (messages say `mnist-cnn.yaml:12:5: ...`). */
  fileName: string;
  quick: boolean;
}

/** Writes the text where the engine reads it, and loads it as the CLI would (every problem at its line and column). */
export function loadPageExperiment(experiment: PageExperiment, options: { backend?: string } = {}): LoadedExperiment {
  const file = join(PAGE_FOLDER, experiment.fileName.replace(/[/\\]/g, '_'));
  writeVirtualFile(file, experiment.text);
  return loadExperiment(file, pageRegistries(), { displayName: experiment.fileName, quick: experiment.quick, ...(options.backend !== undefined ? { backend: options.backend } : {}) });
}

/**
 * Every problem of the experiment, as `runner validate` reports them: the full and the --quick
 * form both checked, each problem once. Checking builds a few tensors (an optimizer, an op graph),
 * so it waits for a backend a run may be starting.
 */
export async function validatePageExperiment(text: string, fileName: string): Promise<Diagnostic[]> {
  await tf.ready();
  const found: Diagnostic[] = [];
  for (const quick of [false, true]) {
    try {
      loadPageExperiment({ text, fileName, quick });
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        // A bug in checking is shown where problems are, not lost in the console.
        return [{ file: '', line: 0, col: 0, path: '', message: `internal error while checking (a bug, not your experiment): ${error instanceof Error ? error.message : String(error)}` }];
      }
      for (const d of error.diagnostics) if (!found.some((f) => f.line === d.line && f.col === d.col && f.message === d.message)) found.push(d);
    }
  }
  return found;
}

export interface PageRunCallbacks {
  onStart?(info: { backend: PageBackend; dataset: string; totalSteps: number | undefined; config: Record<string, unknown> }): void;
  onRow?(row: LoggedRow): void;
  onProgress?(step: number, totalSteps: number | undefined, loss: number | undefined): void;
  onMessage?(text: string): void;
}

export interface PageRunResult {
  status: 'completed' | 'failed' | 'interrupted';
  name: string;
  backend: PageBackend;
  metrics: Record<string, number>;
  expectations: ExpectationResult[];
  steps: number;
  trainMs: number;
  msPerStep: number;
  /** The resolved config (for the charts: which node is the prediction). */
  config: Record<string, unknown>;
  predictions?: { columns: string[]; rows: number[][] };
  error?: string;
}

function predictionsTable(columns: Record<string, number[]>): { columns: string[]; rows: number[][] } {
  const names = Object.keys(columns);
  const count = columns[names[0]!]?.length ?? 0;
  return { columns: names, rows: Array.from({ length: count }, (_, i) => names.map((n) => columns[n]![i]!)) };
}

async function finalMetrics(model: TrainableModel, splits: Splits): Promise<Record<string, number>> {
  const metrics: Record<string, number> = {};
  for (const [name, split] of Object.entries(splits)) {
    if (split === undefined) continue;
    for (const [metric, value] of Object.entries(await evaluateSplit(model, split))) metrics[`${name}.${metric}`] = value;
  }
  Object.assign(metrics, await model.fetchedValues());
  return metrics;
}

/** Trains the experiment in this page. Config problems throw ConfigError (as in the CLI); a NaN loss ends the run 'failed'. */
export async function runInPage(experiment: PageExperiment, backendChoice: PageBackendChoice, callbacks: PageRunCallbacks, signal?: AbortSignal): Promise<PageRunResult> {
  const say = (line: string) => callbacks.onMessage?.(line);
  const loaded = loadPageExperiment(experiment);
  const config = loaded.resolved;
  // A sweep is many runs, each in a child process with its own folder: the machine's job.
  if (config.sweep !== undefined) throw new Error('this experiment is a sweep (it has a sweep: block): use "Run on this machine", or remove the block to train its base experiment here');
  const engine = pageRegistries();
  const backend = await activatePageBackend(backendChoice, config.backend, say);
  await provideDataFiles(loaded, say);
  const dataset = await loadData(loaded, engine);
  const splits: Splits = dataset.splits;
  if (splits.train === undefined) throw new ConfigError([loaded.source.diagnostic(['data'], 'the dataset has no train split')]);
  await preflightKernels(loaded, engine, { name: backend.name, tfBackend: backend.name, versions: {}, skipped: [] }, splits.train);
  const stepsPerEpoch = splits.train.size === undefined ? undefined : Math.ceil(splits.train.size / Math.min(config.train.batchSize ?? splits.train.size, splits.train.size));
  const totalSteps = config.train.steps ?? (stepsPerEpoch === undefined ? undefined : stepsPerEpoch * config.train.epochs!);
  callbacks.onStart?.({ backend, dataset: dataset.description, totalSteps, config: config as unknown as Record<string, unknown> });
  say(`${config.name}: ${dataset.description}; backend ${backend.name} (${backend.device})`);

  tf.engine().startScope();
  let model: TrainableModel | undefined;
  let optimizer: ReturnType<typeof buildOptimizer> | undefined;
  const base = { name: config.name, backend, config: config as unknown as Record<string, unknown> };
  try {
    model = await buildModel(loaded, engine, splits.train, say);
    optimizer = buildOptimizer(config.train, engine);
    await checkWatchedMetrics(loaded, model, splits);
    const sink = combineSinks([
      {
        row: (row) => callbacks.onRow?.(row),
        progress: (step, total, loss) => callbacks.onProgress?.(step, total, loss),
        message: say,
      },
    ]);
    let result;
    try {
      result = await trainModel({ model, optimizer, train: config.train, splits, seed: config.seed, sink, ...(signal !== undefined ? { signal } : {}) });
    } catch (error) {
      // A run failure (a NaN loss) is a result, as in the CLI; anything else is a problem to show.
      if (!(error instanceof RunError)) throw error;
      say(`run failed: ${error.message}`);
      return { ...base, status: 'failed', metrics: {}, expectations: [], steps: 0, trainMs: 0, msPerStep: 0, error: error.message };
    }
    if (result.stopped !== undefined) say(`stopped at step ${result.stopped.step}: ${result.stopped.reason}`);
    const timing = { steps: result.steps, trainMs: result.trainMs, msPerStep: result.steps > 0 ? result.trainMs / result.steps : 0 };
    if (result.status === 'interrupted') return { ...base, status: 'interrupted', metrics: {}, expectations: [], ...timing };
    const metrics = await finalMetrics(model, splits);
    const predictions = await collectPredictions(model, splits.train);
    const expectations = checkExpectations(loaded.expectations, metrics);
    return { ...base, status: 'completed', metrics, expectations, ...timing, ...(predictions !== undefined ? { predictions: predictionsTable(predictions.columns) } : {}) };
  } finally {
    optimizer?.dispose();
    model?.dispose();
    tf.engine().endScope();
  }
}
