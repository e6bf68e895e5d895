import * as tf from '@tensorflow/tfjs';
import { dirname, resolve } from 'node:path';
import { ConfigError, fillDefaults, fillEntry, parsePath, type Diagnostic, type JsonSchema, type ParamSchema } from '@dlexp/core';
import { createOptimizer } from '@dlexp/optim';
import { buildOpGraph, OpGraphError } from '@dlexp/graph';
import { unionKinds, type Registries } from '../registries';
import { experimentParams, generateSchema } from './schema';
import { trainParams, type ExpectationConfig, type TrainConfig } from './sections';
import { ExperimentSource } from './source';
import { validateAgainstSchema } from './validate';
import type { SweepConfig, TrialParameters } from '../sweep/methods';

type Entry = { type: string; [key: string]: unknown };

/** An experiment after validation and normalize: every default filled in. */
export interface ResolvedExperiment {
  name: string;
  description?: string;
  seed: number;
  backend: string;
  data: Entry;
  model: Entry;
  train: TrainConfig;
  expect: Record<string, ExpectationConfig>;
  quick?: { set?: Record<string, unknown>; expect?: Record<string, ExpectationConfig> };
  sweep?: SweepConfig;
}

export interface LoadOptions {
  /** `--set path=value` arguments, applied after the quick block. */
  set?: string[];
  quick?: boolean;
  seed?: number;
  backend?: string;
  /** How the file is named in messages (the path as the user typed it). */
  displayName?: string;
  /** A sweep trial: its parameter values (applied after --set) and the sweep block removed. */
  trial?: TrialParameters;
}

export interface LoadedExperiment {
  /** Absolute path of the experiment file. */
  file: string;
  source: ExperimentSource;
  resolved: ResolvedExperiment;
  /** Under --quick, `quick.expect` (else `expect`). */
  expectations: Record<string, ExpectationConfig>;
  /** Resolves a path written in the experiment against the experiment file's folder. */
  resolvePath(path: string): string;
}

const schemas = new WeakMap<Registries, JsonSchema>();
export function schemaFor(registries: Registries): JsonSchema {
  let schema = schemas.get(registries);
  if (schema === undefined) {
    schema = generateSchema(registries);
    schemas.set(registries, schema);
  }
  return schema;
}

/**
 * file → YAML with positions → overrides (quick.set, --set, --seed, --backend) → schema → normalize
 * → semantic rules. Every problem found is reported together as one ConfigError.
 */
export function loadExperiment(file: string, registries: Registries, options: LoadOptions = {}): LoadedExperiment {
  const displayName = options.displayName ?? file;
  const source = ExperimentSource.read(file, displayName);
  if (options.quick === true) source.applyQuickBlock();
  source.applySetArguments(options.set ?? []);
  if (options.seed !== undefined) source.applySetArguments([`seed=${options.seed}`], '--seed');
  if (options.backend !== undefined) source.applySetArguments([`backend=${options.backend}`], '--backend');
  if (options.trial !== undefined) {
    source.applySetArguments(Object.entries(options.trial).map(([path, value]) => `${path}=${JSON.stringify(value)}`), 'sweep');
    source.document.deleteIn(['sweep']);
  }
  const written = source.toData();
  const problems = validateAgainstSchema(schemaFor(registries), written, source);
  if (problems.length > 0) throw new ConfigError(problems);
  const resolved = normalize(written, registries);
  const semantic = checkSemantics(resolved, source, registries);
  if (semantic.length > 0) throw new ConfigError(semantic);
  const absolute = resolve(file);
  return {
    file: absolute,
    source,
    resolved,
    expectations: options.quick === true ? (resolved.quick?.expect ?? {}) : resolved.expect,
    resolvePath: (p) => resolve(dirname(absolute), p),
  };
}

export function normalize(written: Record<string, unknown>, registries: Registries): ResolvedExperiment {
  const kinds = new Map(unionKinds(registries).map((u) => [u.kind, u.registry]));
  const lookup = (kind: string, name: string) => (kinds.get(kind)?.has(name) === true ? kinds.get(kind)!.get(name).params : undefined);
  const top = fillDefaults(experimentParams(registries.sweeps.names()) as ParamSchema<unknown>, written, lookup);
  top['train'] = fillDefaults(trainParams as ParamSchema<unknown>, top['train'] as Record<string, unknown>, lookup);
  top['expect'] = top['expect'] ?? {};
  return top as unknown as ResolvedExperiment;
}

/** Cross-field rules the schema cannot say. */
function checkSemantics(config: ResolvedExperiment, source: ExperimentSource, registries: Registries): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const { train } = config;
  if (train.earlyStopping !== undefined && train.epochs === undefined) {
    problems.push(source.diagnostic(['train', 'earlyStopping'], 'early stopping watches epoch-end metrics, so it needs a budget in epochs'));
  }
  try {
    // Building the optimizer checks what the schema cannot (a schedule's values against its boundaries).
    createOptimizer(registries.optimizers, fillEntry('optimizer', train.optimizer, (kind, name) => (kind === 'optimizer' ? registries.optimizers.get(name).params : registries.schedules.get(name).params)) as { type: string }, { schedules: registries.schedules }).dispose();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(source.diagnostic(['train', 'optimizer'], error.message));
  }
  if ((train.steps === undefined) === (train.epochs === undefined)) {
    problems.push(source.diagnostic(['train'], train.steps === undefined ? 'give the training budget as steps or epochs' : 'give either steps or epochs, not both'));
  }
  for (const key of Object.keys(config.quick?.set ?? {})) {
    try {
      parsePath(key);
    } catch (error) {
      problems.push(source.diagnostic(['quick', 'set', key], (error as Error).message, { atKey: true }));
    }
  }
  if (config.model.type === 'ops') problems.push(...checkOpsModel(config.model, source));
  for (const [key, parameter] of Object.entries(config.sweep?.parameters ?? {})) {
    const paths = parameter.paths ?? [key];
    paths.forEach((path, i) => {
      try {
        parsePath(path);
      } catch (error) {
        const where = parameter.paths === undefined ? ['sweep', 'parameters', key] : ['sweep', 'parameters', key, 'paths', i];
        problems.push(source.diagnostic(where, (error as Error).message, { atKey: parameter.paths === undefined }));
      }
    });
  }
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
