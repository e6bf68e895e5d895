import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { JsonSchema } from '@dlexp/core';

/**
 * Completion from the experiment's JSON Schema (the one the CLI validates against): at a key, the
 * keys the mapping there may hold (the entry's own parameters once its `type:` is written); at a
 * value, the names an enum or a registry union allows, and true/false. Works on text being typed:
 * the word under the cursor is replaced by a marker, the text parsed, and the marker's path in
 * the document walked down the schema.
 */

export interface CompletionOption {
  label: string;
  kind: 'property' | 'value';
  /** What is inserted (a key gets its `: `). */
  apply: string;
  detail?: string;
  info?: string;
}

export interface Completion {
  /** Where the word being completed starts. */
  from: number;
  options: CompletionOption[];
}

type Schema = Record<string, unknown>;
type Segment = string | number;

const MARKER = 'dlexpCompletionMarker';

function isObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schema a `$ref` (`#/$defs/layer`) points to. */
function dereference(schema: Schema, root: Schema): Schema {
  let current = schema;
  for (let hops = 0; typeof current['$ref'] === 'string' && hops < 20; hops++) {
    const target = (current['$ref'] as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), root);
    if (!isObject(target)) return {};
    // Keywords beside the $ref (a description) stay; the target's fill in the rest.
    const { $ref: _ref, ...rest } = current;
    current = { ...target, ...rest };
  }
  return current;
}

/**
 * The schemas a value may match, with unions opened: each branch of oneOf/anyOf, narrowed to the
 * branch whose `type` const equals the value's `type` when the value has one.
 */
function alternatives(schema: unknown, root: Schema, value: unknown): Schema[] {
  if (!isObject(schema)) return [];
  const resolved = dereference(schema, root);
  const out: Schema[] = [resolved];
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const branches = resolved[key];
    if (!Array.isArray(branches)) continue;
    let opened = branches.flatMap((b) => alternatives(b, root, value));
    const chosen = isObject(value) ? value['type'] : undefined;
    if (key !== 'allOf' && typeof chosen === 'string') {
      const matching = opened.filter((b) => isObject(b['properties']) && isObject(b['properties']['type']) && b['properties']['type']['const'] === chosen);
      if (matching.length > 0) opened = matching;
    }
    out.push(...opened);
  }
  return out;
}

/** The schemas of the value at `path` inside `data`, walking the schema down the same path. */
function schemasAt(root: Schema, data: unknown, path: Segment[]): Schema[] {
  let schemas = alternatives(root, root, data);
  let value: unknown = data;
  for (const segment of path) {
    const next: Schema[] = [];
    const child = Array.isArray(value) && typeof segment === 'number' ? value[segment] : isObject(value) ? value[String(segment)] : undefined;
    for (const schema of schemas) {
      if (typeof segment === 'number') {
        if (schema['items'] !== undefined) next.push(...alternatives(schema['items'], root, child));
        continue;
      }
      const properties = isObject(schema['properties']) ? schema['properties'] : {};
      if (properties[segment] !== undefined) next.push(...alternatives(properties[segment], root, child));
      else if (isObject(schema['additionalProperties'])) next.push(...alternatives(schema['additionalProperties'], root, child));
    }
    schemas = next;
    value = child;
  }
  return schemas;
}

function describe(schema: Schema): string | undefined {
  return typeof schema['description'] === 'string' ? schema['description'] : undefined;
}

function shortType(schema: Schema): string | undefined {
  if (typeof schema['type'] === 'string') return schema['type'];
  if (Array.isArray(schema['enum'])) return 'one of';
  if (Array.isArray(schema['anyOf']) || Array.isArray(schema['oneOf'])) return 'union';
  return undefined;
}

