import * as tf from '@tensorflow/tfjs';
import { ConfigError, fillEntry, param, type ParamSchema, type RegistryEntry } from '@dlexp/core';
import {
  allCorrect,
  buildModel,
  formatModelSummary,
  graphModelParams,
  modelGraphDef,
  modelSummary,
  outputDependencies,
  regularizationPenalty,
  sequentialModelParams,
  trainableVariables,
  type BuiltModel,
  type GraphModelConfig,
  type ModelInputConfig,
  type Loss,
  type Metric,
  type SequentialModelConfig,
} from '@dlexp/layers';
import { DataError } from '@dlexp/core';
import { ModelConfigError, type Batch, type MetricSums, type ModelContext, type ModelFiles, type ModelSignature, type TrainableModel } from './trainable-model';
import { layerSelection, transferParams, type TransferParams } from './transfer-params';

type Entry = { type: string; [key: string]: unknown };

/** How one output is trained and measured. */
export interface HeadConfig {
  loss: Entry;
  weight: number;
  metrics: Entry[];
  target: string;
}

const headParams = (targetDefault: string): ParamSchema<HeadConfig> => ({
  loss: param.union('loss', { description: 'The loss of this output, e.g. {type: softmaxCrossEntropy} (on logits).', required: true }),
  weight: param.number({ description: 'Weight of this loss in the total loss.', default: 1, minimum: 0 }),
  metrics: param.unionList('metric', { description: 'Metrics reported per split, e.g. [{type: accuracy}] (the loss is always reported).', default: [] }),
  target: param.string({ description: `The data feature holding this output's labels (default ${targetDefault}).`, default: targetDefault === "'y'" ? 'y' : '' }),
});

interface SequentialEntryConfig extends SequentialModelConfig, HeadConfig, TransferParams {}
interface GraphEntryConfig extends GraphModelConfig, TransferParams {
  heads: Record<string, Partial<HeadConfig> & { loss: Entry }>;
  sequence?: string[];
}

function headsSchema() {
  const params = headParams("the head's own name") as Record<string, { schema: Record<string, unknown>; required?: boolean }>;
  return param.custom<Record<string, Partial<HeadConfig> & { loss: Entry }>>(
    {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['loss'],
        properties: Object.fromEntries(Object.entries(params).map(([k, p]) => [k, k === 'target' ? { type: 'string', description: String(p.schema['description']) } : p.schema])),
      },
    },
    { description: 'How each output (by its name in outputs) is trained: {digit: {loss: {type: softmaxCrossEntropy}, weight: 1, metrics: [{type: accuracy}], target: y}}.', required: true },
  );
}

interface Head {
  name: string;
  index: number;
  loss: Loss;
  lossType: string;
  weight: number;
  metrics: { name: string; fn: Metric }[];
  target: string;
}

function makeHeads(configs: { name: string; config: HeadConfig }[], built: BuiltModel, context: ModelContext, pathOf: (head: string) => (string | number)[]): Head[] {
  const { losses, metrics } = context.modelRegistries;
  const problems: { path: (string | number)[]; message: string }[] = [];
  const heads: Head[] = [];
  for (const { name, config } of configs) {
    const index = built.outputs.findIndex((o) => o.name === name);
    if (index < 0) {
      problems.push({ path: pathOf(name), message: `no output named '${name}' (outputs: ${built.outputs.map((o) => o.name).join(', ')})` });
      continue;
    }
    if (!(config.target in context.features)) {
      problems.push({ path: [...pathOf(name), 'target'], message: `the data has no feature '${config.target}' for the labels (it has: ${Object.keys(context.features).join(', ')})` });
    }
    const lossConfig = fillEntry('loss', config.loss, (_k, n) => losses.get(n).params) as Entry;
    heads.push({
      name,
      index,
      loss: losses.get(lossConfig.type).create(lossConfig, {}),
      lossType: lossConfig.type,
      weight: config.weight,
      target: config.target,
      metrics: config.metrics.map((m) => {
        const filled = fillEntry('metric', m, (_k, n) => metrics.get(n).params) as Entry;
        return { name: m.type, fn: metrics.get(m.type).create(filled, {}) };
      }),
    });
  }
  for (const output of built.outputs) {
    if (!configs.some((c) => c.name === output.name)) problems.push({ path: ['heads'], message: `output '${output.name}' has no head (give it a loss)` });
  }
  if (problems.length > 0) throw new ModelConfigError(problems);
  return heads;
}

