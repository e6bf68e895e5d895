/**
 * @dlexp/serving: classifying images with saved and converted models, and exporting trained
 * models as inference graphs.
 *
 * - `loadInferenceModel(path, {input, output})` loads a run directory's Layers model, a TF.js
 *   Layers or graph model.json, or a frozen TensorFlow GraphDef (`.pb`, such as Inception-v3's
 *   classify_image_graph_def.pb), fed and fetched by tensor name (`Mul:0`, `softmax:0`). Graphs
 *   run through tfjs-converter; an op on the chosen path that TF.js cannot run is named in a
 *   ConfigError before anything executes.
 * - `predict(model | path, images, {labels, top})` decodes PNG/JPEG files, prepares them as the
 *   model's input needs (preprocessing.json beside the model, or size/mean/std/scale options) and
 *   returns the top classes per image with probabilities (softmax applied to logits).
 * - `exportModel(runDir, outDir, {format: 'graph-model' | 'frozen-pb'})` writes a trained Layers
 *   model as real TF ops with its weights as constants; `inspectGraph(path)` lists a graph's
 *   inputs, outputs and ops and gives its bytes for TensorBoard's Graphs tab.
 *
 * Bad input (missing files, truncated or corrupt model files and images) throws DataError from
 * @dlexp/core naming the file and, where there is one, the byte offset; bad choices (an unknown
 * tensor name, an unsupported op or layer) throw ConfigError. Nothing here prints.
 */
export { loadInferenceModel, loadFrozenGraph, loadLayersModelFile, layersModelHandler, graphModelArtifacts } from './load-model';
export type { InferenceModel, LoadModelOptions, TensorInfo } from './load-model';

export { predict, readLabelsFile, looksLikeProbabilities, toProbabilities, imagePreprocessingFor } from './predict';
export type { PredictOptions, ImagePrediction, Prediction } from './predict';

export { resolveImagePreprocessing, imageTensor, batchTensor, imageDimensions } from './images';
export type { ImageOptions, ImagePreprocessing } from './images';

export { createPreprocessingSpec, normalizeSpec, checkPreprocessing, readPreprocessing, writePreprocessing } from './preprocessing';
export type { PreprocessingSpec, NormalizeInput } from './preprocessing';

export { exportModel } from './export-model';
export type { ExportFormat, ExportResult } from './export-model';
export { layersModelToGraph } from './layers-to-graph';
export type { ExportedGraph, GraphSignatureEntry } from './layers-to-graph';

export { inspectGraph } from './inspect';
export type { GraphInspection } from './inspect';

export { decodeGraphDef, encodeGraphDef } from './graph-def-binary';
export { selectSubgraph, rewriteLegacyOps, sinkNodes, placeholderNodes } from './subgraph';
export type { Subgraph, SubgraphOptions, GraphEndpoint } from './subgraph';
export { TFJS_SUPPORTED_OPS, isSupportedOp } from './tfjs-ops';
export { locateModel, readGraphModel, writeGraphModel, collectImageFiles, PREPROCESSING_FILE } from './model-files';
export type { ModelFormat, ModelLocation, ModelJson, GraphModelSignature } from './model-files';
export { parseTensorName, DATA_TYPES } from './graph-def';
export type { FrozenGraph, GraphDefJson, NodeDefJson, AttrValueJson, HostTensor, HostDtype, TensorShapeJson } from './graph-def';