function keyOptions(schemas: Schema[], existing: Set<string>, root: Schema): CompletionOption[] {
  const options = new Map<string, CompletionOption>();
  for (const schema of schemas) {
    if (!isObject(schema['properties'])) continue;
    for (const [name, property] of Object.entries(schema['properties'])) {
      if (existing.has(name) || options.has(name) || !isObject(property)) continue;
      const resolved = dereference(property, root);
      const info = describe(property) ?? describe(resolved);
      const detail = shortType(resolved);
      options.set(name, { label: name, kind: 'property', apply: `${name}: `, ...(detail !== undefined ? { detail } : {}), ...(info !== undefined ? { info } : {}) });
    }
  }
  // `type` first: the rest of an entry's keys depend on it.
  return [...options.values()].sort((a, b) => (a.label === 'type' ? -1 : b.label === 'type' ? 1 : 0));
}

function valueOptions(schemas: Schema[], root: Schema): CompletionOption[] {
  const options = new Map<string, CompletionOption>();
  const add = (value: unknown, info?: string) => {
    const label = typeof value === 'string' ? value : JSON.stringify(value);
    if (!options.has(label)) options.set(label, { label, kind: 'value', apply: label, ...(info !== undefined ? { info } : {}) });
  };
  for (const schema of schemas) {
    if (schema['const'] !== undefined) add(schema['const'], describe(schema));
    if (Array.isArray(schema['enum'])) for (const value of schema['enum']) add(value);
    if (schema['type'] === 'boolean') [true, false].forEach((v) => add(v));
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (Array.isArray(schema[key])) for (const branch of schema[key]) valueOptions(alternatives(branch, root, undefined), root).forEach((o) => !options.has(o.label) && options.set(o.label, o));
    }
  }
  return [...options.values()];
}

/** The path to the marker in the parsed document, and whether it sits at a key or a value. */
function findMarker(node: unknown, path: Segment[] = []): { path: Segment[]; at: 'key' | 'value'; siblings: string[] } | undefined {
  if (isMap(node)) {
    const keys = node.items.flatMap((p) => (isScalar(p.key) && typeof p.key.value === 'string' ? [p.key.value] : []));
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (key === MARKER) return { path, at: 'key', siblings: keys.filter((k) => k !== MARKER) };
      if (isScalar(pair.value) && pair.value.value === MARKER && typeof key === 'string') return { path: [...path, key], at: 'value', siblings: [] };
      if (typeof key === 'string' || typeof key === 'number') {
        const found = findMarker(pair.value, [...path, key]);
        if (found !== undefined) return found;
      }
    }
  }
  if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      // `- marker` in a list of entries: the start of a new mapping's first key.
      if (isScalar(item) && item.value === MARKER) return { path: [...path, index], at: 'key', siblings: [] };
      const found = findMarker(item, [...path, index]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The completions at `offset` of `text`, or undefined where there is nothing to offer (a comment, an expression). */
export function completeAt(text: string, offset: number, schema: JsonSchema): Completion | undefined {
  const root = schema as Schema;
  let from = offset;
  while (from > 0 && /[A-Za-z0-9_.-]/.test(text[from - 1]!)) from--;
  let to = offset;
  while (to < text.length && /[A-Za-z0-9_.-]/.test(text[to]!)) to++;
  const lineStart = text.lastIndexOf('\n', from - 1) + 1;
  const before = text.slice(lineStart, from);
  if (before.includes('#')) return undefined;
  // A key when the word starts a line, a list item or a flow-mapping entry; a value after `key:`.
  const atValue = /:\s*$/.test(before);
  const atKey = /^\s*(-\s+)*$/.test(before) || /[{,]\s*$/.test(before);
  if (!atValue && !atKey) return undefined;
  const rest = text.slice(to);
  const inFlow = /[{,]\s*$/.test(before) || (atValue && /^\s*[,}]/.test(rest));
  const replacement = atValue ? MARKER : inFlow || /^\s*-\s+$/.test(before) || /^\s*:/.test(rest) ? MARKER : `${MARKER}:`;
  const document = parseDocument(text.slice(0, from) + replacement + rest, { prettyErrors: false, uniqueKeys: false });
  const found = findMarker(document.contents as Node | null);
  if (found === undefined) return undefined;
  const data: unknown = document.toJS({ maxAliasCount: 100 });
  const schemas = schemasAt(root, data, found.path);
  const options = found.at === 'key' ? keyOptions(schemas, new Set(found.siblings), root) : valueOptions(schemas, root);
  return options.length === 0 ? undefined : { from, options };
}