/** What the model adds to training its heads: the heads read as one sequence, and per-layer update factors. */
interface TrainingOptions {
  /** Heads whose outputs together make one sequence: `<split>.sequence.accuracy` counts examples with all right. */
  sequence?: string[];
  /** Factor on the update of every variable of a layer, by layer name. */
  layerScales: Map<string, number>;
}

/** Adapts a built tf.LayersModel and its heads to what the train loop drives. */
function trainable(built: BuiltModel, heads: Head[], print: (line: string) => void, options: TrainingOptions): TrainableModel {
  const variables = trainableVariables(built.model);
  const byTfName = new Map([...variables].map(([name, v]) => [v.name, name]));
  const multiHead = heads.length > 1;
  // Which layers (and so which variables) each head depends on: its own and those it shares.
  const dependencies = outputDependencies(built.model);
  const variablesOfLayer = new Map(built.model.layers.map((layer) => [layer.name, layer.trainableWeights.map((w) => w.originalName).filter((n) => variables.has(n))]));
  const trainedBy = (selected: readonly Head[]) => {
    const layers = new Set(selected.flatMap((h) => [...dependencies[h.index]!]));
    const names = [...layers].flatMap((layer) => variablesOfLayer.get(layer) ?? []);
    return { layers, variables: names.map((n) => variables.get(n)!) };
  };
  const sequenceHeads = (options.sequence ?? []).map((name) => heads.find((h) => h.name === name)!);
  const updateScales = new Map<string, number>();
  for (const [layer, scale] of options.layerScales) for (const name of variablesOfLayer.get(layer) ?? []) updateScales.set(name, scale);
  const inputsOf = (batch: Batch) => built.inputs.map((input) => batch[input.feature]!);
  const outputsOf = (batch: Batch, training: boolean): tf.Tensor[] => {
    const result = built.model.apply(inputsOf(batch), { training });
    return Array.isArray(result) ? (result as tf.Tensor[]) : [result as tf.Tensor];
  };
  print(formatModelSummary(modelSummary(built)));
  const weightsByName = () => new Map(built.model.weights.map((w) => [w.originalName, w]));
  const restore = (state: Map<string, tf.Tensor>) => {
    for (const [name, weight] of weightsByName()) {
      const value = state.get(name);
      if (value === undefined) throw new DataError(`the saved state has no value for weight '${name}'`);
      weight.write(value);
    }
  };
  const model: TrainableModel = {
    explainFailure: (error) => {
      // TF.js reports a loss or metric that does not fit the labels as a shape error.
      const message = error instanceof Error ? error.message : String(error);
      if (!/shape|rank|broadcast|dimension/i.test(message)) return undefined;
      const head = heads.length === 1 ? undefined : heads.map((h) => h.name).join(', ');
      return new ModelConfigError([
        { path: heads.length === 1 ? ['loss'] : ['heads'], message: `the loss or metrics do not fit the model's output and the labels${head === undefined ? '' : ` (heads: ${head})`}: ${message.split('\n')[0]}` },
      ]);
    },
    trainableVariables: () => variables,
    heads: () => heads.map((h) => h.name),
    updateScales: () => updateScales,
    signature: (): ModelSignature => ({
      inputs: built.inputs.map(({ name, feature, shape, dtype }) => ({ name, feature, shape, dtype })),
      outputs: heads.map((h) => ({ name: h.name, layer: built.outputs[h.index]!.node, target: h.target, loss: h.lossType })),
    }),
    graphDef: () => modelGraphDef(built),
    state: () => new Map([...weightsByName()].map(([name, w]) => [name, w.read()])),
    restore,
    exportFiles: async () => {
      const files: ModelFiles = new Map();
      // TF.js Layers format (model.json + weights.bin), readable by tf.loadLayersModel.
      await built.model.save(
        tf.io.withSaveHandler(async (artifacts) => {
          const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]);
          const modelJson = {
            modelTopology: artifacts.modelTopology,
            format: 'layers-model',
            generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
            convertedBy: null,
            weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
          };
          files.set('model.json', new TextEncoder().encode(`${JSON.stringify(modelJson)}\n`));
          files.set('weights.bin', new Uint8Array(weightData));
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      return files;
    },
    importFiles: (files, folder) => {
      let manifest: { weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
      const json = files.get('model.json');
      const data = files.get('weights.bin');
      if (json === undefined || data === undefined) throw new DataError(`${folder}: the saved model needs model.json and weights.bin`);
      try {
        manifest = JSON.parse(new TextDecoder().decode(json)) as typeof manifest;
      } catch (error) {
        throw new DataError(`${folder}/model.json: not valid JSON: ${(error as Error).message}`);
      }
      const specs = manifest.weightsManifest.flatMap((group) => group.weights);
      const expected = specs.reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
      if (data.byteLength < expected) throw new DataError(`${folder}/weights.bin: truncated at byte ${data.byteLength}; the manifest needs ${expected} bytes`);
      const named = tf.io.decodeWeights(data.slice().buffer, specs);
      try {
        restore(new Map(Object.entries(named)));
      } finally {
        tf.dispose(Object.values(named));
      }
    },
    lossAndGradients: (batch, step, only) => {
      built.random.step = step;
      // Training some heads: their weighted losses, and gradients only for the layers they depend on.
      const selected = only === undefined ? heads : heads.filter((h) => only.includes(h.name));
      if (selected.length === 0) throw new ModelConfigError([{ path: ['heads'], message: `no head named ${only!.join(', ')} (heads: ${heads.map((h) => h.name).join(', ')})` }]);
      const trained = only === undefined ? undefined : trainedBy(selected);
      const { value, grads } = tf.variableGrads(() => {
        const outputs = outputsOf(batch, true);
        const terms = selected.map((h) => tf.mul(h.loss(batch[h.target]!, outputs[h.index]!), h.weight));
        return tf.add(tf.addN(terms), regularizationPenalty(built.model, trained?.layers)) as tf.Scalar;
      }, trained?.variables ?? [...variables.values()]);
      const named = new Map<string, tf.Tensor>();
      for (const [tfName, grad] of Object.entries(grads)) named.set(byTfName.get(tfName) ?? tfName, grad);
      return { loss: value, grads: named };
    },
    evaluateBatch: async (batch): Promise<MetricSums> => {
      const count = inputsOf(batch)[0]?.shape[0] ?? 0;
      const sums = tf.tidy(() => {
        const outputs = outputsOf(batch, false);
        const out: Record<string, tf.Scalar | number> = {};
        let total: tf.Tensor = tf.scalar(0);
        for (const h of heads) {
          const prefix = multiHead ? `${h.name}.` : '';
          const loss = h.loss(batch[h.target]!, outputs[h.index]!);
          total = tf.add(total, tf.mul(loss, h.weight));
          if (multiHead) out[`${prefix}loss`] = tf.mul(loss, count) as tf.Scalar;
          for (const m of h.metrics) {
            const { sum, count: metricCount } = m.fn(batch[h.target]!, outputs[h.index]!);
            out[`${prefix}${m.name}`] = sum;
            out[`${prefix}${m.name}#count`] = metricCount;
          }
        }
        out['loss'] = tf.mul(total, count) as tf.Scalar;
        if (sequenceHeads.length > 0) {
          const every = allCorrect(sequenceHeads.map((h) => ({ labels: batch[h.target]!, predictions: outputs[h.index]! })));
          out['sequence.accuracy'] = every.sum;
          out['sequence.accuracy#count'] = every.count;
        }
        return out as Record<string, tf.Scalar>;
      });
      const result: MetricSums = {};
      const keys = Object.keys(sums).filter((key) => !key.endsWith('#count'));
      const values = await Promise.all(keys.map((key) => (sums[key] as tf.Scalar).data()));
      keys.forEach((key, i) => {
        const metricCount = (sums as Record<string, unknown>)[`${key}#count`];
        result[key] = { sum: values[i]![0]!, count: typeof metricCount === 'number' ? metricCount : count };
      });
      tf.dispose(Object.values(sums).filter((v): v is tf.Scalar => v instanceof tf.Tensor));
      return result;
    },
    fetchedValues: async () => ({}),
    embed: async (layer, batch) => {
      const names = built.model.layers.map((l) => l.name);
      if (!names.includes(layer)) throw new ModelConfigError([{ path: [], message: `no layer named '${layer}' to take an embedding from (layers: ${names.join(', ')})` }]);
      // A model sharing the layers up to `layer`: no weights are copied, and disposing it would
      // dispose them, so it is left to the garbage collector.
      const head = tf.model({ inputs: built.model.inputs, outputs: built.model.getLayer(layer).output as tf.SymbolicTensor });
      const output = head.predict(inputsOf(batch)) as tf.Tensor;
      const rows = output.shape[0] ?? 0;
      const flat = tf.reshape(output, [rows, -1]);
      const values = (await flat.data()) as Float32Array;
      const dims = flat.shape[1] ?? 0;
      tf.dispose([output, flat]);
      return { values, dims };
    },
    dispose: () => built.model.dispose(),
  };
  return model;
}

function build(config: SequentialModelConfig | GraphModelConfig, context: ModelContext): BuiltModel {
  try {
    return buildModel(config, { seed: context.seed, registries: context.modelRegistries, path: 'model' });
  } catch (error) {
    if (error instanceof ConfigError) {
      // The builder names paths like 'model.layers.3'; report them relative to model.
      throw new ModelConfigError(error.diagnostics.map((d) => ({ path: d.path.replace(/^model\.?/, '').split('.').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s)), message: d.message })));
    }
    throw error;
  }
}

