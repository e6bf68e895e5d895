import { didYouMean, formatPath, isPlainObject, parsePath, type PathSegment, type RandomStream } from '@dlexp/core';
import { canonicalJson, isPlainValue, type PlainValue } from './plain';

/**
 * The parameter space of a sweep, from the `parameters` block. Each key is a path into the
 * experiment (as --set), or a name when the parameter lists the `paths` it sets together:
 *
 *   train.optimizer.type: {values: [sgd, adam]}                       categorical
 *   train.optimizer.learningRate: {min: 0.0001, max: 0.1, scale: log} float
 *   model.layers.0.units: {min: 16, max: 256, integer: true, scale: log}
 *   dropout: {paths: [model.layers.1.rate, model.layers.3.rate], min: 0, max: 0.6}
 */

/** Where a problem is (path segments from the document root) and what it is. */
export interface SweepProblem {
  path: PathSegment[];
  message: string;
  severity: 'error' | 'warning';
  /** The problem is with the key itself (a misspelt or malformed key), not with its value. */
  atKey?: boolean;
}

interface ParameterBase {
  /** The key in `parameters`. */
  name: string;
  /** The experiment paths that take this parameter's value. */
  paths: string[];
}

export interface CategoricalParameter extends ParameterBase {
  kind: 'categorical';
  values: PlainValue[];
}

export interface RangeParameter extends ParameterBase {
  kind: 'float' | 'integer';
  min: number;
  max: number;
  /** log: sampled uniformly in log space (learning rates, weight decays, layer widths). */
  scale: 'linear' | 'log';
}

export type Parameter = CategoricalParameter | RangeParameter;

/** The parameters in the order they are written (grid order and sampling order follow it). */
export interface ParameterSpace {
  parameters: Parameter[];
}

/** One configuration: each parameter's value, by parameter name. */
export type ParameterValues = Record<string, PlainValue>;

const PARAMETER_KEYS = ['values', 'min', 'max', 'scale', 'integer', 'paths'];

/**
 * Reads and checks the `parameters` block. Every problem is returned (none thrown), each with the
 * path of the key it is about, starting at `at` (the block's own path in the document).
 */
export function parseParameterSpace(written: unknown, at: PathSegment[] = ['sweep', 'parameters']): { space: ParameterSpace | undefined; problems: SweepProblem[] } {
  const problems: SweepProblem[] = [];
  const error = (path: PathSegment[], message: string, atKey = false) => problems.push({ path, message, severity: 'error', ...(atKey ? { atKey } : {}) });
  if (!isPlainObject(written)) {
    error(at, 'parameters is a map from paths (or names) to {values: [...]} or {min, max}');
    return { space: undefined, problems };
  }
  const entries = Object.entries(written);
  if (entries.length === 0) error(at, 'give at least one parameter to sweep');
  const parameters: Parameter[] = [];
  const pathOwners = new Map<string, string>();
  for (const [name, spec] of entries) {
    const here = [...at, name];
    const before = problems.length;
    const parameter = parseParameter(name, spec, here, error);
    if (parameter === undefined || problems.length > before) continue;
    for (const [i, path] of parameter.paths.entries()) {
      const canonical = formatPath(parsePath(path));
      const owner = pathOwners.get(canonical);
      const where = isPlainObject(spec) && spec['paths'] !== undefined ? [...here, 'paths', i] : here;
      if (owner !== undefined) error(where, `${canonical} is already set by parameter '${owner}'`, !(isPlainObject(spec) && spec['paths'] !== undefined));
      else pathOwners.set(canonical, name);
    }
    parameters.push(parameter);
  }
  return { space: problems.some((p) => p.severity === 'error') ? undefined : { parameters }, problems };
}

