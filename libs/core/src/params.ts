/**
 * Parameter specs: each parameter's JSON Schema, default and description written together, once.
 * The experiment JSON Schema, `runner list`, and the normalize step (filling defaults) all read
 * from these specs, so a parameter cannot be documented in one place and defaulted in another.
 */

export type JsonSchema = { [key: string]: unknown };

export interface ParamSpec<T> {
  /** JSON Schema of the value; carries `description` and, where there is one, `default`. */
  schema: JsonSchema;
  /** Filled in by normalize when the parameter is not written. */
  default?: T;
  /** Must be written (no default makes sense). */
  required?: boolean;
  /** The value is an entry of another registry (`{type: ..., ...}`) whose own defaults get filled. */
  union?: string;
  /** The value is a list of entries of another registry. */
  listOf?: string;
  /** The value is a map from names to entries of another registry. */
  mapOf?: string;
}

export type ParamSchema<P> = { [K in keyof P]-?: ParamSpec<P[K]> };

interface Common<T> {
  description: string;
  default?: T;
  required?: boolean;
}

function spec<T>(base: JsonSchema, options: Common<T>, extra: Partial<ParamSpec<T>> = {}): ParamSpec<T> {
  const schema: JsonSchema = { ...base, description: options.description };
  if (options.default !== undefined) schema['default'] = options.default;
  const result: ParamSpec<T> = { schema, ...extra };
  if (options.default !== undefined) result.default = options.default;
  if (options.required === true) result.required = true;
  return result;
}

interface NumberOptions<T> extends Common<T> {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

function bounds(options: NumberOptions<unknown>): JsonSchema {
  const out: JsonSchema = {};
  for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'] as const) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out;
}

export const param = {
  number(options: NumberOptions<number>): ParamSpec<number> {
    return spec({ type: 'number', ...bounds(options) }, options);
  },
  integer(options: NumberOptions<number>): ParamSpec<number> {
    return spec({ type: 'integer', ...bounds(options) }, options);
  },
  boolean(options: Common<boolean>): ParamSpec<boolean> {
    return spec({ type: 'boolean' }, options);
  },
  string(options: Common<string> & { pattern?: string; minLength?: number }): ParamSpec<string> {
    const base: JsonSchema = { type: 'string' };
    if (options.pattern !== undefined) base['pattern'] = options.pattern;
    if (options.minLength !== undefined) base['minLength'] = options.minLength;
    return spec(base, options);
  },
  oneOf<T extends string>(values: readonly T[], options: Common<T>): ParamSpec<T> {
    return spec({ type: 'string', enum: [...values] }, options);
  },
  numberList(options: Common<number[]> & { minItems?: number; maxItems?: number; integer?: boolean }): ParamSpec<number[]> {
    const base: JsonSchema = { type: 'array', items: { type: options.integer === true ? 'integer' : 'number' } };
    if (options.minItems !== undefined) base['minItems'] = options.minItems;
    if (options.maxItems !== undefined) base['maxItems'] = options.maxItems;
    return spec(base, options);
  },
  /** A tensor shape: a list of sizes where `null` is a size known only at run time (the batch). */
  shape(options: Common<(number | null)[]>): ParamSpec<(number | null)[]> {
    return spec({ type: 'array', items: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] } }, options);
  },
  stringList(options: Common<string[]> & { minItems?: number }): ParamSpec<string[]> {
    const base: JsonSchema = { type: 'array', items: { type: 'string' } };
    if (options.minItems !== undefined) base['minItems'] = options.minItems;
    return spec(base, options);
  },
  /** An entry of the registry `kind`, written as `{type: ..., ...params}`. */
  union<T>(kind: string, options: Common<T>): ParamSpec<T> {
    return spec({ $ref: `#/$defs/${kind}` }, options, { union: kind });
  },
  unionList<T>(kind: string, options: Common<T[]> & { minItems?: number }): ParamSpec<T[]> {
    const base: JsonSchema = { type: 'array', items: { $ref: `#/$defs/${kind}` } };
    if (options.minItems !== undefined) base['minItems'] = options.minItems;
    return spec(base, options, { listOf: kind });
  },
  unionMap<T>(kind: string, options: Common<Record<string, T>>): ParamSpec<Record<string, T>> {
    return spec(
      { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, additionalProperties: { $ref: `#/$defs/${kind}` } },
      options,
      { mapOf: kind },
    );
  },
  /** Any JSON Schema; for the rare parameter the helpers above do not describe. */
  custom<T>(schema: JsonSchema, options: Common<T>, extra: Partial<ParamSpec<T>> = {}): ParamSpec<T> {
    return spec(schema, options, extra);
  },
};

/** The key that names the registry entry in YAML: `optimizer: {type: adam, learningRate: 0.001}`. */
export const TYPE_KEY = 'type';

/**
 * The JSON Schema of one registry entry: `{type: <const>, ...params}`, nothing else allowed.
 * `extraFields` are keys every entry of a kind accepts besides its own parameters (a layer's node name).
 */
export function entrySchema(
  name: string,
  description: string,
  params: ParamSchema<unknown>,
  extraFields: ParamSchema<unknown> = {},
): JsonSchema {
  const properties: JsonSchema = { [TYPE_KEY]: { const: name, description } };
  const required = [TYPE_KEY];
  for (const [key, p] of Object.entries(extraFields as Record<string, ParamSpec<unknown>>)) {
    properties[key] = p.schema;
    if (p.required === true) required.push(key);
  }
  for (const [key, p] of Object.entries(params as Record<string, ParamSpec<unknown>>)) {
    properties[key] = p.schema;
    if (p.required === true) required.push(key);
  }
  return { type: 'object', description, properties, required, additionalProperties: false };
}

/** Fills an entry's defaults, recursing into parameters that are entries of other registries. */
export type UnionLookup = (kind: string, name: string) => ParamSchema<unknown> | undefined;

export function fillDefaults(
  params: ParamSchema<unknown>,
  written: Record<string, unknown>,
  lookup: UnionLookup,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...written };
  for (const [key, p] of Object.entries(params as Record<string, ParamSpec<unknown>>)) {
    if (out[key] === undefined && p.default !== undefined) out[key] = structuredClone(p.default);
    const value = out[key];
    if (value === undefined) continue;
    if (p.union !== undefined) out[key] = fillEntry(p.union, value, lookup);
    else if (p.listOf !== undefined && Array.isArray(value)) {
      const kind = p.listOf;
      out[key] = value.map((item) => fillEntry(kind, item, lookup));
    } else if (p.mapOf !== undefined && isPlainObject(value)) {
      const kind = p.mapOf;
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillEntry(kind, v, lookup)]));
    }
  }
  return out;
}

export function fillEntry(kind: string, value: unknown, lookup: UnionLookup): unknown {
  if (!isPlainObject(value) || typeof value[TYPE_KEY] !== 'string') return value;
  const params = lookup(kind, value[TYPE_KEY]);
  return params === undefined ? value : fillDefaults(params, value, lookup);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
