import { Registry } from '@dlexp/core';
import type { DatasetRegistry } from './dataset';
import { syntheticDataset } from './synthetic';

/** Every dataset this library provides, in one registry built on demand (no import side effects). */
export function createDatasetRegistry(): DatasetRegistry {
  const registry: DatasetRegistry = new Registry('dataset', 'datasets');
  registry.register(syntheticDataset);
  return registry;
}
