import { dirname, resolve } from 'node:path';
import { ConfigError, fillDefaults, parsePath, type Diagnostic, type JsonSchema, type ParamSchema } from '@dlexp/core';
import type { ConfigCatalog } from './catalog';
import { experimentParams, generateSchema } from './schema';
import { trainParams, type ExpectationConfig, type TensorBoardConfig, type TrainConfig } from './sections';
import { ExperimentSource } from './source';
import { validateAgainstSchema } from './validate';
import type { SweepConfig, TrialParameters } from './sweep-section';

type Entry = { type: string; [key: string]: unknown };

/** An experiment after validation and normalize: every default filled in. */
export interface ResolvedExperiment {
  name: string;
  description?: string;
  seed: number;
  backend: string;
  threads?: number;
  /** Plugin modules as written (relative to the experiment file); loaded before validation. */
  plugins?: string[];
  data: Entry;
  model: Entry;
  train: TrainConfig;
  expect: Record<string, ExpectationConfig>;
  tensorboard: TensorBoardConfig | false;
  plots: boolean;
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
  /** `--threads N` (overrides `threads:`). */
  threads?: number;
  /** A sweep trial: its parameter values (applied after --set) and the sweep block removed. */
  trial?: TrialParameters;
  /**
   * Rules checked after normalize, beyond what this library knows (an optimizer's schedule
   * against its boundaries, an op graph's expressions): the engine passes them in.
   */
  checks?: (resolved: ResolvedExperiment, source: ExperimentSource) => Diagnostic[];
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

const schemas = new WeakMap<ConfigCatalog, JsonSchema>();
/** The JSON Schema of a catalog, generated once. */
export function schemaFor(catalog: ConfigCatalog): JsonSchema {
  let schema = schemas.get(catalog);
  if (schema === undefined) {
    schema = generateSchema(catalog);
    schemas.set(catalog, schema);
  }
  return schema;
}

/**
 * file → YAML with positions → overrides (quick.set, --set, --seed, --backend) → schema → normalize
 * → semantic rules. Every problem found is reported together as one ConfigError.
 */
export function loadExperiment(file: string, catalog: ConfigCatalog, options: LoadOptions = {}): LoadedExperiment {
  const displayName = options.displayName ?? file;
  const source = ExperimentSource.read(file, displayName);
  if (options.quick === true) source.applyQuickBlock();
  source.applySetArguments(options.set ?? []);
  if (options.seed !== undefined) source.applySetArguments([`seed=${options.seed}`], '--seed');
  if (options.backend !== undefined) source.applySetArguments([`backend=${options.backend}`], '--backend');
  if (options.threads !== undefined) source.applySetArguments([`threads=${options.threads}`], '--threads');
  if (options.trial !== undefined) {
    source.applySetArguments(Object.entries(options.trial).map(([path, value]) => `${path}=${JSON.stringify(value)}`), 'sweep');
    source.document.deleteIn(['sweep']);
  }
  const written = source.toData();
  const problems = validateAgainstSchema(schemaFor(catalog), written, source);
  if (problems.length > 0) throw new ConfigError(problems);
  const resolved = normalize(written, catalog);
  const semantic = [...checkSemantics(resolved, source), ...(options.checks?.(resolved, source) ?? [])];
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

export function normalize(written: Record<string, unknown>, catalog: ConfigCatalog): ResolvedExperiment {
  const kinds = new Map(catalog.unions.map((u) => [u.kind, u.registry]));
  const lookup = (kind: string, name: string) => (kinds.get(kind)?.has(name) === true ? kinds.get(kind)!.get(name).params : undefined);
  const top = fillDefaults(experimentParams(catalog) as ParamSchema<unknown>, written, lookup);
  top['train'] = fillDefaults(trainParams as ParamSchema<unknown>, top['train'] as Record<string, unknown>, lookup);
  top['expect'] = top['expect'] ?? {};
  return top as unknown as ResolvedExperiment;
}

/** Cross-field rules the schema cannot say (those needing the engine come in LoadOptions.checks). */
function checkSemantics(config: ResolvedExperiment, source: ExperimentSource): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const { train } = config;
  if (train.earlyStopping !== undefined && train.epochs === undefined) {
    problems.push(source.diagnostic(['train', 'earlyStopping'], 'early stopping watches epoch-end metrics, so it needs a budget in epochs'));
  }
  if (train.keepBest !== undefined && train.epochs === undefined) {
    problems.push(source.diagnostic(['train', 'keepBest'], 'keepBest watches epoch-end metrics, so it needs a budget in epochs'));
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
  for (const [key, parameter] of Object.entries(config.sweep?.parameters ?? {})) {
    const paths = parameter.paths ?? [key];
    paths.forEach((path, i) => {
      const where = parameter.paths === undefined ? ['sweep', 'parameters', key] : ['sweep', 'parameters', key, 'paths', i];
      try {
        source.resolvePath(parsePath(path));
      } catch (error) {
        problems.push(source.diagnostic(where, (error as Error).message, { atKey: parameter.paths === undefined }));
      }
    });
  }
  return problems;
}
