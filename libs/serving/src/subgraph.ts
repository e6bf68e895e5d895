import { ConfigError, closestMatch, DataError } from '@dlexp/core';
import {
  dtypeName,
  elementCount,
  hostDtypeOf,
  parseTensorName,
  shapeJson,
  shapeOf,
  type AttrValueJson,
  type FrozenGraph,
  type HostDtype,
  type HostTensor,
  type NodeDefJson,
} from './graph-def';
import { isSupportedOp } from './tfjs-ops';

/**
 * Feed and fetch by tensor name, the course's way of running a frozen graph: the nodes between the
 * chosen input and output are kept, the input becomes a placeholder (so a graph can be fed after
 * its own decoding and resizing, at `Mul:0`), and every op on that path must be one TF.js runs.
 */

export interface GraphEndpoint {
  /** Tensor name as the user gives it (`Mul:0`). */
  tensor: string;
  /** The node TF.js feeds or fetches. */
  node: string;
  dtype: HostDtype;
  /** -1 where unknown; undefined for an unknown rank. */
  shape: number[] | undefined;
}

export interface Subgraph {
  frozen: FrozenGraph;
  input: GraphEndpoint;
  output: GraphEndpoint;
}

/** Ops that never compute a value a classifier needs. */
const NOT_AN_OUTPUT = new Set(['NoOp', 'Const', 'Placeholder', 'PlaceholderWithDefault', 'Assert', 'SaveV2', 'RestoreV2', 'VariableV2', 'Variable', 'VarHandleOp']);

/** Nodes whose output no other node reads: the candidates for a graph's outputs. */
export function sinkNodes(nodes: readonly NodeDefJson[]): NodeDefJson[] {
  const consumed = new Set<string>();
  for (const node of nodes) for (const input of node.input ?? []) consumed.add(parseTensorName(input)[0]);
  return nodes.filter((n) => !consumed.has(n.name) && !NOT_AN_OUTPUT.has(n.op));
}

export function placeholderNodes(nodes: readonly NodeDefJson[]): NodeDefJson[] {
  return nodes.filter((n) => n.op === 'Placeholder');
}

/** The shape of output `index` of a node, where the graph records it. */
function recordedShape(node: NodeDefJson, index: number): number[] | undefined {
  if (node.op === 'Placeholder' && index === 0) return shapeOf(node.attr?.['shape']?.shape);
  const shapes = node.attr?.['_output_shapes']?.list?.shape;
  return shapes === undefined ? undefined : shapeOf(shapes[index]);
}

function outputDtype(node: NodeDefJson): HostDtype {
  const attr = node.attr ?? {};
  return hostDtypeOf(attr['dtype']?.type ?? attr['T']?.type ?? attr['out_type']?.type ?? attr['DstT']?.type) ?? 'float32';
}

function unknownName(file: string, what: string, name: string, nodes: readonly NodeDefJson[]): ConfigError {
  const names = nodes.map((n) => n.name);
  const suggestion = closestMatch(name, names);
  return new ConfigError(`${file}: the graph has no node '${name}' (${what})${suggestion === undefined ? '' : `; did you mean '${suggestion}'?`}`);
}

function listNames(nodes: readonly NodeDefJson[]): string {
  const shown = nodes.slice(0, 8).map((n) => `'${n.name}:0' (${n.op})`);
  return nodes.length > 8 ? `${shown.join(', ')} and ${nodes.length - 8} more` : shown.join(', ');
}

const NHWC = Buffer.from('NHWC').toString('base64');
const ONES = (n: number): AttrValueJson => ({ list: { i: Array.from({ length: n }, () => '1') } });

/**
 * Attributes TensorFlow added to ops after a graph was written, with the defaults its importer
 * fills in (graphs from 2015, Inception-v3's among them, have no `dilations` on their Conv2D);
 * tfjs-converter reads some of them without a default.
 */
const DEFAULT_ATTRS: Record<string, Record<string, AttrValueJson>> = {
  Conv2D: { dilations: ONES(4), data_format: { s: NHWC } },
  DepthwiseConv2dNative: { dilations: ONES(4), data_format: { s: NHWC } },
  Conv3D: { dilations: ONES(5) },
  MaxPool: { data_format: { s: NHWC } },
  AvgPool: { data_format: { s: NHWC } },
  Mean: { keep_dims: { b: false } },
  Sum: { keep_dims: { b: false } },
  Max: { keep_dims: { b: false } },
  Min: { keep_dims: { b: false } },
  Prod: { keep_dims: { b: false } },
  All: { keep_dims: { b: false } },
  Any: { keep_dims: { b: false } },
  ResizeBilinear: { align_corners: { b: false }, half_pixel_centers: { b: false } },
  ResizeNearestNeighbor: { align_corners: { b: false }, half_pixel_centers: { b: false } },
  TopKV2: { sorted: { b: true } },
  Cumsum: { exclusive: { b: false }, reverse: { b: false } },
  Cumprod: { exclusive: { b: false }, reverse: { b: false } },
};