function parseParameter(
  name: string,
  spec: unknown,
  here: PathSegment[],
  error: (path: PathSegment[], message: string, atKey?: boolean) => void,
): Parameter | undefined {
  if (!isPlainObject(spec)) {
    error(here, 'a parameter is {values: [...]}, {min, max, scale: linear|log} or {min, max, integer: true}');
    return undefined;
  }
  for (const key of Object.keys(spec)) {
    if (!PARAMETER_KEYS.includes(key)) error([...here, key], `unknown key '${key}'${didYouMean(key, PARAMETER_KEYS)} (a parameter has ${PARAMETER_KEYS.join(', ')})`, true);
  }
  const paths = parsePaths(name, spec['paths'], here, error);
  const hasValues = spec['values'] !== undefined;
  const hasRange = spec['min'] !== undefined || spec['max'] !== undefined;
  if (hasValues && hasRange) {
    error(here, 'give either values or min and max, not both');
    return undefined;
  }
  if (hasValues) {
    for (const key of ['scale', 'integer'] as const) {
      if (spec[key] !== undefined) error([...here, key], `${key} applies to a min/max range; a list of values is tried as written`, true);
    }
    const values = parseValues(spec['values'], [...here, 'values'], error);
    return values === undefined || paths === undefined ? undefined : { kind: 'categorical', name, paths, values };
  }
  if (!hasRange) {
    error(here, 'give the values to try (values: [...]) or a range (min and max)');
    return undefined;
  }
  return parseRange(name, spec, paths, here, error);
}

function parsePaths(name: string, written: unknown, here: PathSegment[], error: (path: PathSegment[], message: string, atKey?: boolean) => void): string[] | undefined {
  if (written === undefined) {
    try {
      parsePath(name);
      return [name];
    } catch (e) {
      error(here, `${(e as Error).message} (a parameter without paths is keyed by the path it sets)`, true);
      return undefined;
    }
  }
  if (!Array.isArray(written) || written.length === 0) {
    error([...here, 'paths'], 'paths is a non-empty list of the paths that take this value');
    return undefined;
  }
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const [i, path] of written.entries()) {
    if (typeof path !== 'string') {
      error([...here, 'paths', i], 'a path is a string such as model.layers.1.rate');
      continue;
    }
    try {
      const canonical = formatPath(parsePath(path));
      if (seen.has(canonical)) error([...here, 'paths', i], `${path} is listed twice`);
      seen.add(canonical);
      paths.push(path);
    } catch (e) {
      error([...here, 'paths', i], (e as Error).message);
    }
  }
  return paths.length === written.length ? paths : undefined;
}

function parseValues(written: unknown, here: PathSegment[], error: (path: PathSegment[], message: string) => void): PlainValue[] | undefined {
  if (!Array.isArray(written) || written.length === 0) {
    error(here, 'values is a non-empty list of the values to try');
    return undefined;
  }
  const seen = new Map<string, number>();
  let ok = true;
  for (const [i, value] of written.entries()) {
    if (!isPlainValue(value)) {
      error([...here, i], 'a value is a number, string, boolean, null, or a list or map of those');
      ok = false;
      continue;
    }
    const key = canonicalJson(value);
    const first = seen.get(key);
    if (first !== undefined) {
      error([...here, i], `${key} is already listed (at index ${first}); each value is tried once`);
      ok = false;
    } else seen.set(key, i);
  }
  return ok ? (written as PlainValue[]) : undefined;
}

