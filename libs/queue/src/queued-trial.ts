import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, isPlainObject } from '@dlexp/core';
import type { LoadedExperiment } from '@dlexp/config';
import { configHash, loadExperiment, loadPlugins, type PluginReference, type Registries } from '@dlexp/train';
import type { PlainValue, TrialSpec } from '@dlexp/sweep';

/** What a worker's trial process needs besides the spec to open the trial's experiment. */
export interface QueuedTrialContext {
  /** The sweep ran with --quick: the trial checks `quick.expect`. */
  quick: boolean;
  /** The worker's folder where the experiment's relative paths (data, plugins, model.from) start. */
  base: string;
  /** The experiment file's name on the coordinator (the trial's records name it; it is not read). */
  experimentFile: string;
  /** A folder of the worker's own for the resolved experiment, written to be loaded. */
  scratch: string;
  /** Plugins the worker was started with (`--plugin`), absolute. */
  plugins: string[];
  /** The worker's own choice of backend and threads, over the trial's. */
  backend?: string;
  threads?: number;
  /** How messages name the trial (`mlp-sweep trial-003`). */
  label: string;
}

/** The trial's resolved experiment with the worker's backend and threads, as the worker runs it. */
export function workerExperiment(experiment: PlainValue, context: Pick<QueuedTrialContext, 'backend' | 'threads'>): Record<string, PlainValue> {
  if (!isPlainObject(experiment)) throw new ConfigError('the trial carries no experiment (its configuration could not be resolved on the coordinator)');
  const copy: Record<string, PlainValue> = { ...(experiment as Record<string, PlainValue>) };
  if (context.backend !== undefined) copy['backend'] = context.backend;
  if (context.threads !== undefined) copy['threads'] = context.threads;
  return copy;
}

/**
 * Opens a trial on a worker from its spec alone: the resolved experiment it carries (values
 * applied, seed set, sweep block gone) is written as a file in the scratch folder and loaded —
 * validated by this worker's registries, after its plugins — with relative paths resolved from
 * `base`. A worker whose version resolves the experiment differently (another config hash) refuses
 * the trial: its numbers would not be the sweep's.
 */
export async function openQueuedTrial(spec: TrialSpec, context: QueuedTrialContext, registries: Registries): Promise<LoadedExperiment> {
  const experiment = workerExperiment(spec.experiment, context);
  const plugins = Array.isArray(experiment['plugins']) ? experiment['plugins'].map(String) : [];
  const references: PluginReference[] = [
    ...context.plugins.map((file) => ({ file, written: file, at: { file: '--plugin', line: 1, col: 1, path: '' } })),
    ...plugins.map((written, i) => ({ file: resolve(context.base, written), written, at: { file: context.label, line: 1, col: 1, path: `plugins.${i}` } })),
  ];
  await loadPlugins(references, registries);

  mkdirSync(context.scratch, { recursive: true });
  const file = join(context.scratch, `${spec.trialId}.experiment.json`);
  // JSON is YAML: the resolved experiment loads as written, with nothing to re-apply.
  writeFileSync(file, `${JSON.stringify(experiment, null, 2)}\n`);
  const loaded = loadExperiment(file, registries, { displayName: `${context.label} (resolved experiment)` });
  const expected = configHash(experiment);
  const here = configHash(loaded.resolved);
  if (here !== expected) {
    throw new ConfigError(
      `${context.label}: this worker resolves the trial's experiment differently from the coordinator (config hash ${here.slice(0, 12)} here, ${expected.slice(0, 12)} there); run the same version of dlexp on both`,
    );
  }
  const quickExpect = isPlainObject(loaded.resolved.quick) ? loaded.resolved.quick.expect : undefined;
  return {
    ...loaded,
    file: resolve(context.base, context.experimentFile),
    expectations: context.quick ? (quickExpect ?? {}) : loaded.resolved.expect,
    resolvePath: (path) => resolve(context.base, path),
  };
}
