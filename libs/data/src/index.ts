/**
 * Datasets and input pipelines.
 *
 * Feature naming convention (the runner relies on it):
 * - inputs are the feature `x`;
 * - targets are the feature `y`: int32 class ids shaped [N], or one-hot float32 [N, classes]
 *   when a dataset's `oneHot` is true; regression targets are float32;
 * - captcha images are `x` with one int32 target per character position: `y0`, `y1`, ...
 * Images are float32 [N, height, width, channels] unless flattened.
 *
 * Datasets are entries of the registry from {@link createDatasetRegistry} (YAML names `mnist`,
 * `fashion-mnist`, `idx`, `synthetic`, `captcha`, `tfrecord`, `csv`, `imageFolder`); each
 * `create(params, context)` gives a {@link LoadedDataset} whose splits are held in memory
 * (`kind: 'memory'`, typed-array columns) or streamed from files (`kind: 'stream'`, TFRecord with
 * `stream: true`). `vocabularies` names the ids of categorical features (class names of `y`).
 *
 * Batches come from {@link createBatchIterator}: shuffled per epoch from (seed, epoch), a final
 * partial batch kept or dropped, prepared ahead in host memory, handed out as tensors that the
 * consumer disposes. `iterator.state()` is plain JSON; passing it back resumes with exactly the
 * batches an uninterrupted run would have seen. For streamed splits it holds the shuffle buffer's
 * record positions (one [file, offset] pair per buffered example).
 *
 * Data problems (missing or corrupt files, bad cells, undecodable images) throw `DataError` from
 * @dlexp/core, naming the file and, where there is one, the line, column or byte offset.
 */
export { createDatasetRegistry } from './registry';
export { SPLIT_NAMES, createColumn, inMemorySplit, limitSplit, splitFeatures, asInMemory } from './dataset';
export type {
  SplitName,
  FeatureDtype,
  FeatureValues,
  FeatureInfo,
  ArrayColumn,
  InMemorySplit,
  StreamingSplit,
  StreamPosition,
  StreamedExample,
  DataSplit,
  LoadedDataset,
  ImageEncoding,
  DatasetContext,
  DatasetRegistry,
} from './dataset';
export { createBatchIterator, epochPermutation, batchesPerEpoch } from './pipeline';
export type { Batch, BatchIterator, BatchIteratorOptions, BatchIteratorState, BatchInfo } from './pipeline';
export { readIdxFile, parseIdx, encodeIdx } from './idx';
export type { IdxArray, IdxDtype, IdxData } from './idx';
export { mnistDirectory, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES } from './idx-datasets';
export { encodeTFRecord, readTFRecords, readTFRecordAt, writeTFRecordFile, maskedCrc32c, maskCrc } from './tfrecord';
export type { TFRecord } from './tfrecord';
export { encodeExample, decodeExample } from './example';
export type { Example, ExampleFeature, FeatureKind } from './example';
export { writeSplitToTFRecord, inspectTFRecord, openTFRecordSplit, materializeSplit } from './tfrecord-dataset';
export type { TFRecordInspection, TFRecordFeatureSpec } from './tfrecord-dataset';
export { decodeImage } from './image';
export { userCacheDirectory, cacheKey } from './cache';