function withDefaultAttrs(node: NodeDefJson): NodeDefJson {
  const defaults = DEFAULT_ATTRS[node.op];
  if (defaults === undefined || Object.keys(defaults).every((k) => node.attr?.[k] !== undefined)) return node;
  return { ...node, attr: { ...defaults, ...node.attr } };
}

/**
 * Fills attributes newer TensorFlow versions default and rewrites ops from old TensorFlow versions that TF.js lacks into equivalent ones it has:
 * BatchNormWithGlobalNormalization (Inception-v3's classify_image_graph_def.pb) becomes
 * FusedBatchNorm, CheckNumerics an Identity. Returns a new graph; the input is not changed.
 */
export function rewriteLegacyOps(frozen: FrozenGraph): FrozenGraph {
  const constants = new Map(frozen.constants);
  const extra: NodeDefJson[] = [];
  const node = frozen.graph.node.map((original): NodeDefJson => {
    const n = withDefaultAttrs(original);
    if (n.op === 'CheckNumerics') {
      return { name: n.name, op: 'Identity', input: n.input ?? [], attr: { T: n.attr?.['T'] ?? { type: 'DT_FLOAT' } } };
    }
    if (n.op !== 'BatchNormWithGlobalNormalization') return n;
    // Inputs: t, mean, variance, beta (offset), gamma (scale); gamma applies only with scale_after_normalization.
    const [t, mean, variance, beta, gamma] = n.input ?? [];
    if (t === undefined || mean === undefined || variance === undefined || beta === undefined || gamma === undefined) return n;
    let scale = gamma;
    if (n.attr?.['scale_after_normalization']?.b !== true) {
      const offset = constants.get(parseTensorName(beta)[0]);
      if (offset === undefined) return n;
      const ones = `${n.name}/unit_scale`;
      const values = new Float32Array(elementCount(offset.shape)).fill(1);
      constants.set(ones, { dtype: 'float32', shape: [...offset.shape], values });
      extra.push({ name: ones, op: 'Const', attr: { dtype: { type: 'DT_FLOAT' } } });
      scale = ones;
    }
    const attr: Record<string, AttrValueJson> = {
      T: n.attr?.['T'] ?? { type: 'DT_FLOAT' },
      epsilon: { f: n.attr?.['variance_epsilon']?.f ?? 0.001 },
      is_training: { b: false },
      data_format: { s: Buffer.from('NHWC').toString('base64') },
    };
    return { name: n.name, op: 'FusedBatchNorm', input: [t, scale, beta, mean, variance], attr };
  });
  return { ...frozen, graph: { ...frozen.graph, node: [...extra, ...node] }, constants };
}

export interface SubgraphOptions {
  /** Tensor name to feed (`Mul:0`); default: the one placeholder the output depends on. */
  input?: string;
  /** Tensor name to fetch (`softmax:0`); default: the graph's one output (or `preferredOutputs[0]`). */
  output?: string;
  /** Output names the file declares (a graph model's signature), in order; the first is the default. */
  preferredOutputs?: string[];
  /** The input's shape when the graph does not record it, e.g. [1, 299, 299, 3] for `Mul:0`. */
  inputShape?: number[];
}

/**
 * The part of `frozen` that computes `output` from `input`, ready for TF.js: the input is a
 * placeholder, only constants on the path remain, and an op TF.js cannot run is a ConfigError
 * naming it. `file` is named in every message.
 */
