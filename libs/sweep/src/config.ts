import { didYouMean, entrySchema, fillDefaults, isPlainObject, type JsonSchema, type ParamSpec, type PathSegment } from '@dlexp/core';
import { parseParameterSpace, type ParameterSpace, type SweepProblem } from './parameters';
import { createSamplerRegistry, UnsupportedParameterError, type SamplerRegistry } from './samplers';

export type Goal = 'minimize' | 'maximize';

/** `earlyTermination:` as written. */
export interface EarlyTerminationConfig {
  type: 'median' | 'asha';
  minEpochs?: number;
  reductionFactor?: number;
  minTrials?: number;
}

export interface ResolvedEarlyTermination {
  type: 'median' | 'asha';
  /** No trial is stopped before this epoch (median), or the first rung (asha). */
  minEpochs: number;
  /** asha: rungs at minEpochs·η^k, and only the best 1/η at a rung go on. */
  reductionFactor: number;
  /** median: how many other trials must have reached an epoch before a trial is stopped there. */
  minTrials: number;
}

/** The `sweep:` block as written. */
export interface SweepConfig {
  /** A method by name, or with its parameters: {type: tpe, startupTrials: 5}. */
  method?: string | { type: string; [key: string]: unknown };
  parameters: Record<string, unknown>;
  metric: string;
  goal?: Goal;
  maxTrials?: number;
  seed?: number;
  parallel?: number;
  earlyTermination?: EarlyTerminationConfig;
  repeats?: number;
}

/** The `sweep:` block after checking, with defaults filled. */
export interface ResolvedSweepConfig {
  method: string;
  /** The method's own parameters with their defaults (TPE's startup trials and candidates). */
  methodParams: Record<string, unknown>;
  space: ParameterSpace;
  metric: string;
  goal: Goal;
  /** How many configurations to try (each run `repeats` times); grid: at most every combination. */
  maxTrials: number | undefined;
  /** Seeds the sampler; unset, the experiment's seed does. */
  seed: number | undefined;
  /** Trials run at once; unset, the runner picks (and must record what it picked: see README.md). */
  parallel: number | undefined;
  earlyTermination: ResolvedEarlyTermination | undefined;
  repeats: number;
}

const SWEEP_KEYS = ['method', 'parameters', 'metric', 'goal', 'maxTrials', 'seed', 'parallel', 'earlyTermination', 'repeats'];
const EARLY_TERMINATION_KEYS = ['type', 'minEpochs', 'reductionFactor', 'minTrials'];

const METHOD_DESCRIPTION =
  'grid tries every combination of values; random samples; tpe samples where earlier trials did well. With parameters: {type: tpe, startupTrials: 5}.';

export const EARLY_TERMINATION_DEFAULTS = { minEpochs: 1, reductionFactor: 3, minTrials: 3 } as const;

/**
 * Select on validation, report on test: a sweep that ranks trials on a test metric picks the
 * configuration that did best on the test set, and its test score then overstates what it will do
 * on new data. A warning (not an error: a course may do it knowingly), at the metric's key.
 */
export function selectionMetricWarning(metric: string, at: PathSegment[] = ['sweep', 'metric']): SweepProblem | undefined {
  if (!/^test\./.test(metric)) return undefined;
  const validation = metric.replace(/^test\./, 'validation.');
  return {
    path: at,
    severity: 'warning',
    message: `the sweep ranks its trials on the test set (${metric}): choosing the best of several trials on test data overstates its result; rank on a validation metric (${validation}) and report the best trial's test metrics`,
  };
}

/**
 * Reads and checks a `sweep:` block. Returns every problem found (errors and warnings), each with
 * the path of the key it is about from the document root, and the resolved config when there is no
 * error. Nothing is thrown for bad input, so the caller can place each problem at its YAML line.
 */
