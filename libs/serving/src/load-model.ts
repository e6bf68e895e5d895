import * as tf from '@tensorflow/tfjs';
import { ConfigError, DataError, closestMatch } from '@dlexp/core';
import { registerSerializables } from '@dlexp/layers';
import { decodeGraphDef } from './graph-def-binary';
import type { FrozenGraph, HostDtype, HostTensor } from './graph-def';
import { locateModel, readBytes, readGraphModel, readModelJson, readWeights, type ModelFormat } from './model-files';
import { readPreprocessing, type PreprocessingSpec } from './preprocessing';
import { selectSubgraph } from './subgraph';
import { encodeWeights } from './weights';

/** A model input or output: its name, element type and shape (batch axis first; -1 where unknown, undefined for an unknown rank). */
export interface TensorInfo {
  name: string;
  dtype: HostDtype;
  shape: number[] | undefined;
}

/** A model loaded for inference, whatever its file format. */
export interface InferenceModel {
  format: ModelFormat;
  /** The model.json or .pb file it was loaded from. */
  file: string;
  input: TensorInfo;
  output: TensorInfo;
  /** What the model's folder records about preparing images (preprocessing.json), if anything. */
  preprocessing: PreprocessingSpec | undefined;
  /** Runs one batch; the caller disposes the result (the input is not disposed). */
  run(batch: tf.Tensor): Promise<tf.Tensor>;
  dispose(): void;
}

export interface LoadModelOptions {
  /** Input by tensor name (`Mul:0`) or, for Layers models, input layer name. */
  input?: string;
  /** Output by tensor name (`softmax:0`) or, for Layers models, output layer name. */
  output?: string;
  /** The fed tensor's shape when the graph does not record it, e.g. [1, 299, 299, 3]. */
  inputShape?: number[];
}

/** The ArrayBuffer TF.js takes for weights, without a copy when `data` is a whole buffer. */
function wholeBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer as ArrayBuffer;
  return data.byteOffset === 0 && data.byteLength === buffer.byteLength ? buffer : buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
}

/** A frozen graph in the form tf.loadGraphModel reads from memory. */
export function graphModelArtifacts(frozen: FrozenGraph): tf.io.ModelArtifacts {
  const ordered: [string, HostTensor][] = [];
  for (const node of frozen.graph.node) {
    const value = node.op === 'Const' ? frozen.constants.get(node.name) : undefined;
    if (value !== undefined) ordered.push([node.name, value]);
  }
  const { specs, data } = encodeWeights(ordered);
  return {
    modelTopology: frozen.graph as unknown as tf.io.ModelArtifacts['modelTopology'],
    format: 'graph-model',
    weightSpecs: specs as tf.io.WeightsManifestEntry[],
    weightData: wholeBuffer(data),
  };
}

function fixShape(shape: readonly (number | null)[]): number[] {
  return shape.map((d) => d ?? -1);
}

/** Loads a frozen graph through tfjs-converter, fed and fetched by the chosen tensor names. */
export async function loadFrozenGraph(
  frozen: FrozenGraph,
  file: string,
  format: ModelFormat,
  options: LoadModelOptions & { preferredOutputs?: string[]; preprocessing?: PreprocessingSpec },
): Promise<InferenceModel> {
  const preprocessing = options.preprocessing;
  const subgraph = selectSubgraph(frozen, file, {
    input: options.input ?? preprocessing?.input.name,
    output: options.output ?? preprocessing?.output?.name,
    preferredOutputs: options.preferredOutputs,
    inputShape: options.inputShape,
  });
  let model: tf.GraphModel;
  try {
    model = await tf.loadGraphModel(tf.io.fromMemory(graphModelArtifacts(subgraph.frozen)));
  } catch (error) {
    throw new DataError(`${file}: TF.js cannot load the graph: ${(error as Error).message}`);
  }
  const { input, output } = subgraph;
  let needsAsync = false;
  const single = (result: tf.Tensor | tf.Tensor[]) => (Array.isArray(result) ? result[0]! : result);
  return {
    format,
    file,
    input: { name: input.tensor, dtype: input.dtype, shape: input.shape },
    output: { name: output.tensor, dtype: output.dtype, shape: output.shape },
    preprocessing,
    run: async (batch) => {
      const feeds = { [input.node]: batch };
      // execute() where it can (executeAsync on a graph without control flow logs a hint);
      // graphs with control flow or dynamic shapes refuse it and go the async way from then on.
      if (!needsAsync) {
        try {
          return single(model.execute(feeds, output.node));
        } catch (error) {
          if (!/executeAsync/.test((error as Error).message)) throw error;
          needsAsync = true;
        }
      }
      return single(await model.executeAsync(feeds, output.node));
    },
    dispose: () => model.dispose(),
  };
}