/**
 * An input written without a shape takes the shape (and dtype) of the data feature it is fed
 * from, so `model.input` can be left out for the common case of one `x`.
 */
function withDataShape(input: Partial<ModelInputConfig> | undefined, feature: string, context: ModelContext, path: (string | number)[]): ModelInputConfig {
  const written = input ?? {};
  if (written.shape !== undefined) return written as ModelInputConfig;
  const name = written.feature ?? feature;
  const data = context.features[name];
  if (data === undefined) {
    throw new ModelConfigError([{ path, message: `the data has no feature '${name}' to take the input's shape from (it has: ${Object.keys(context.features).join(', ')})` }]);
  }
  return { ...written, shape: data.shape, ...(written.dtype === undefined && data.dtype === 'int32' ? { dtype: 'int32' as const } : {}) };
}

function checkInputs(built: BuiltModel, context: ModelContext, path: (name: string) => (string | number)[]): void {
  const problems: { path: (string | number)[]; message: string }[] = [];
  for (const input of built.inputs) {
    const feature = context.features[input.feature];
    if (feature === undefined) {
      problems.push({ path: path(input.name), message: `the data has no feature '${input.feature}' (it has: ${Object.keys(context.features).join(', ')})` });
    } else if (feature.shape.join(',') !== input.shape.join(',')) {
      problems.push({ path: path(input.name), message: `input '${input.name}' has shape [${input.shape.join(', ')}] but the data's '${input.feature}' has shape [${feature.shape.join(', ')}] per example` });
    }
  }
  if (problems.length > 0) {
    built.model.dispose();
    throw new ModelConfigError(problems);
  }
}

