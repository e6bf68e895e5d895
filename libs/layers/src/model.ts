import * as tf from '@tensorflow/tfjs';
import {
  ConfigError,
  didYouMean,
  fillDefaults,
  param,
  TYPE_KEY,
  UnknownNameError,
  type Diagnostic,
  type ParamSchema,
  type ParamSpec,
  type UnionLookup,
} from '@dlexp/core';
import { createActivationRegistry, type ActivationRegistry } from './activations';
import { createRandomContext, type RandomContext } from './dropout';
import { createInitializerRegistry, type InitializerRegistry } from './initializers';
import { createLayerRegistry, type LayerContext, type LayerRegistry } from './layers';
import { createLossRegistry, type LossRegistry } from './losses';
import { createMetricRegistry, type MetricRegistry } from './metrics';
import { createRegularizerRegistry, type RegularizerRegistry } from './regularizers';
import { registerSerializables } from './tfjs-bridge';

/** One model input: the shape of one example (no batch axis) and the data feature that feeds it. */
export interface ModelInputConfig {
  shape: number[];
  /** The data feature fed to this input. */
  feature?: string;
  dtype?: 'float32' | 'int32';
}

/** A layer as written in a model: `{type: dense, units: 10, name: logits, inputs: [trunk]}`. */
export interface LayerNodeConfig {
  type: string;
  name?: string;
  inputs?: string[];
  trainable?: boolean;
  [param: string]: unknown;
}

/** A chain of layers: each layer takes the previous one's output. */
export interface SequentialModelConfig {
  input: ModelInputConfig;
  layers: LayerNodeConfig[];
}

/** Named inputs, named layer nodes wired by name, and named outputs (heads). */
export interface GraphModelConfig {
  inputs: Record<string, ModelInputConfig>;
  nodes: LayerNodeConfig[];
  outputs: Record<string, string>;
}

export type ModelConfig = SequentialModelConfig | GraphModelConfig;

const NAME = '^[A-Za-z_][A-Za-z0-9_]*$';

/** The keys of a layer node that are about its place in the model, not parameters of the layer. */
export interface LayerNodeFields {
  name: string | undefined;
  inputs: string[] | undefined;
  trainable: boolean;
}

/**
 * Fields every layer entry accepts besides its own parameters; the schema generator adds them to
 * each entry of `$defs.layer` (the `extraFields` of `entrySchema`).
 */
export const layerNodeFields: ParamSchema<LayerNodeFields> = {
  name: param.string({
    description:
      "The layer's name: how other nodes and outputs refer to it, and part of its weights' names and seeds. Default: '<type>_<index>' (index in the list, from 0).",
    pattern: NAME,
  }),
  inputs: param.stringList({
    description:
      'Graph models only: the model inputs or earlier nodes this layer takes, by name; two or more for concatenate and add. Default: the node listed just before (for the first node, the only model input).',
    minItems: 1,
  }),
  trainable: param.boolean({
    description: "Whether the optimizer updates this layer's weights (false freezes the layer).",
    default: true,
  }),
};

const NODE_FIELDS = new Set<string>(Object.keys(layerNodeFields));
const TYPE = TYPE_KEY;

const shapeSchema = {
  type: 'array',
  items: { type: 'integer', minimum: 1 },
  description: 'Shape of one example, without the batch axis: [28, 28, 1] for an MNIST image.',
};
const dtypeSchema = {
  type: 'string',
  enum: ['float32', 'int32'],
  default: 'float32',
  description: "Element type fed to the model: 'int32' for ids going into an embedding.",
};

function inputSchema(featureDefault: string): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      shape: { ...shapeSchema, description: `${shapeSchema.description} Default: the shape of the data feature it is fed from.` },
      feature: { type: 'string', minLength: 1, description: `The data feature fed to this input (default: ${featureDefault}).` },
      dtype: dtypeSchema,
    },
  };
}

