import type { Registry, ParamSchema } from '@dlexp/core';
import { createDatasetRegistry } from '@dlexp/data';
import { createInitializerRegistry } from '@dlexp/layers';
import { createOptimizerRegistry, createScheduleRegistry } from '@dlexp/optim';
import { createOpRegistry } from '@dlexp/graph';
import { Registry as RegistryClass } from '@dlexp/core';
import { opsModel } from './models/ops-model';
import type { ModelRegistry } from './models/model';

/**
 * Every registry the runner composes, built explicitly here (no import-order side effects).
 * `unions` are the kinds that appear in experiments as `{type: ..., ...}` and get a `$defs` entry
 * in the JSON Schema; `listed` adds those shown by `runner list` only.
 */
export interface Registries {
  datasets: ReturnType<typeof createDatasetRegistry>;
  models: ModelRegistry;
  optimizers: ReturnType<typeof createOptimizerRegistry>;
  schedules: ReturnType<typeof createScheduleRegistry>;
  initializers: ReturnType<typeof createInitializerRegistry>;
  ops: ReturnType<typeof createOpRegistry>;
}

// The registries hold entries of different products; only their names and params matter here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRegistry = Registry<any, any>;

export interface UnionKind {
  /** `$defs` key and the kind used by param.union(). */
  kind: string;
  registry: AnyRegistry;
  /** Keys every entry accepts besides its own params. */
  extraFields?: ParamSchema<unknown>;
}

export function createRegistries(): Registries {
  const models: ModelRegistry = new RegistryClass('model', 'models');
  models.register(opsModel);
  return {
    datasets: createDatasetRegistry(),
    models,
    optimizers: createOptimizerRegistry(),
    schedules: createScheduleRegistry(),
    initializers: createInitializerRegistry(),
    ops: createOpRegistry(),
  };
}

export function unionKinds(registries: Registries): UnionKind[] {
  return [
    { kind: 'dataset', registry: registries.datasets },
    { kind: 'model', registry: registries.models },
    { kind: 'optimizer', registry: registries.optimizers },
    { kind: 'schedule', registry: registries.schedules },
    { kind: 'initializer', registry: registries.initializers },
  ];
}

/** Registries shown by `runner list`, by their plural name. */
export function listedRegistries(registries: Registries): AnyRegistry[] {
  return [registries.datasets, registries.models, registries.optimizers, registries.schedules, registries.initializers, registries.ops];
}