/**
 * Freezes the layers `transfer.freeze` names and gives the layers `transfer.learningRateMultipliers`
 * names their update factors: each entry a layer's name or a prefix of layer names (the longest
 * that matches decides a layer's factor). An entry matching no layer is a config problem.
 */
function applyTransferOptions(built: BuiltModel, config: TransferParams): Map<string, number> {
  if (config.from !== undefined || config.keep !== undefined) {
    throw new ModelConfigError([{ path: [config.from !== undefined ? 'from' : 'keep'], message: 'model.from is resolved before the model is built (runExperiment does it); this model was built without it' }]);
  }
  const names = built.model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name);
  const problems: { path: (string | number)[]; message: string }[] = [];
  const frozen = layerSelection(config.transfer?.freeze ?? [], names, (i) => ['transfer', 'freeze', i], problems);
  const scales = new Map<string, number>();
  const multipliers = Object.entries(config.transfer?.learningRateMultipliers ?? {}).sort(([a], [b]) => a.length - b.length);
  for (const [key, scale] of multipliers) {
    for (const layer of layerSelection([key], names, () => ['transfer', 'learningRateMultipliers', key], problems).keys()) scales.set(layer, scale);
  }
  if (problems.length > 0) throw new ModelConfigError(problems);
  for (const layer of frozen.keys()) built.model.getLayer(layer).trainable = false;
  return scales;
}