/** Parameters of a sequential model, for a model registry entry `{type: sequential, ...}`. */
export const sequentialModelParams: ParamSchema<SequentialModelConfig> = {
  input: param.custom<ModelInputConfig>(inputSchema("'x'"), {
    description: "The model's input: {shape: [28, 28, 1]} or {feature: image, shape: [28, 28, 1]}. When omitted, the data feature x with its own shape.",
  }),
  layers: param.unionList<LayerNodeConfig>('layer', {
    description: 'The layers in order, each taking the previous one\'s output: [{type: conv2d, filters: 32, kernelSize: 5}, ...].',
    minItems: 1,
    required: true,
  }),
};

/** Parameters of a graph model, for a model registry entry `{type: graph, ...}`. */
export const graphModelParams: ParamSchema<GraphModelConfig> = {
  inputs: param.custom<Record<string, ModelInputConfig>>(
    { type: 'object', minProperties: 1, propertyNames: { pattern: NAME }, additionalProperties: inputSchema("the input's own name") },
    { description: 'Named inputs: {image: {shape: [28, 28, 1]}, meta: {shape: [4], feature: extras}}.', required: true },
  ),
  nodes: param.unionList<LayerNodeConfig>('layer', {
    description: 'Named layers, each listing its inputs by name: [{type: dense, units: 128, name: trunk, inputs: [image]}, ...].',
    minItems: 1,
    required: true,
  }),
  outputs: param.custom<Record<string, string>>(
    { type: 'object', minProperties: 1, propertyNames: { pattern: NAME }, additionalProperties: { type: 'string', pattern: NAME } },
    { description: 'The heads: head name → the node whose output it is: {digit: digitLogits, parity: parityLogits}.', required: true },
  ),
};

/** The registries a model is built from, bundled; `createModelRegistries()` makes the defaults. */
export interface ModelRegistries {
  layers: LayerRegistry;
  initializers: InitializerRegistry;
  regularizers: RegularizerRegistry;
  activations: ActivationRegistry;
  losses: LossRegistry;
  metrics: MetricRegistry;
}

export function createModelRegistries(): ModelRegistries {
  const activations = createActivationRegistry();
  return {
    activations,
    layers: createLayerRegistry({ activations }),
    initializers: createInitializerRegistry(),
    regularizers: createRegularizerRegistry(),
    losses: createLossRegistry(),
    metrics: createMetricRegistry(),
  };
}

export interface BuildContext {
  /** Run seed: every weight's and dropout mask's seed derives from it. */
  seed: number;
  registries: Pick<ModelRegistries, 'layers' | 'initializers' | 'regularizers'>;
  /** The step counter the train loop advances; a new one at step 0 when not given. */
  random?: RandomContext;
  /** Where the model is in the experiment file, for messages (default 'model'). */
  path?: string;
}

