import { Registry, type JsonSchema, type ParamSchema } from '@dlexp/core';
import { backendChoices, createBackendRegistry, type BackendRegistry } from '@dlexp/backends';
import type { AnyRegistry, ConfigCatalog, UnionKind } from '@dlexp/config';
import { createDatasetRegistry, type DatasetRegistry } from '@dlexp/data';
import { createOpRegistry } from '@dlexp/graph';
import { createModelRegistries, layerNodeFields, type ModelRegistries } from '@dlexp/layers';
import { createOptimizerRegistry, createScheduleRegistry, type OptimizerRegistry, type ScheduleRegistry } from '@dlexp/optim';
import { graphModel, sequentialModel } from './models/layers-model';
import { opsModel } from './models/ops-model';
import type { ModelRegistry } from './models/trainable-model';

/** Every registry the engine composes, built explicitly here (no import-order side effects). */
export interface Registries {
  datasets: DatasetRegistry;
  models: ModelRegistry;
  optimizers: OptimizerRegistry;
  schedules: ScheduleRegistry;
  /** Layers, activations, initializers, regularizers, losses and metrics. */
  modelRegistries: ModelRegistries;
  ops: ReturnType<typeof createOpRegistry>;
  backends: BackendRegistry;
  /** Names of the sweep methods (`sweep.method`), shown by `runner list sweeps`. */
  sweeps: AnyRegistry;
}

export interface CreateRegistriesOptions {
  /** Sweep methods, from the sweep library (the engine runs single experiments only). */
  sweeps?: AnyRegistry;
}

export function createRegistries(options: CreateRegistriesOptions = {}): Registries {
  const models: ModelRegistry = new Registry('model', 'models');
  models.register(opsModel).register(sequentialModel).register(graphModel);
  return {
    datasets: createDatasetRegistry(),
    models,
    optimizers: createOptimizerRegistry(),
    schedules: createScheduleRegistry(),
    modelRegistries: createModelRegistries(),
    ops: createOpRegistry(),
    backends: createBackendRegistry(),
    sweeps: options.sweeps ?? new Registry('sweep method', 'sweeps'),
  };
}

/** The kinds written in experiments as `{type: ...}`: each a `$defs` entry of the JSON Schema. */
export function unionKinds(registries: Registries): UnionKind[] {
  return [
    { kind: 'dataset', registry: registries.datasets },
    { kind: 'model', registry: registries.models },
    { kind: 'optimizer', registry: registries.optimizers },
    { kind: 'schedule', registry: registries.schedules },
    { kind: 'layer', registry: registries.modelRegistries.layers, extraFields: layerNodeFields as ParamSchema<unknown> },
    { kind: 'initializer', registry: registries.modelRegistries.initializers },
    { kind: 'regularizer', registry: registries.modelRegistries.regularizers },
    { kind: 'loss', registry: registries.modelRegistries.losses },
    { kind: 'metric', registry: registries.modelRegistries.metrics },
  ];
}

const catalogs = new WeakMap<Registries, ConfigCatalog>();

/**
 * What the config library needs of the registries. One catalog per registries object, so the
 * schema compiled from it is reused; registering a plugin's entries makes a new one.
 */
export function catalogOf(registries: Registries): ConfigCatalog {
  let catalog = catalogs.get(registries);
  if (catalog === undefined) {
    // The sweep library's method registry also defines the `sweep:` block's schema (blockSchema);
    // the engine does not depend on that library, so it asks the registry it was given.
    const sweeps = registries.sweeps as AnyRegistry & { blockSchema?: () => JsonSchema };
    const sweepSchema = typeof sweeps.blockSchema === 'function' ? sweeps.blockSchema() : undefined;
    catalog = {
      unions: unionKinds(registries),
      backends: backendChoices(registries.backends),
      sweepMethods: sweeps.names(),
      ...(sweepSchema !== undefined ? { sweepSchema } : {}),
    };
    catalogs.set(registries, catalog);
  }
  return catalog;
}

/** Forgets the cached catalog (and so the compiled schema) after entries were added. */
export function invalidateCatalog(registries: Registries): void {
  catalogs.delete(registries);
}

/** Registries shown by `runner list`, by their plural name. */
export function listedRegistries(registries: Registries): AnyRegistry[] {
  const m = registries.modelRegistries;
  return [registries.datasets, registries.models, m.layers, m.activations, m.losses, m.metrics, m.initializers, m.regularizers, registries.optimizers, registries.schedules, registries.ops, registries.backends, registries.sweeps];
}