export const sequentialModel: RegistryEntry<SequentialEntryConfig, ModelContext, TrainableModel> = {
  name: 'sequential',
  description: 'Layers in a chain, one input and one output, trained with one loss (most course models).',
  params: { ...sequentialModelParams, ...headParams("'y'"), ...transferParams },
  create(config, context) {
    const input = withDataShape(config.input, 'x', context, ['input']);
    const built = build({ input, layers: config.layers }, context);
    checkInputs(built, context, () => ['input']);
    const head = { name: built.outputs[0]!.name, config: { loss: config.loss, weight: config.weight, metrics: config.metrics, target: config.target } };
    try {
      const layerScales = applyTransferOptions(built, config);
      return trainable(built, makeHeads([head], built, context, () => ['loss']), context.print, { layerScales });
    } catch (error) {
      built.model.dispose();
      throw error;
    }
  },
};

export const graphModel: RegistryEntry<GraphEntryConfig, ModelContext, TrainableModel> = {
  name: 'graph',
  description: 'Named layer nodes wired by name, with several inputs and outputs (shared trunks, several heads, each with its own loss).',
  params: {
    ...graphModelParams,
    heads: headsSchema(),
    sequence: param.stringList({
      description:
        "Heads read together as one sequence (the characters of a captcha): reports <split>.sequence.accuracy, the share of examples on which every one of them is right (argmax against each head's labels).",
      minItems: 2,
    }),
    ...transferParams,
  },
  create(config, context) {
    const inputs = Object.fromEntries(Object.entries(config.inputs).map(([name, input]) => [name, withDataShape(input, name, context, ['inputs', name])]));
    const built = build({ inputs, nodes: config.nodes, outputs: config.outputs }, context);
    checkInputs(built, context, (name) => ['inputs', name]);
    const heads = Object.entries(config.heads).map(([name, h]) => ({
      name,
      config: { loss: h.loss, weight: h.weight ?? 1, metrics: h.metrics ?? [], target: h.target ?? name },
    }));
    try {
      const problems = (config.sequence ?? []).flatMap((name, i) =>
        name in config.heads ? [] : [{ path: ['sequence', i], message: `no head named '${name}' (heads: ${Object.keys(config.heads).join(', ')})` }],
      );
      if (problems.length > 0) throw new ModelConfigError(problems);
      const layerScales = applyTransferOptions(built, config);
      return trainable(built, makeHeads(heads, built, context, (name) => ['heads', name]), context.print, {
        layerScales,
        ...(config.sequence !== undefined ? { sequence: config.sequence } : {}),
      });
    } catch (error) {
      built.model.dispose();
      throw error;
    }
  },
};