export function selectSubgraph(source: FrozenGraph, file: string, options: SubgraphOptions = {}): Subgraph {
  const frozen = rewriteLegacyOps(source);
  const nodes = frozen.graph.node;
  const byName = new Map(nodes.map((n) => [n.name, n]));

  let outputName = options.output ?? options.preferredOutputs?.[0];
  if (outputName === undefined) {
    const sinks = sinkNodes(nodes);
    if (sinks.length !== 1) {
      throw new ConfigError(
        sinks.length === 0
          ? `${file}: the graph has no output node`
          : `${file}: the graph has ${sinks.length} outputs; choose one by tensor name (output): ${listNames(sinks)}`,
      );
    }
    outputName = `${sinks[0]!.name}:0`;
  }
  const [outputNode, outputIndex] = parseTensorName(outputName);
  if (outputIndex < 0) throw new ConfigError(`${file}: '${outputName}' is a control input, not a tensor`);
  const outputDef = byName.get(outputNode);
  if (outputDef === undefined) throw unknownName(file, 'output', outputNode, nodes);

  let inputTensor: [string, number] | undefined;
  if (options.input !== undefined) {
    inputTensor = parseTensorName(options.input);
    if (inputTensor[1] < 0) throw new ConfigError(`${file}: '${options.input}' is a control input, not a tensor`);
    if (!byName.has(inputTensor[0])) throw unknownName(file, 'input', inputTensor[0], nodes);
  }
  const isInput = (node: string, index: number) => inputTensor !== undefined && node === inputTensor[0] && index === inputTensor[1];

  // Walk back from the output; stop at the input tensor.
  const reached = new Set<string>();
  const placeholders: NodeDefJson[] = [];
  let inputReached = false;
  const stack: [string, number][] = [[outputNode, outputIndex]];
  while (stack.length > 0) {
    const [name, index] = stack.pop()!;
    if (isInput(name, index)) {
      inputReached = true;
      continue;
    }
    if (reached.has(name)) continue;
    const node = byName.get(name);
    if (node === undefined) throw new DataError(`${file}: a node reads '${name}', which the graph does not have`);
    reached.add(name);
    if (node.op === 'Placeholder') placeholders.push(node);
    for (const input of node.input ?? []) {
      const [from, fromIndex] = parseTensorName(input);
      stack.push([from, Math.max(fromIndex, 0)]);
    }
  }

  if (inputTensor === undefined) {
    if (placeholders.length !== 1) {
      throw new ConfigError(
        placeholders.length === 0
          ? `${file}: '${outputName}' depends on no placeholder; choose the tensor to feed by name (input)`
          : `${file}: '${outputName}' depends on ${placeholders.length} placeholders; choose the one to feed by name (input): ${listNames(placeholders)}`,
      );
    }
    inputTensor = [placeholders[0]!.name, 0];
    inputReached = true;
  } else {
    if (!inputReached) {
      throw new ConfigError(`${file}: the output '${outputName}' does not depend on the input '${options.input}'`);
    }
    const unfed = placeholders.filter((p) => p.name !== inputTensor![0]);
    if (unfed.length > 0) {
      throw new ConfigError(
        `${file}: the path from '${options.input}' to '${outputName}' also needs the placeholder '${unfed[0]!.name}', which is not fed; choose an input below it`,
      );
    }
  }

  const unsupported = new Map<string, string[]>();
  for (const name of reached) {
    const node = byName.get(name)!;
    if (!isSupportedOp(node.op)) unsupported.set(node.op, [...(unsupported.get(node.op) ?? []), name]);
  }
  if (unsupported.size > 0) {
    const list = [...unsupported].map(([op, names]) => `${op} (node '${names[0]}'${names.length > 1 ? ` and ${names.length - 1} more` : ''})`);
    throw new ConfigError(
      `${file}: TF.js cannot run ${unsupported.size === 1 ? 'the op' : 'the ops'} ${list.join(', ')} on the path from '${tensorLabel(inputTensor)}' to '${outputName}'`,
    );
  }
  for (const name of reached) {
    const problem = frozen.unreadableConstants?.get(name);
    if (problem !== undefined) throw new DataError(`${file}: constant '${name}' on the path cannot be loaded: ${problem}`);
  }

  // The input tensor becomes a placeholder: the node itself when it is one, else a new one of the
  // same name (output 0) or of a new name (another output) that its readers are pointed at.
  const [inNode, inIndex] = inputTensor;
  const inDef = byName.get(inNode)!;
  if (inIndex === 0 && reached.has(inNode)) {
    if (inDef.op !== 'Placeholder') {
      throw new ConfigError(`${file}: other outputs of '${inNode}' are needed too, so '${inNode}:0' cannot be fed in its place`);
    }
    reached.delete(inNode);
  }
  const inShape = options.inputShape ?? recordedShape(inDef, inIndex);
  const inDtype = outputDtype(inDef);
  let feedName = inNode;
  if (inIndex !== 0) {
    feedName = `${inNode}_output_${inIndex}`;
    for (let i = 1; byName.has(feedName); i++) feedName = `${inNode}_output_${inIndex}_${i}`;
  }
  const placeholder: NodeDefJson =
    inDef.op === 'Placeholder' && inIndex === 0
      ? { ...inDef, attr: { ...inDef.attr, shape: { shape: shapeJson(inShape) } } }
      : { name: feedName, op: 'Placeholder', attr: { dtype: { type: dtypeName(inDtype) }, shape: { shape: shapeJson(inShape) } } };
  const kept: NodeDefJson[] = [placeholder];
  for (const node of nodes) {
    if (!reached.has(node.name)) continue;
    if (inIndex === 0 || node.input === undefined) {
      kept.push(node);
      continue;
    }
    const input = node.input.map((i) => {
      const [from, index] = parseTensorName(i);
      return from === inNode && index === inIndex ? feedName : i;
    });
    kept.push({ ...node, input });
  }
  const constants = new Map<string, HostTensor>();
  for (const node of kept) {
    if (node.op !== 'Const') continue;
    const value = frozen.constants.get(node.name);
    if (value === undefined) throw new DataError(`${file}: constant '${node.name}' has no value`);
    constants.set(node.name, value);
  }
  return {
    frozen: { graph: { ...frozen.graph, node: kept }, constants },
    input: { tensor: tensorLabel(inputTensor), node: feedName, dtype: inDtype, shape: inShape },
    output: { tensor: outputName.includes(':') ? outputName : `${outputName}:0`, node: outputIndex === 0 ? outputNode : outputName, dtype: outputDtype(outputDef), shape: recordedShape(outputDef, outputIndex) },
  };
}

function tensorLabel([node, index]: [string, number]): string {
  return `${node}:${index}`;
}
