export { createDatasetRegistry } from './registry';
export { SPLIT_NAMES, createColumn, inMemorySplit, limitSplit } from './dataset';
export type {
  SplitName,
  FeatureDtype,
  ArrayColumn,
  InMemorySplit,
  DataSplit,
  LoadedDataset,
  DatasetContext,
  DatasetRegistry,
} from './dataset';
