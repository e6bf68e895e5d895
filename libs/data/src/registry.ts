import { Registry } from '@dlexp/core';
import type { DatasetRegistry } from './dataset';
import { syntheticDataset } from './synthetic';
import { fashionMnistDataset, idxDataset, mnistDataset } from './idx-datasets';
import { tfrecordDataset } from './tfrecord-dataset';
import { captchaDataset } from './captcha';
import { csvDataset } from './csv';
import { imageFolderDataset } from './image-folder';
import { objectiveDataset } from './objective';

/** Every dataset this library provides, in one registry built on demand (no import side effects). */
export function createDatasetRegistry(): DatasetRegistry {
  const registry: DatasetRegistry = new Registry('dataset', 'datasets');
  registry.register(mnistDataset);
  registry.register(fashionMnistDataset);
  registry.register(idxDataset);
  registry.register(syntheticDataset);
  registry.register(captchaDataset);
  registry.register(tfrecordDataset);
  registry.register(csvDataset);
  registry.register(imageFolderDataset);
  registry.register(objectiveDataset);
  return registry;
}
