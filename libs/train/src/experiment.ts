import * as tf from '@tensorflow/tfjs';
import { dirname, resolve } from 'node:path';
import { ConfigError, type Diagnostic } from '@dlexp/core';
import { loadExperiment as loadExperimentFile, type ExperimentSource, type LoadedExperiment, type LoadOptions, type ResolvedExperiment } from '@dlexp/config';
import { buildOpGraph, OpGraphError } from '@dlexp/graph';
import { buildOptimizer } from './optimizer';
import { loadPlugins, pluginsOfExperiment, workspacePlugins, type PluginReference } from './plugins';
import { catalogOf, type Registries } from './registries';

type Entry = { type: string; [key: string]: unknown };

/**
 * Reads, validates and normalizes an experiment against these registries, with the engine's own
 * rules on top of the config library's: optimizers and schedules that cannot be built, and op
 * graphs whose expressions do not parse or name unknown nodes. Every problem is reported together.
 */
export function loadExperiment(file: string, registries: Registries, options: Omit<LoadOptions, 'checks'> = {}): LoadedExperiment {
  return loadExperimentFile(file, catalogOf(registries), { ...options, checks: (resolved, source) => engineChecks(resolved, source, registries) });
}

function engineChecks(config: ResolvedExperiment, source: ExperimentSource, registries: Registries): Diagnostic[] {
  const problems: Diagnostic[] = [];
  try {
    // Building the optimizer checks what the schema cannot (a schedule's values against its boundaries).
    buildOptimizer(config.train, registries).dispose();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(source.diagnostic(['train', 'optimizer'], error.message));
  }
  if (config.model.type === 'ops') problems.push(...checkOpsModel(config.model, source));
  return problems;
}

/** Builds the op graph once with placeholder values so expression errors surface at validation. */
function checkOpsModel(model: Entry, source: ExperimentSource): Diagnostic[] {
  const nodes = (model['nodes'] ?? {}) as Record<string, string>;
  const variables = (model['variables'] ?? {}) as Record<string, unknown>;
  const placeholders = (model['placeholders'] ?? {}) as Record<string, unknown>;
  const problems: Diagnostic[] = [];
  try {
    const graph = buildOpGraph({
      placeholders: Object.fromEntries(Object.keys(placeholders).map((n) => [n, {}])),
      variables: Object.fromEntries(Object.keys(variables).map((n) => [n, { initialValue: () => tf.scalar(0), trainable: true }])),
      nodes,
    });
    graph.dispose();
  } catch (error) {
    if (!(error instanceof OpGraphError)) throw error;
    for (const p of error.problems) {
      problems.push(p.offset === undefined ? source.diagnostic(['model', ...p.path], p.message) : source.diagnostic(['model', ...p.path], p.message, { offset: p.offset }));
    }
  }
  const known = new Set([...Object.keys(nodes), ...Object.keys(variables), ...Object.keys(placeholders)]);
  const check = (path: (string | number)[], node: unknown) => {
    if (typeof node === 'string' && !known.has(node)) {
      problems.push(source.diagnostic(['model', ...path], `no node named '${node}' (defined: ${[...known].join(', ')})`));
    }
  };
  check(['loss'], model['loss']);
  ((model['fetch'] ?? []) as string[]).forEach((n, i) => check(['fetch', i], n));
  if (model['savePredictions'] !== undefined) check(['savePredictions'], model['savePredictions']);
  return problems;
}

export interface OpenOptions extends Omit<LoadOptions, 'checks'> {
  /** Plugin modules named on the command line (`--plugin`), as the user wrote them. */
  plugins?: string[];
  /** The folder the command runs from: `--plugin` paths resolve against it, and its package.json may list workspace plugins. */
  workspace?: string;
}

/**
 * Loads the plugins an experiment needs (the workspace's, the command line's, the experiment's
 * own and those of files it extends), then loads the experiment: its schema then includes what
 * the plugins registered.
 */
export async function openExperiment(file: string, registries: Registries, options: OpenOptions = {}): Promise<LoadedExperiment> {
  const { plugins: cliPlugins, workspace, ...load } = options;
  const displayName = load.displayName ?? file;
  const references: PluginReference[] = [
    ...(workspace !== undefined ? workspacePlugins(workspace) : []),
    ...(cliPlugins ?? []).map((written) => ({ file: resolve(workspace ?? dirname(file), written), written, at: { file: '--plugin', line: 1, col: 1, path: '' } })),
    ...pluginsOfExperiment(file, displayName),
  ];
  await loadPlugins(references, registries);
  return loadExperiment(file, registries, load);
}