/** A file IOHandler for a Layers model.json: weights are read (and checked) here, never over a network. */
export function layersModelHandler(file: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = readModelJson(file);
      const weights = readWeights(file, json.weightsManifest);
      const { specs, data } = encodeWeights(weights);
      return {
        modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        format: json.format ?? 'layers-model',
        ...(json.generatedBy !== undefined ? { generatedBy: json.generatedBy } : {}),
        weightSpecs: specs as tf.io.WeightsManifestEntry[],
        weightData: wholeBuffer(data),
      };
    },
  };
}

/** Loads a Layers model.json (this project's classes registered first). */
export async function loadLayersModelFile(file: string): Promise<tf.LayersModel> {
  registerSerializables();
  const handler = layersModelHandler(file);
  // Read and check the files first, so file problems keep their own messages.
  const artifacts = await handler.load!();
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw new DataError(`${file}: TF.js cannot build the Layers model: ${(error as Error).message}`);
  }
}

function pickByName(file: string, what: string, wanted: string, names: readonly string[]): number {
  const bare = wanted.replace(/:0$/, '');
  const index = names.findIndex((n) => n === wanted || n === bare);
  if (index < 0) {
    const suggestion = closestMatch(bare, [...names]);
    throw new ConfigError(`${file}: the model has no ${what} '${wanted}' (it has ${names.map((n) => `'${n}'`).join(', ')})${suggestion === undefined ? '' : `; did you mean '${suggestion}'?`}`);
  }
  return index;
}

function layersInferenceModel(model: tf.LayersModel, file: string, options: LoadModelOptions, preprocessing: PreprocessingSpec | undefined): InferenceModel {
  const inputLayerNames = model.inputLayers.map((l) => l.name);
  if (model.inputs.length > 1) {
    throw new ConfigError(`${file}: the model has ${model.inputs.length} inputs (${inputLayerNames.join(', ')}); images can feed a model with one input only`);
  }
  const wantedInput = options.input ?? preprocessing?.input.name;
  const inputIndex = wantedInput === undefined ? 0 : pickByName(file, 'input', wantedInput, inputLayerNames);
  const wantedOutput = options.output ?? preprocessing?.output?.name;
  const outputIndex = wantedOutput === undefined ? 0 : pickByName(file, 'output', wantedOutput, model.outputNames);
  const inputTensor = model.inputs[inputIndex]!;
  const outputTensor = model.outputs[outputIndex]!;
  return {
    format: 'layers-model',
    file,
    input: { name: inputLayerNames[inputIndex]!, dtype: inputTensor.dtype as HostDtype, shape: fixShape(inputTensor.shape) },
    output: { name: model.outputNames[outputIndex]!, dtype: outputTensor.dtype as HostDtype, shape: fixShape(outputTensor.shape) },
    preprocessing,
    run: async (batch) => {
      const result = model.predict(batch);
      if (!Array.isArray(result)) return result;
      const chosen = result[outputIndex]!;
      tf.dispose(result.filter((_, i) => i !== outputIndex));
      return chosen;
    },
    dispose: () => model.dispose(),
  };
}

/**
 * Loads the model at `path` for inference: a run directory, a folder with model.json, a TF.js
 * Layers or graph model.json, or a frozen GraphDef (`.pb`). Input and output are chosen by name
 * when the model has several; preprocessing.json beside the model is read when present.
 */
export async function loadInferenceModel(path: string, options: LoadModelOptions = {}): Promise<InferenceModel> {
  const location = locateModel(path);
  const preprocessing = readPreprocessing(location.dir);
  if (location.format === 'layers-model') {
    const model = await loadLayersModelFile(location.file);
    try {
      return layersInferenceModel(model, location.file, options, preprocessing);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  if (location.format === 'graph-model') {
    const { frozen, json } = readGraphModel(location.file);
    const preferredOutputs = Object.values(json.signature?.outputs ?? {})
      .map((o) => o.name)
      .filter((n): n is string => typeof n === 'string');
    return loadFrozenGraph(frozen, location.file, 'graph-model', {
      ...options,
      ...(preferredOutputs.length > 0 ? { preferredOutputs } : {}),
      ...(preprocessing !== undefined ? { preprocessing } : {}),
    });
  }
  const frozen = decodeGraphDef(readBytes(location.file), location.file);
  return loadFrozenGraph(frozen, location.file, 'frozen-pb', { ...options, ...(preprocessing !== undefined ? { preprocessing } : {}) });
}

