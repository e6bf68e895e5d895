import type { JsonSchema, ParamSchema, Registry } from '@dlexp/core';

// The registries hold entries of different products; only their names and params matter here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRegistry = Registry<any, any>;

/** A kind written in experiments as `{type: <name>, ...}`: a `$defs` entry of the JSON Schema. */
export interface UnionKind {
  /** `$defs` key and the kind used by param.union(). */
  kind: string;
  registry: AnyRegistry;
  /** Keys every entry accepts besides its own params (a layer's name, inputs, trainable). */
  extraFields?: ParamSchema<unknown>;
}

/**
 * Everything the config layer needs to know about the registries, without depending on what they
 * build: the kinds that appear as `{type: ...}` entries, and the names accepted by the fixed
 * sections (backend, sweep method, early termination).
 */
export interface ConfigCatalog {
  unions: UnionKind[];
  /** `backend:` values: auto and every registered backend. */
  backends: string[];
  /** `sweep.method:` values. */
  sweepMethods: string[];
  /**
   * The JSON Schema of the `sweep:` block, from the sweep library that reads it. Without it an
   * experiment cannot hold a sweep (the engine alone runs single experiments).
   */
  sweepSchema?: JsonSchema;
}
