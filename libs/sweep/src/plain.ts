import { ConfigError, formatPath, isPlainObject, parsePath, type PathSegment } from '@dlexp/core';

/** Data that survives JSON unchanged: what trial specs, results and parameter values are made of. */
export type PlainValue = null | boolean | number | string | PlainValue[] | { [key: string]: PlainValue };

/** JSON with object keys sorted, so equal data always gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function plainEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Whether a value is plain data (no functions, class instances, undefined, NaN or infinities). */
export function isPlainValue(value: unknown): value is PlainValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isPlainValue);
  if (isPlainObject(value) && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value).every(isPlainValue);
  return false;
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 64-bit fingerprint (16 hex digits) of plain data: two FNV-1a passes with different offsets
 * over its canonical JSON. Not cryptographic; it tells whether two sweeps are the same one, in
 * Node and in a browser alike.
 */
export function fingerprint(value: unknown): string {
  const text = canonicalJson(value);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193) ^ (b >>> 13);
  }
  return mix(a).toString(16).padStart(8, '0') + mix(b ^ text.length).toString(16).padStart(8, '0');
}

/**
 * A copy of `base` with each value set at its path (the --set grammar: dotted keys, numeric list
 * indices, bracketed keys). Missing objects on the way are created; a path that runs through a
 * value that is not an object or a list is a ConfigError naming the path.
 */
export function applyParameters(base: PlainValue, parameters: Record<string, PlainValue>): PlainValue {
  const root = structuredClone(base);
  let result: PlainValue = root;
  for (const [path, value] of Object.entries(parameters)) {
    const segments = parsePath(path);
    result = setAt(result, segments, structuredClone(value), path);
  }
  return result;
}

function setAt(node: PlainValue, segments: readonly PathSegment[], value: PlainValue, path: string): PlainValue {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (typeof head === 'number') {
    if (!Array.isArray(node)) throw new ConfigError(`${path}: ${describeAt(path, segments)} is not a list, so it has no index ${head}`);
    if (head > node.length) throw new ConfigError(`${path}: index ${head} is past the end of a list of ${node.length}`);
    node[head] = setAt(node[head] ?? {}, rest, value, path);
    return node;
  }
  if (!isPlainObject(node)) throw new ConfigError(`${path}: ${describeAt(path, segments)} is not an object, so it has no key '${head}'`);
  const object = node as { [key: string]: PlainValue };
  object[head] = setAt(object[head] ?? {}, rest, value, path);
  return object;
}

function describeAt(path: string, remaining: readonly PathSegment[]): string {
  const all = parsePath(path);
  const parent = all.slice(0, all.length - remaining.length);
  return parent.length === 0 ? 'the experiment' : `'${formatPath(parent)}'`;
}