function parseRange(
  name: string,
  spec: Record<string, unknown>,
  paths: string[] | undefined,
  here: PathSegment[],
  error: (path: PathSegment[], message: string, atKey?: boolean) => void,
): RangeParameter | undefined {
  let ok = paths !== undefined;
  const bound = (key: 'min' | 'max'): number | undefined => {
    const value = spec[key];
    if (value === undefined) {
      error(here, `${key} is missing: a range needs both min and max`);
      ok = false;
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      error([...here, key], `${key} is a finite number`);
      ok = false;
      return undefined;
    }
    return value;
  };
  const min = bound('min');
  const max = bound('max');
  const scaleWritten = spec['scale'] ?? 'linear';
  if (scaleWritten !== 'linear' && scaleWritten !== 'log') {
    error([...here, 'scale'], `scale is linear or log, not ${JSON.stringify(scaleWritten)}${typeof scaleWritten === 'string' ? didYouMean(scaleWritten, ['linear', 'log']) : ''}`);
    ok = false;
  }
  const integerWritten = spec['integer'] ?? false;
  if (typeof integerWritten !== 'boolean') {
    error([...here, 'integer'], 'integer is true or false');
    ok = false;
  }
  const integer = integerWritten === true;
  const scale = scaleWritten === 'log' ? 'log' : 'linear';
  if (min !== undefined && max !== undefined) {
    if (integer) {
      for (const [key, value] of [['min', min], ['max', max]] as const) {
        if (!Number.isInteger(value)) {
          error([...here, key], `${key} of an integer range is a whole number, not ${value}`);
          ok = false;
        }
      }
    }
    if (!(min < max)) {
      error([...here, 'max'], `max (${max}) must be greater than min (${min}); a single value is written values: [${min}]`);
      ok = false;
    }
    if (scale === 'log' && !(min > 0)) {
      error([...here, 'min'], `a log-scale range starts above 0, not at ${min}`);
      ok = false;
    }
  }
  if (!ok || min === undefined || max === undefined || paths === undefined) return undefined;
  return { kind: integer ? 'integer' : 'float', name, paths, min, max, scale };
}

/** The experiment overrides of a configuration: each parameter's value at each of its paths. */
export function parametersByPath(space: ParameterSpace, values: ParameterValues): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  for (const parameter of space.parameters) {
    const value = values[parameter.name];
    if (value === undefined) continue;
    for (const path of parameter.paths) out[path] = value;
  }
  return out;
}

/** A value drawn uniformly (in log space for log scales) from one parameter. */
export function drawUniform(parameter: Parameter, stream: RandomStream): PlainValue {
  if (parameter.kind === 'categorical') return parameter.values[stream.int(parameter.values.length)]!;
  const { min, max } = parameter;
  if (parameter.kind === 'float') {
    const value = parameter.scale === 'log' ? Math.exp(stream.range(Math.log(min), Math.log(max))) : stream.range(min, max);
    return Math.min(max, Math.max(min, value));
  }
  if (parameter.scale === 'linear') return min + stream.int(max - min + 1);
  // Each integer owns the interval of half a step either side of it, measured in log space.
  const value = Math.round(Math.exp(stream.range(Math.log(min - 0.5), Math.log(max + 0.5))));
  return Math.min(max, Math.max(min, value));
}

/** The number of combinations of a space of categorical parameters (grid size). */
export function gridSize(space: ParameterSpace): number {
  let size = 1;
  for (const parameter of space.parameters) size *= parameter.kind === 'categorical' ? parameter.values.length : Infinity;
  return size;
}

/** Combination `index` of the grid, the first parameter varying slowest (as written). */
export function gridPoint(space: ParameterSpace, index: number): ParameterValues {
  const values: ParameterValues = {};
  let rest = index;
  for (let i = space.parameters.length - 1; i >= 0; i--) {
    const parameter = space.parameters[i]!;
    if (parameter.kind !== 'categorical') throw new Error(`grid point of a range parameter '${parameter.name}'`);
    values[parameter.name] = parameter.values[rest % parameter.values.length]!;
    rest = Math.floor(rest / parameter.values.length);
  }
  // Keep the written order in the returned object.
  return Object.fromEntries(space.parameters.map((p) => [p.name, values[p.name]!]));
}

/** The index of a categorical value (compared as data), or -1. */
export function categoryIndex(parameter: CategoricalParameter, value: unknown): number {
  const key = canonicalJson(value);
  return parameter.values.findIndex((v) => canonicalJson(v) === key);
}

/** Whether a value belongs to a parameter's domain (used to check recorded trials on resume). */
export function inDomain(parameter: Parameter, value: unknown): boolean {
  if (parameter.kind === 'categorical') return categoryIndex(parameter, value) >= 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < parameter.min || value > parameter.max) return false;
  return parameter.kind === 'float' || Number.isInteger(value);
}
