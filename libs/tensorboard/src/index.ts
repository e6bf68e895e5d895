/**
 * TensorBoard logs without TensorFlow.
 *
 * - {@link createEventWriter}: an event file (`events.out.tfevents.<seconds>.<host>`, TFRecord
 *   framing with masked CRC32C) for scalars, histograms, the course's per-variable summaries,
 *   text, the model graph and the HParams plugin's data; written as the run goes, valid after a
 *   kill, one file per run segment, steps never going backwards.
 * - The `*Value` builders encode single summary values for `addSummary`, for callers that batch
 *   several kinds under one step.
 * - {@link writeProjector}: embeddings, labels and sprite sheets for the projector.
 *
 * Which plugin reads what: scalars (`simple_value`), histograms and distributions (`histo`),
 * graphs (`Event.graph_def`), text (`text` plugin tensors), hparams (plugin metadata under the
 * `_hparams_/…` tags), projector (`projector_config.pbtxt`).
 */
export { createEventWriter } from './event-writer';
export type { EventWriter, EventWriterOptions } from './event-writer';
export { computeHistogram, defaultBucketLimits } from './histogram';
export type { HistogramData } from './histogram';
export { scalarValue, histogramValue, textValue, variableSummaryValues, variableStatistics } from './summary';
export type { SummaryValue, VariableStatistics } from './summary';
export { encodeGraphDef } from './graph-def';
export type { GraphDefJson, NodeDefJson, AttrValueJson, TensorShapeJson } from './graph-def';
export {
  hparamsExperimentValue,
  hparamsSessionStartValue,
  hparamsSessionEndValue,
  HPARAMS_EXPERIMENT_TAG,
  HPARAMS_SESSION_START_TAG,
  HPARAMS_SESSION_END_TAG,
} from './hparams';
export type { HParamInfo, MetricInfo, HParamsExperiment, HParamsSessionStart, HParamsSessionEnd, HParamValue, SessionStatus } from './hparams';
export { writeProjector, spritePng, MAX_SPRITE_SIZE } from './projector';
export type { ProjectorEmbedding, ProjectorImages, ProjectorFiles } from './projector';
export { encodePng } from './png';
export { createTensorBoardSink, scalarTags, TENSORBOARD_FOLDER } from './sink';
export type { TensorBoardSinkOptions } from './sink';
