import type { RegistryEntry } from '@dlexp/core';
import { createColumn, inMemorySplit, type DatasetContext, type LoadedDataset } from './dataset';

/**
 * No data: a single training example with one feature (`unit`, the value 1) that nothing needs to
 * read. It gives the train loop its steps when an ops model minimizes a function of its variables
 * alone, such as an optimizer started near the saddle of x² − y² (the `synthetic` surfaces are
 * points sampled from a surface to fit, not a surface to descend).
 */
export const objectiveDataset: RegistryEntry<Record<string, never>, DatasetContext, Promise<LoadedDataset>> = {
  name: 'objective',
  description: 'No data: an ops model minimizes its loss as a function of its variables alone (an optimizer on a surface such as x² − y²). Give the budget in steps.',
  params: {},
  async create() {
    return {
      description: 'no data (the loss is a function of the model\'s variables)',
      splits: { train: inMemorySplit({ unit: createColumn(new Float32Array([1]), [1, 1]) }) },
    };
  },
};
