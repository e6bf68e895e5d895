import type { Registry, ParamSchema } from '@dlexp/core';
import { createDatasetRegistry } from '@dlexp/data';
import { createModelRegistries, layerNodeFields, type ModelRegistries } from '@dlexp/layers';
import { createOptimizerRegistry, createScheduleRegistry } from '@dlexp/optim';
import { createOpRegistry } from '@dlexp/graph';
import { Registry as RegistryClass } from '@dlexp/core';
import { opsModel } from './models/ops-model';
import { graphModel, sequentialModel } from './models/layers-model';
import { createBackendRegistry } from './backends';
import { createSweepMethodRegistry, type SweepMethodRegistry } from './sweep/methods';
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
  /** Layers, activations, initializers, regularizers, losses and metrics. */
  modelRegistries: ModelRegistries;
  ops: ReturnType<typeof createOpRegistry>;
  backends: ReturnType<typeof createBackendRegistry>;
  sweeps: SweepMethodRegistry;
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
  models.register(opsModel).register(sequentialModel).register(graphModel);
  return {
    datasets: createDatasetRegistry(),
    models,
    optimizers: createOptimizerRegistry(),
    schedules: createScheduleRegistry(),
    modelRegistries: createModelRegistries(),
    ops: createOpRegistry(),
    backends: createBackendRegistry(),
    sweeps: createSweepMethodRegistry(),
  };
}

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

/** Registries shown by `runner list`, by their plural name. */
export function listedRegistries(registries: Registries): AnyRegistry[] {
  const m = registries.modelRegistries;
  return [registries.datasets, registries.models, m.layers, m.activations, m.losses, m.metrics, m.initializers, m.regularizers, registries.optimizers, registries.schedules, registries.ops, registries.backends, registries.sweeps];
}