export interface BuiltModel {
  model: tf.LayersModel;
  /** In the order of `model.inputs`. */
  inputs: { name: string; feature: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  /** In the order of `model.outputs`: head name and the node it reads. */
  outputs: { name: string; node: string }[];
  /** Layer name → its registry type (`dense`, ...), for summaries. */
  layerTypes: Record<string, string>;
  /** Set `random.step` before each training step: dropout masks depend on it. */
  random: RandomContext;
}

interface ResolvedNode {
  index: number;
  path: string;
  type: string;
  name: string;
  inputs: string[];
  trainable: boolean;
  params: Record<string, unknown>;
}

interface ResolvedInput {
  name: string;
  feature: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  path: string;
}

const fmtShape = (shape: readonly (number | null)[]) => `[${shape.map((d) => (d === null ? 'batch' : d)).join(', ')}]`;

function problem(path: string, message: string): Diagnostic {
  return { file: '', line: 0, col: 0, path, message };
}

function isSequential(config: ModelConfig): config is SequentialModelConfig {
  return 'layers' in config;
}

/**
 * Builds a tf.LayersModel (functional API) from a sequential or graph model config. Written or
 * resolved configs both work: each node's defaults are filled here too. Problems in the config
 * (unknown types, names or parameters, shapes that do not fit) are ConfigErrors at their path.
 */
export function buildModel(config: ModelConfig, context: BuildContext): BuiltModel {
  const root = context.path ?? 'model';
  const random = context.random ?? createRandomContext();
  registerSerializables();

  const sequential = isSequential(config);
  const listKey = sequential ? 'layers' : 'nodes';
  const writtenInputs: [string, ModelInputConfig, string][] = sequential
    ? [['input', config.input, `${root}.input`]]
    : Object.entries(config.inputs).map(([name, input]) => [name, input, `${root}.inputs.${name}`]);
  const inputs: ResolvedInput[] = writtenInputs.map(([name, input, path]) => ({
    name,
    feature: input.feature ?? (sequential ? 'x' : name),
    shape: input.shape,
    dtype: input.dtype ?? 'float32',
    path,
  }));
  const written = sequential ? config.layers : config.nodes;

  const problems: Diagnostic[] = [];
  const nodes = resolveNodes(written, inputs, sequential, `${root}.${listKey}`, context.registries, problems);
  const outputs: { name: string; node: string }[] = sequential
    ? nodes.length > 0
      ? [{ name: 'output', node: nodes[nodes.length - 1]!.name }]
      : []
    : Object.entries(config.outputs).map(([name, node]) => ({ name, node }));
  if (!sequential) checkOutputsAndUse(nodes, inputs, outputs, root, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const tensors = new Map<string, tf.SymbolicTensor>();
  for (const input of inputs) {
    tensors.set(input.name, tf.input({ shape: input.shape, name: input.name, dtype: input.dtype }));
  }
  const layerTypes: Record<string, string> = {};
  const created: tf.layers.Layer[] = [];
  let model: tf.LayersModel;
  try {
    for (const node of nodes) {
      tensors.set(node.name, applyNode(node, tensors, context, random, created));
      layerTypes[node.name] = node.type;
    }
    try {
      model = tf.model({
        inputs: inputs.map((i) => tensors.get(i.name)!),
        outputs: outputs.map((o) => tensors.get(o.node)!),
      });
    } catch (error) {
      throw new ConfigError([problem(root, `the model cannot be assembled: ${messageOf(error)}`)]);
    }
  } catch (error) {
    // The layers built so far hold weights no model will own.
    for (const layer of created) for (const weight of layer.weights) weight.dispose();
    throw error;
  }
  return {
    model,
    inputs: inputs.map(({ name, feature, shape, dtype }) => ({ name, feature, shape, dtype })),
    outputs,
    layerTypes,
    random,
  };
}

/** The name a layer gets when its config gives none: `<type>_<index>`, its index in the list from 0. */
export function defaultLayerName(type: string, index: number): string {
  return `${type}_${index}`;
}

/**
 * For each output of a functional model (in the order of `model.outputs`), the names of the
 * layers its value depends on (input layers left out). A layer several outputs depend on is
 * shared (a trunk); one only a single output depends on belongs to that output's head.
 */
export function outputDependencies(model: tf.LayersModel): Set<string>[] {
  return model.outputs.map((output) => {
    const found = new Set<string>();
    const pending: tf.layers.Layer[] = [output.sourceLayer as tf.layers.Layer];
    while (pending.length > 0) {
      const layer = pending.pop()!;
      if (found.has(layer.name) || layer.getClassName() === 'InputLayer') continue;
      found.add(layer.name);
      for (const node of layer.inboundNodes) pending.push(...(node.inboundLayers as tf.layers.Layer[]));
    }
    return found;
  });
}

function resolveNodes(
  written: LayerNodeConfig[],
  inputs: ResolvedInput[],
  sequential: boolean,
  listPath: string,
  registries: BuildContext['registries'],
  problems: Diagnostic[],
): ResolvedNode[] {
  const lookup: UnionLookup = (kind, name) => {
    const registry = kind === 'initializer' ? registries.initializers : kind === 'regularizer' ? registries.regularizers : kind === 'layer' ? registries.layers : undefined;
    return registry?.has(name) === true ? registry.get(name).params : undefined;
  };
  const known = new Map<string, string>(inputs.map((i) => [i.name, i.path]));
  const nodes: ResolvedNode[] = [];
  written.forEach((node, index) => {
    const path = `${listPath}.${index}`;
    const type = node[TYPE];
    const name = node.name ?? defaultLayerName(type, index);
    let params: Record<string, unknown> = {};
    if (!registries.layers.has(type)) {
      const error = new UnknownNameError('layer', type, registries.layers.names());
      problems.push(problem(`${path}.${TYPE}`, error.message));
    } else {
      const entry = registries.layers.get(type);
      const layerParams: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        if (key === TYPE || NODE_FIELDS.has(key)) continue;
        if (!(key in entry.params)) {
          const allowed = [...Object.keys(entry.params), ...NODE_FIELDS];
          problems.push(problem(`${path}.${key}`, `'${type}' has no parameter '${key}'${didYouMean(key, allowed)}`));
        } else layerParams[key] = value;
      }
      params = fillDefaults(entry.params, layerParams, lookup);
      for (const [key, spec] of Object.entries(entry.params as Record<string, ParamSpec<unknown>>)) {
        if (spec.required === true && params[key] === undefined) {
          problems.push(problem(path, `'${type}' needs '${key}' (${String(spec.schema['description'])})`));
        }
      }
    }

    const previous = known.get(name);
    if (previous !== undefined) problems.push(problem(`${path}.name`, `the name '${name}' is already used by ${previous}`));

    let nodeInputs: string[];
    if (sequential) {
      if (node.inputs !== undefined) {
        problems.push(problem(`${path}.inputs`, 'a sequential model chains its layers; `inputs` is for graph models (`inputs`, `nodes`, `outputs`)'));
      }
      nodeInputs = [index === 0 ? inputs[0]!.name : nodes[index - 1]?.name ?? ''];
    } else if (node.inputs !== undefined) {
      nodeInputs = node.inputs;
      node.inputs.forEach((ref, i) => {
        if (!known.has(ref)) {
          const later = written.slice(index).some((n, j) => (n.name ?? defaultLayerName(n[TYPE], index + j)) === ref);
          problems.push(
            problem(
              `${path}.inputs.${i}`,
              later
                ? `'${ref}' is this node or a later one; a node can take only model inputs and nodes listed before it`
                : `unknown input '${ref}'${didYouMean(ref, [...known.keys()])} (model inputs and earlier nodes: ${[...known.keys()].join(', ')})`,
            ),
          );
        }
      });
    } else if (index > 0) {
      nodeInputs = [nodes[index - 1]?.name ?? ''];
    } else if (inputs.length === 1) {
      nodeInputs = [inputs[0]!.name];
    } else {
      problems.push(problem(path, `the model has several inputs (${inputs.map((i) => i.name).join(', ')}); list this node's \`inputs\``));
      nodeInputs = [];
    }

    known.set(name, path);
    nodes.push({ index, path, type, name, inputs: nodeInputs, trainable: node.trainable ?? true, params });
  });
  return nodes;
}

/** Every output names a node; every node and input leads to some output (else it is a mistake). */
function checkOutputsAndUse(
  nodes: ResolvedNode[],
  inputs: ResolvedInput[],
  outputs: { name: string; node: string }[],
  root: string,
  problems: Diagnostic[],
): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const used = new Set<string>();
  const visit = (name: string) => {
    if (used.has(name)) return;
    used.add(name);
    for (const input of byName.get(name)?.inputs ?? []) visit(input);
  };
  for (const output of outputs) {
    if (!byName.has(output.node)) {
      problems.push(problem(`${root}.outputs.${output.name}`, `unknown node '${output.node}'${didYouMean(output.node, [...byName.keys()])}`));
    } else visit(output.node);
  }
  if (problems.length > 0) return;
  for (const node of nodes) {
    if (!used.has(node.name)) problems.push(problem(node.path, `node '${node.name}' does not lead to any output`));
  }
  for (const input of inputs) {
    if (!used.has(input.name)) problems.push(problem(input.path, `input '${input.name}' is not used by any output`));
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The input rank a tfjs layer requires, from its input spec: `[batch, *, *, *]` or `rank ≥ 2`.
 * Only the rank: tfjs sets the spec while building from the very input that failed, so the sizes
 * in it describe the bad input, not the expectation.
 */
function expectedInput(layer: tf.layers.Layer): string | undefined {
  const spec = layer.inputSpec?.[0];
  if (spec === undefined || spec === null) return undefined;
  if (spec.ndim !== undefined && spec.ndim !== null) {
    return `[${['batch', ...Array.from({ length: spec.ndim - 1 }, () => '*')].join(', ')}]`;
  }
  if (spec.minNDim !== undefined && spec.minNDim !== null) return `rank ≥ ${spec.minNDim}`;
  return undefined;
}

function applyNode(
  node: ResolvedNode,
  tensors: Map<string, tf.SymbolicTensor>,
  context: BuildContext,
  random: RandomContext,
  created: tf.layers.Layer[],
): tf.SymbolicTensor {
  const where = `${node.type} '${node.name}'`;
  const layerContext: LayerContext = {
    name: node.name,
    seed: context.seed,
    random,
    initializers: context.registries.initializers,
    regularizers: context.registries.regularizers,
  };
  let layer: tf.layers.Layer;
  try {
    layer = context.registries.layers.get(node.type).create(node.params, layerContext);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([problem(node.path, `${where} cannot be created: ${messageOf(error)}`)]);
  }
  created.push(layer);
  layer.trainable = node.trainable;

  const args = node.inputs.map((name) => tensors.get(name)!);
  const inputShapes = args.map((t) => fmtShape(t.shape)).join(' and ');
  let output: tf.SymbolicTensor | tf.SymbolicTensor[];
  try {
    output = layer.apply(args.length === 1 ? args[0]! : args) as tf.SymbolicTensor | tf.SymbolicTensor[];
  } catch (error) {
    const expected = expectedInput(layer);
    const wants = expected !== undefined ? `; it expects ${expected}` : '';
    const plural = args.length === 1 ? 'input shape' : 'input shapes';
    throw new ConfigError([problem(node.path, `${where} does not fit its ${plural} ${inputShapes}${wants}: ${messageOf(error)}`)]);
  }
  if (Array.isArray(output)) {
    throw new ConfigError([problem(node.path, `${where} has several outputs; only single-output layers can be nodes`)]);
  }
  if (output.shape.some((d) => d !== null && d <= 0)) {
    throw new ConfigError([
      problem(node.path, `${where} gives an empty output ${fmtShape(output.shape)} from input shape ${inputShapes}; the input is too small for its window or strides`),
    ]);
  }
  return output;
}

/**
 * The model's trainable variables keyed by "layer/weight" (`conv2d_0/kernel`): the names from the
 * config, stable across runs, where tfjs' own variable names get numeric suffixes in a process that
 * builds several models. Frozen layers (`trainable: false`) are left out.
 */
export function trainableVariables(model: tf.LayersModel): Map<string, tf.Variable> {
  return new Map(
    model.trainableWeights.map((w) => {
      // read() is typed as a Tensor but returns the tf.Variable that holds the weight.
      const variable = w.read();
      if (!(variable instanceof tf.Variable)) throw new Error(`weight ${w.originalName} is not backed by a tf.Variable`);
      return [w.originalName, variable];
    }),
  );
}