export function parseSweepConfig(
  written: unknown,
  options: { at?: PathSegment[]; samplers?: SamplerRegistry } = {},
): { config: ResolvedSweepConfig | undefined; problems: SweepProblem[] } {
  const at = options.at ?? ['sweep'];
  const samplers = options.samplers ?? createSamplerRegistry();
  const problems: SweepProblem[] = [];
  const error = (path: PathSegment[], message: string, atKey = false) => problems.push({ path, message, severity: 'error', ...(atKey ? { atKey } : {}) });
  if (!isPlainObject(written)) {
    error(at, 'sweep is a map with parameters, metric and, optionally, method, goal, maxTrials, seed, parallel, earlyTermination and repeats');
    return { config: undefined, problems };
  }
  for (const key of Object.keys(written)) {
    if (!SWEEP_KEYS.includes(key)) error([...at, key], `unknown key '${key}'${didYouMean(key, SWEEP_KEYS)}`, true);
  }

  // A method by name, or as an entry with its parameters: {type: tpe, startupTrials: 5}.
  const methodWritten = written['method'] ?? 'grid';
  const asEntry = isPlainObject(methodWritten);
  const method = asEntry ? methodWritten['type'] : methodWritten;
  const methodPath = asEntry ? [...at, 'method', 'type'] : [...at, 'method'];
  const methodOptions: Record<string, unknown> = asEntry ? Object.fromEntries(Object.entries(methodWritten).filter(([key]) => key !== 'type')) : {};
  if (typeof method !== 'string' || !samplers.has(method)) {
    const name = String(method);
    error(methodPath, `unknown sweep method '${name}'${didYouMean(name, samplers.names())} (known: ${samplers.names().join(', ')})`);
  } else {
    checkMethodOptions(samplers.get(method).params as Record<string, ParamSpec<unknown>>, methodOptions, [...at, 'method'], error);
  }

  const { space, problems: spaceProblems } = parseParameterSpace(written['parameters'], [...at, 'parameters']);
  if (written['parameters'] === undefined) error(at, 'parameters is missing: give the values or ranges to sweep');
  else problems.push(...spaceProblems);

  const metric = written['metric'];
  if (typeof metric !== 'string' || metric.length === 0) {
    error(metric === undefined ? at : [...at, 'metric'], metric === undefined ? 'metric is missing: name the metric that ranks the trials, e.g. validation.accuracy' : 'metric is the name of a metric, e.g. validation.accuracy');
  } else {
    const warning = selectionMetricWarning(metric, [...at, 'metric']);
    if (warning !== undefined) problems.push(warning);
  }

  const goal = written['goal'] ?? 'maximize';
  if (goal !== 'minimize' && goal !== 'maximize') error([...at, 'goal'], `goal is minimize or maximize, not ${JSON.stringify(goal)}`);

  const count = (key: string, minimum: number): number | undefined => {
    const value = written[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum) {
      error([...at, key], `${key} is a whole number of at least ${minimum}, not ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  };
  const maxTrials = count('maxTrials', 1);
  const seed = count('seed', 0);
  const parallel = count('parallel', 1);
  const repeats = count('repeats', 1) ?? 1;

  const earlyTermination = parseEarlyTermination(written['earlyTermination'], [...at, 'earlyTermination'], error);

  let methodParams: Record<string, unknown> = {};
  if (typeof method === 'string' && samplers.has(method) && space !== undefined) {
    const entry = samplers.get(method);
    methodParams = fillDefaults(entry.params, methodOptions, () => undefined);
    try {
      const sampler = entry.create(methodParams, { space, seed: 0, goal: goal === 'minimize' ? 'minimize' : 'maximize' });
      if (!Number.isFinite(sampler.size) && written['maxTrials'] === undefined) {
        error(at, `maxTrials is missing: method ${method} samples until it has tried maxTrials configurations`);
      }
    } catch (e) {
      if (!(e instanceof UnsupportedParameterError)) throw e;
      for (const p of e.parameters) error([...at, 'parameters', p.name], p.message);
    }
  }

  if (problems.some((p) => p.severity === 'error') || space === undefined || typeof metric !== 'string') return { config: undefined, problems };
  return {
    config: {
      method: method as string,
      methodParams,
      space,
      metric,
      goal: goal as Goal,
      maxTrials,
      seed,
      parallel,
      earlyTermination,
      repeats,
    },
    problems,
  };
}

/** A method's own parameters as written in `{type: tpe, ...}`: known keys, numbers within their bounds. */
function checkMethodOptions(
  params: Record<string, ParamSpec<unknown>>,
  options: Record<string, unknown>,
  here: PathSegment[],
  error: (path: PathSegment[], message: string, atKey?: boolean) => void,
): void {
  const names = Object.keys(params);
  for (const [key, value] of Object.entries(options)) {
    const spec = params[key];
    if (spec === undefined) {
      error([...here, key], `unknown key '${key}'${didYouMean(key, names)} (${names.length > 0 ? `the method takes ${names.join(', ')}` : 'the method takes no parameters'})`, true);
      continue;
    }
    const schema = spec.schema as { type?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number };
    if (schema.type !== 'integer' && schema.type !== 'number') continue;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (schema.type === 'number' || Number.isInteger(value)) &&
      (schema.minimum === undefined || value >= schema.minimum) &&
      (schema.maximum === undefined || value <= schema.maximum) &&
      (schema.exclusiveMinimum === undefined || value > schema.exclusiveMinimum);
    if (!ok) {
      const bounds = [schema.minimum !== undefined ? `at least ${schema.minimum}` : '', schema.exclusiveMinimum !== undefined ? `above ${schema.exclusiveMinimum}` : '', schema.maximum !== undefined ? `at most ${schema.maximum}` : '']
        .filter((b) => b !== '')
        .join(' and ');
      error([...here, key], `${key} is ${schema.type === 'integer' ? 'a whole number' : 'a number'}${bounds === '' ? '' : ` ${bounds}`}, not ${JSON.stringify(value)}`);
    }
  }
}

function parseEarlyTermination(
  written: unknown,
  here: PathSegment[],
  error: (path: PathSegment[], message: string, atKey?: boolean) => void,
): ResolvedEarlyTermination | undefined {
  if (written === undefined) return undefined;
  if (!isPlainObject(written)) {
    error(here, 'earlyTermination is {type: median | asha, minEpochs, reductionFactor}');
    return undefined;
  }
  for (const key of Object.keys(written)) {
    if (!EARLY_TERMINATION_KEYS.includes(key)) error([...here, key], `unknown key '${key}'${didYouMean(key, EARLY_TERMINATION_KEYS)}`, true);
  }
  const type = written['type'];
  if (type !== 'median' && type !== 'asha') {
    const name = String(type);
    error(type === undefined ? here : [...here, 'type'], type === undefined ? 'type is missing: median or asha' : `unknown early termination '${name}'${didYouMean(name, ['median', 'asha'])} (known: median, asha)`);
  }
  const minEpochs = written['minEpochs'] ?? EARLY_TERMINATION_DEFAULTS.minEpochs;
  if (typeof minEpochs !== 'number' || !Number.isInteger(minEpochs) || minEpochs < 1) error([...here, 'minEpochs'], `minEpochs is a whole number of at least 1, not ${JSON.stringify(minEpochs)}`);
  const reductionFactor = written['reductionFactor'] ?? EARLY_TERMINATION_DEFAULTS.reductionFactor;
  if (typeof reductionFactor !== 'number' || !Number.isFinite(reductionFactor) || reductionFactor <= 1) {
    error([...here, 'reductionFactor'], `reductionFactor is a number above 1 (3 keeps the best third at each rung), not ${JSON.stringify(reductionFactor)}`);
  } else if (type === 'median' && written['reductionFactor'] !== undefined) {
    error([...here, 'reductionFactor'], 'reductionFactor applies to asha; median stops a trial below the median of the others', true);
  }
  const minTrials = written['minTrials'] ?? (type === 'asha' ? 1 : EARLY_TERMINATION_DEFAULTS.minTrials);
  if (typeof minTrials !== 'number' || !Number.isInteger(minTrials) || minTrials < 1) error([...here, 'minTrials'], `minTrials is a whole number of at least 1, not ${JSON.stringify(minTrials)}`);
  if (type !== 'median' && type !== 'asha') return undefined;
  return { type, minEpochs: minEpochs as number, reductionFactor: reductionFactor as number, minTrials: minTrials as number };
}

/**
 * The JSON Schema of the `sweep:` block (for the experiment schema; editors complete from it).
 * Given the method registry, `method` may also be an entry with the method's parameters.
 */
export function sweepSchema(methods: string[] | SamplerRegistry = createSamplerRegistry()): JsonSchema {
  const names = Array.isArray(methods) ? methods : methods.names();
  const byName: JsonSchema = { type: 'string', enum: names, description: 'The method by name.' };
  const method: JsonSchema = Array.isArray(methods)
    ? { ...byName, default: 'grid', description: METHOD_DESCRIPTION }
    : {
        default: 'grid',
        description: METHOD_DESCRIPTION,
        anyOf: [
          byName,
          {
            type: 'object',
            description: `A method, chosen by its type: ${names.join(', ')}.`,
            required: ['type'],
            properties: { type: { type: 'string', enum: names } },
            discriminator: { propertyName: 'type' },
            oneOf: methods.list().map((entry) => entrySchema(entry.name, entry.description, entry.params)),
          },
        ],
      };
  const values: JsonSchema = { type: 'array', minItems: 1, description: 'The values to try (numbers, strings, booleans, or lists and maps of those).' };
  const min: JsonSchema = { type: 'number', description: 'The smallest value of a range.' };
  const max: JsonSchema = { type: 'number', description: 'The largest value of a range.' };
  const parameter: JsonSchema = {
    type: 'object',
    additionalProperties: false,
    description:
      'A categorical parameter {values: [...]}, or a range {min, max, scale: linear|log} or {min, max, integer: true}; with paths, the key is a name and every path takes the value.',
    properties: {
      values,
      min,
      max,
      scale: { type: 'string', enum: ['linear', 'log'], default: 'linear', description: 'log samples a range uniformly in log space (learning rates, weight decays).' },
      integer: { type: 'boolean', default: false, description: 'The range holds whole numbers (units, filters, batch sizes).' },
      paths: { type: 'array', minItems: 1, items: { type: 'string' }, description: "Paths that all take this parameter's value (the key is then just a name)." },
    },
    // Each branch names its keys again: strict ajv wants required keys defined beside `required`.
    anyOf: [
      { properties: { values }, required: ['values'] },
      { properties: { min, max }, required: ['min', 'max'] },
    ],
  };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['parameters', 'metric'],
    description: 'Run the experiment once per configuration the method proposes and rank the trials (under <out>/trials/).',
    properties: {
      method,
      parameters: {
        type: 'object',
        minProperties: 1,
        additionalProperties: parameter,
        description: 'The parameters to vary, keyed by path (as --set) or by a name with its paths.',
      },
      metric: { type: 'string', description: 'The metric that ranks the trials: a validation metric, e.g. validation.accuracy (ranking on test overstates the result).' },
      goal: { type: 'string', enum: ['minimize', 'maximize'], default: 'maximize', description: 'Whether the best trial has the largest or the smallest metric.' },
      maxTrials: { type: 'integer', minimum: 1, description: 'How many configurations to try (random and tpe need it; grid stops after this many combinations).' },
      seed: { type: 'integer', minimum: 0, description: "Seeds the sampler (default: the experiment's seed). The same seed proposes the same trials in the same order." },
      parallel: { type: 'integer', minimum: 1, description: 'Trials run at once. Trial k is proposed from the results of the trials it is defined to see, so the same value always gives the same trials.' },
      earlyTermination: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        description: 'Stop unpromising trials at epoch ends by comparing them with earlier trials, on the intermediate values of metric.',
        properties: {
          type: { type: 'string', enum: ['median', 'asha'], description: 'median: stop a trial whose best value so far is worse than the median of earlier trials at the same epoch; asha: successive halving at rungs minEpochs·reductionFactor^k.' },
          minEpochs: { type: 'integer', minimum: 1, default: EARLY_TERMINATION_DEFAULTS.minEpochs, description: 'No trial is stopped before this epoch (asha: the first rung).' },
          reductionFactor: { type: 'number', exclusiveMinimum: 1, default: EARLY_TERMINATION_DEFAULTS.reductionFactor, description: 'asha: only the best 1/reductionFactor of the trials at a rung go on.' },
          minTrials: { type: 'integer', minimum: 1, description: 'How many earlier trials must have reached an epoch before a trial is stopped there (median: 3, asha: 1).' },
        },
      },
      repeats: { type: 'integer', minimum: 1, default: 1, description: 'Run each configuration with this many seeds (seed, seed+1, ...) and rank on the mean.' },
    },
  };
}
