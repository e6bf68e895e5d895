import type * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@dlexp/core';
import {
  intsAttr,
  shapeJson,
  stringAttr,
  typeAttr,
  type AttrValueJson,
  type FrozenGraph,
  type HostDtype,
  type HostTensor,
  type NodeDefJson,
} from './graph-def';

/**
 * A trained Layers model as an inference graph of real TensorFlow ops, weights as constants:
 * each layer becomes the ops that compute it at inference (dropout the identity, batch
 * normalization folded into a scale and an offset, LSTM and GRU unrolled over their known number
 * of steps) under a name scope of the layer's name. Inputs are placeholders named after the
 * input layers; each output is an Identity named after its output layer, so the names a user
 * knows from the model work in the graph too.
 */

/**
 * The GraphDef producer version written. TensorFlow accepts graphs from any older producer; the
 * ops used here (AddV2 among them) need TensorFlow 1.15 or 2.x.
 */
const PRODUCER = 134;

const FLOAT: AttrValueJson = typeAttr('float32');
const INT: AttrValueJson = typeAttr('int32');

type Shape = (number | null)[];

/** A tensor of the graph being built: its name and static shape (null for the batch axis). */
interface Emitted {
  name: string;
  shape: Shape;
}

class GraphBuilder {
  readonly nodes: NodeDefJson[] = [];
  readonly constants = new Map<string, HostTensor>();
  private readonly names = new Set<string>();

  private unique(name: string): string {
    let full = name;
    for (let i = 1; this.names.has(full); i++) full = `${name}_${i}`;
    this.names.add(full);
    return full;
  }

  /** Reserves a name no scope will take (the model's inputs and outputs). */
  reserve(name: string): void {
    this.names.add(name);
  }

  op(name: string, op: string, inputs: string[], attr: Record<string, AttrValueJson> = {}): string {
    const full = this.unique(name);
    const node: NodeDefJson = { name: full, op };
    if (inputs.length > 0) node.input = inputs;
    if (Object.keys(attr).length > 0) node.attr = attr;
    this.nodes.push(node);
    return full;
  }

  /** An op on a name no other node has taken (checked). */
  exact(name: string, op: string, inputs: string[], attr: Record<string, AttrValueJson>): string {
    const node: NodeDefJson = { name, op, attr };
    if (inputs.length > 0) node.input = inputs;
    this.nodes.push(node);
    return name;
  }

  constant(name: string, tensor: HostTensor): string {
    const full = this.op(name, 'Const', [], { dtype: typeAttr(tensor.dtype) });
    this.constants.set(full, tensor);
    return full;
  }

  floats(name: string, values: Float32Array, shape: number[]): string {
    return this.constant(name, { dtype: 'float32', shape, values });
  }

  scalar(name: string, value: number): string {
    return this.floats(name, Float32Array.of(value), []);
  }

  ints(name: string, values: number[], shape = [values.length]): string {
    return this.constant(name, { dtype: 'int32', shape, values: Int32Array.from(values) });
  }
}

function unsupported(layer: tf.layers.Layer, why: string): ConfigError {
  return new ConfigError(`layer '${layer.name}' (${layer.getClassName()}): ${why}`);
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);

/** A layer's weights by their short name (`kernel`, `moving_mean`), as float32 host tensors. */
function weightsOf(layer: tf.layers.Layer): Map<string, { values: Float32Array; shape: number[] }> {
  const out = new Map<string, { values: Float32Array; shape: number[] }>();
  for (const w of layer.weights) {
    const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    out.set(short, { values: Float32Array.from(w.read().dataSync() as Float32Array), shape: [...w.shape] as number[] });
  }
  return out;
}

function weight(layer: tf.layers.Layer, weights: ReturnType<typeof weightsOf>, name: string): { values: Float32Array; shape: number[] } {
  const w = weights.get(name);
  if (w === undefined) throw unsupported(layer, `has no weight '${name}' (it has ${[...weights.keys()].join(', ')})`);
  return w;
}

/** The ops of an activation by its serialized name; returns the output tensor name. */
function activation(b: GraphBuilder, scope: string, x: string, name: string, layer: tf.layers.Layer): string {
  const unary = (op: string) => b.op(`${scope}/${op}`, op, [x], { T: FLOAT });
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return unary('Relu6');
    case 'tanh':
      return unary('Tanh');
    case 'sigmoid':
      return unary('Sigmoid');
    case 'softmax':
      return unary('Softmax');
    case 'logSoftmax':
      return unary('LogSoftmax');
    case 'elu':
      return unary('Elu');
    case 'selu':
      return unary('Selu');
    case 'softplus':
      return unary('Softplus');
    case 'leakyRelu':
      // This project's leakyRelu has Keras' LeakyReLU slope (see @dlexp/layers activations).
      return b.op(`${scope}/LeakyRelu`, 'LeakyRelu', [x], { T: FLOAT, alpha: { f: 0.3 } });
    case 'softsign': {
      const abs = b.op(`${scope}/Abs`, 'Abs', [x], { T: FLOAT });
      const denominator = b.op(`${scope}/add`, 'AddV2', [abs, b.scalar(`${scope}/one`, 1)], { T: FLOAT });
      return b.op(`${scope}/truediv`, 'RealDiv', [x, denominator], { T: FLOAT });
    }
    case 'hardSigmoid': {
      const scaled = b.op(`${scope}/mul`, 'Mul', [x, b.scalar(`${scope}/slope`, 0.2)], { T: FLOAT });
      const shifted = b.op(`${scope}/add`, 'AddV2', [scaled, b.scalar(`${scope}/shift`, 0.5)], { T: FLOAT });
      return b.op(`${scope}/clip`, 'ClipByValue', [shifted, b.scalar(`${scope}/zero`, 0), b.scalar(`${scope}/one`, 1)], { T: FLOAT });
    }
    case 'swish': {
      const gate = b.op(`${scope}/Sigmoid`, 'Sigmoid', [x], { T: FLOAT });
      return b.op(`${scope}/mul`, 'Mul', [gate, x], { T: FLOAT });
    }
    case 'mish': {
      const softplus = b.op(`${scope}/Softplus`, 'Softplus', [x], { T: FLOAT });
      const tanh = b.op(`${scope}/Tanh`, 'Tanh', [softplus], { T: FLOAT });
      return b.op(`${scope}/mul`, 'Mul', [x, tanh], { T: FLOAT });
    }
    case 'gelu': {
      // x · Φ(x) with Φ(x) = 0.5 (1 + erf(x / √2)), in the order tfjs computes it.
      const scaled = b.op(`${scope}/truediv`, 'RealDiv', [x, b.scalar(`${scope}/sqrt2`, Math.SQRT2)], { T: FLOAT });
      const erf = b.op(`${scope}/Erf`, 'Erf', [scaled], { T: FLOAT });
      const plus = b.op(`${scope}/add`, 'AddV2', [b.scalar(`${scope}/one`, 1), erf], { T: FLOAT });
      const cdf = b.op(`${scope}/mul`, 'Mul', [b.scalar(`${scope}/half`, 0.5), plus], { T: FLOAT });
      return b.op(`${scope}/mul_1`, 'Mul', [x, cdf], { T: FLOAT });
    }
    case 'gelu_new': {
      const cube = b.op(`${scope}/Pow`, 'Pow', [x, b.scalar(`${scope}/three`, 3)], { T: FLOAT });
      const inner = b.op(`${scope}/add`, 'AddV2', [x, b.op(`${scope}/mul`, 'Mul', [b.scalar(`${scope}/c`, 0.044715), cube], { T: FLOAT })], { T: FLOAT });
      const arg = b.op(`${scope}/mul_1`, 'Mul', [b.scalar(`${scope}/k`, Math.sqrt(2 / Math.PI)), inner], { T: FLOAT });
      const plus = b.op(`${scope}/add_1`, 'AddV2', [b.scalar(`${scope}/one`, 1), b.op(`${scope}/Tanh`, 'Tanh', [arg], { T: FLOAT })], { T: FLOAT });
      return b.op(`${scope}/mul_2`, 'Mul', [b.scalar(`${scope}/half`, 0.5), b.op(`${scope}/mul_3`, 'Mul', [x, plus], { T: FLOAT })], { T: FLOAT });
    }
    default:
      throw unsupported(layer, `activation '${name}' has no TensorFlow op equivalent here`);
  }
}

type Config = Record<string, unknown>;

function knownDims(layer: tf.layers.Layer, shape: Shape, what: string): number[] {
  const rest = shape.slice(1);
  if (rest.some((d) => d === null || d < 0)) throw unsupported(layer, `${what} [${shape.map((d) => d ?? '?').join(', ')}] must be known except for the batch axis`);
  return rest as number[];
}

/** x · kernel over the last axis, for inputs of any rank ≥ 2. */
function matmulLastAxis(b: GraphBuilder, scope: string, x: Emitted, kernel: string, units: number, layer: tf.layers.Layer): string {
  if (x.shape.length === 2) return b.op(`${scope}/MatMul`, 'MatMul', [x.name, kernel], { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } });
  const dims = knownDims(layer, x.shape, 'the input shape');
  const flat = b.op(`${scope}/Reshape`, 'Reshape', [x.name, b.ints(`${scope}/flat_shape`, [-1, dims[dims.length - 1]!])], { T: FLOAT, Tshape: INT });
  const product = b.op(`${scope}/MatMul`, 'MatMul', [flat, kernel], { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } });
  return b.op(`${scope}/Reshape_1`, 'Reshape', [product, b.ints(`${scope}/out_shape`, [-1, ...dims.slice(0, -1), units])], { T: FLOAT, Tshape: INT });
}

function emitDense(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config): string {
  const scope = layer.name;
  const weights = weightsOf(layer);
  const kernel = weight(layer, weights, 'kernel');
  const units = Number(config['units']);
  let y = matmulLastAxis(b, scope, x, b.floats(`${scope}/kernel`, kernel.values, kernel.shape), units, layer);
  if (config['useBias'] !== false) {
    const bias = weight(layer, weights, 'bias');
    y = b.op(`${scope}/BiasAdd`, 'BiasAdd', [y, b.floats(`${scope}/bias`, bias.values, bias.shape)], { T: FLOAT, data_format: stringAttr('NHWC') });
  }
  return activation(b, scope, y, String(config['activation'] ?? 'linear'), layer);
}

function channelsLast(layer: tf.layers.Layer, config: Config): void {
  if (config['dataFormat'] !== undefined && config['dataFormat'] !== 'channelsLast') throw unsupported(layer, 'only channelsLast (NHWC) data is exported');
}

function tfPadding(layer: tf.layers.Layer, config: Config): AttrValueJson {
  const padding = config['padding'] ?? 'valid';
  if (padding !== 'valid' && padding !== 'same') throw unsupported(layer, `padding '${String(padding)}' has no TensorFlow equivalent`);
  return stringAttr(padding === 'same' ? 'SAME' : 'VALID');
}

function emitConv2d(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config): string {
  channelsLast(layer, config);
  const scope = layer.name;
  const weights = weightsOf(layer);
  const kernel = weight(layer, weights, 'kernel');
  const [sh, sw] = pair(config['strides'] ?? 1);
  const [dh, dw] = pair(config['dilationRate'] ?? 1);
  let y = b.op(`${scope}/Conv2D`, 'Conv2D', [x.name, b.floats(`${scope}/kernel`, kernel.values, kernel.shape)], {
    T: FLOAT,
    strides: intsAttr([1, sh, sw, 1]),
    padding: tfPadding(layer, config),
    data_format: stringAttr('NHWC'),
    dilations: intsAttr([1, dh, dw, 1]),
    use_cudnn_on_gpu: { b: true },
    explicit_paddings: { list: {} },
  });
  if (config['useBias'] !== false) {
    const bias = weight(layer, weights, 'bias');
    y = b.op(`${scope}/BiasAdd`, 'BiasAdd', [y, b.floats(`${scope}/bias`, bias.values, bias.shape)], { T: FLOAT, data_format: stringAttr('NHWC') });
  }
  return activation(b, scope, y, String(config['activation'] ?? 'linear'), layer);
}

/** DepthwiseConv2D (tfjs applies no dilation to it) and SeparableConv2D (depthwise, then a 1×1 convolution). */
function emitDepthwise(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config, separable: boolean): string {
  channelsLast(layer, config);
  const scope = layer.name;
  const weights = weightsOf(layer);
  const depthwise = weight(layer, weights, 'depthwise_kernel');
  const [sh, sw] = pair(config['strides'] ?? 1);
  const [dh, dw] = separable ? pair(config['dilationRate'] ?? 1) : [1, 1];
  let y = b.op(`${scope}/depthwise`, 'DepthwiseConv2dNative', [x.name, b.floats(`${scope}/depthwise_kernel`, depthwise.values, depthwise.shape)], {
    T: FLOAT,
    strides: intsAttr([1, sh, sw, 1]),
    padding: tfPadding(layer, config),
    data_format: stringAttr('NHWC'),
    dilations: intsAttr([1, dh, dw, 1]),
  });
  if (separable) {
    const pointwise = weight(layer, weights, 'pointwise_kernel');
    y = b.op(`${scope}/pointwise`, 'Conv2D', [y, b.floats(`${scope}/pointwise_kernel`, pointwise.values, pointwise.shape)], {
      T: FLOAT,
      strides: intsAttr([1, 1, 1, 1]),
      padding: stringAttr('VALID'),
      data_format: stringAttr('NHWC'),
      dilations: intsAttr([1, 1, 1, 1]),
      use_cudnn_on_gpu: { b: true },
      explicit_paddings: { list: {} },
    });
  }
  if (config['useBias'] !== false) {
    const bias = weight(layer, weights, 'bias');
    y = b.op(`${scope}/BiasAdd`, 'BiasAdd', [y, b.floats(`${scope}/bias`, bias.values, bias.shape)], { T: FLOAT, data_format: stringAttr('NHWC') });
  }
  return activation(b, scope, y, String(config['activation'] ?? 'linear'), layer);
}

function emitZeroPadding(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config): string {
  channelsLast(layer, config);
  const padding = config['padding'] as [[number, number], [number, number]];
  const flat = [0, 0, padding[0][0], padding[0][1], padding[1][0], padding[1][1], 0, 0];
  return b.op(`${layer.name}/Pad`, 'Pad', [x.name, b.ints(`${layer.name}/paddings`, flat, [4, 2])], { T: FLOAT, Tpaddings: INT });
}

/** The activation layers of Keras models: ReLU (with a cap), LeakyReLU, Softmax, ELU. */
function emitActivationLayer(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config): string {
  const scope = layer.name;
  switch (layer.getClassName()) {
    case 'ReLU': {
      const cap = config['maxValue'];
      if (cap === null || cap === undefined) return b.op(`${scope}/Relu`, 'Relu', [x.name], { T: FLOAT });
      if (cap === 6) return b.op(`${scope}/Relu6`, 'Relu6', [x.name], { T: FLOAT });
      return b.op(`${scope}/clip`, 'ClipByValue', [x.name, b.scalar(`${scope}/zero`, 0), b.scalar(`${scope}/max`, Number(cap))], { T: FLOAT });
    }
    case 'LeakyReLU':
      return b.op(`${scope}/LeakyRelu`, 'LeakyRelu', [x.name], { T: FLOAT, alpha: { f: Number(config['alpha'] ?? 0.3) } });
    case 'ELU':
      return b.op(`${scope}/Elu`, 'Elu', [x.name], { T: FLOAT });
    default: {
      const axis = config['axis'] ?? -1;
      if (axis !== -1 && axis !== x.shape.length - 1) throw unsupported(layer, 'only a softmax over the last axis is exported');
      return b.op(`${scope}/Softmax`, 'Softmax', [x.name], { T: FLOAT });
    }
  }
}

function emitPool(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config, op: 'MaxPool' | 'AvgPool'): string {
  channelsLast(layer, config);
  const [ph, pw] = pair(config['poolSize'] ?? 2);
  const [sh, sw] = pair(config['strides'] ?? config['poolSize'] ?? 2);
  return b.op(`${layer.name}/${op}`, op, [x.name], {
    T: FLOAT,
    ksize: intsAttr([1, ph, pw, 1]),
    strides: intsAttr([1, sh, sw, 1]),
    padding: tfPadding(layer, config),
    data_format: stringAttr('NHWC'),
  });
}

function emitBatchNorm(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config): string {
  const axis = Number(config['axis'] ?? -1);
  if (axis !== -1 && axis !== x.shape.length - 1) throw unsupported(layer, 'only normalization over the last axis is exported');
  const scope = layer.name;
  const weights = weightsOf(layer);
  const mean = weight(layer, weights, 'moving_mean').values;
  const variance = weight(layer, weights, 'moving_variance').values;
  const gamma = config['scale'] === false ? undefined : weight(layer, weights, 'gamma').values;
  const beta = config['center'] === false ? undefined : weight(layer, weights, 'beta').values;
  const epsilon = Number(config['epsilon'] ?? 0.001);
  // Folded at export: y = x · s + (β − μ · s) with s = γ / √(σ² + ε), computed in double precision.
  const scale = new Float32Array(mean.length);
  const offset = new Float32Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    const s = (gamma?.[i] ?? 1) / Math.sqrt(variance[i]! + epsilon);
    scale[i] = s;
    offset[i] = (beta?.[i] ?? 0) - mean[i]! * s;
  }
  const scaled = b.op(`${scope}/mul`, 'Mul', [x.name, b.floats(`${scope}/scale`, scale, [scale.length])], { T: FLOAT });
  return b.op(`${scope}/add`, 'AddV2', [scaled, b.floats(`${scope}/offset`, offset, [offset.length])], { T: FLOAT });
}

function emitReshape(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, outputShape: Shape, op: string): string {
  const dims = knownDims(layer, outputShape, 'the output shape');
  return b.op(`${layer.name}/${op}`, 'Reshape', [x.name, b.ints(`${layer.name}/shape`, [-1, ...dims])], { T: FLOAT, Tshape: INT });
}

function emitEmbedding(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, xDtype: HostDtype, config: Config): string {
  if (config['maskZero'] === true) throw unsupported(layer, 'maskZero (masks are not exported)');
  const scope = layer.name;
  const table = weight(layer, weightsOf(layer), 'embeddings');
  const ids = xDtype === 'int32' ? x.name : b.op(`${scope}/Cast`, 'Cast', [x.name], { SrcT: typeAttr(xDtype), DstT: INT, Truncate: { b: false } });
  return b.op(`${scope}/GatherV2`, 'GatherV2', [b.floats(`${scope}/embeddings`, table.values, table.shape), ids, b.ints(`${scope}/axis`, [0], [])], {
    Tparams: FLOAT,
    Tindices: INT,
    Taxis: INT,
    batch_dims: { i: '0' },
  });
}

function emitMerge(b: GraphBuilder, layer: tf.layers.Layer, xs: Emitted[], config: Config, outputShape: Shape): string {
  const scope = layer.name;
  const names = xs.map((x) => x.name);
  const chain = (op: string) => names.slice(1).reduce((acc, next, i) => b.op(`${scope}/${op}${i === 0 ? '' : `_${i}`}`, op, [acc, next], { T: FLOAT }), names[0]!);
  switch (layer.getClassName()) {
    case 'Concatenate': {
      const rank = outputShape.length;
      const raw = Number(config['axis'] ?? -1);
      const axis = raw < 0 ? rank + raw : raw;
      return b.op(`${scope}/concat`, 'ConcatV2', [...names, b.ints(`${scope}/axis`, [axis], [])], { N: { i: String(names.length) }, T: FLOAT, Tidx: INT });
    }
    case 'Add':
      return names.length === 2 ? b.op(`${scope}/add`, 'AddV2', names, { T: FLOAT }) : b.op(`${scope}/AddN`, 'AddN', names, { N: { i: String(names.length) }, T: FLOAT });
    case 'Multiply':
      return chain('Mul');
    case 'Maximum':
      return chain('Maximum');
    case 'Minimum':
      return chain('Minimum');
    case 'Average': {
      const sum = names.length === 2 ? b.op(`${scope}/add`, 'AddV2', names, { T: FLOAT }) : b.op(`${scope}/AddN`, 'AddN', names, { N: { i: String(names.length) }, T: FLOAT });
      return b.op(`${scope}/mul`, 'Mul', [sum, b.scalar(`${scope}/inverse_count`, 1 / names.length)], { T: FLOAT });
    }
    default:
      throw unsupported(layer, 'no TensorFlow equivalent is exported');
  }
}

/**
 * LSTM and GRU unrolled over their time steps (known from the input shape), with the state
 * starting at zero as tfjs starts it: the inputs' projection is one MatMul for all steps, each step
 * adds the recurrent product and applies the gates.
 */
function emitRecurrent(b: GraphBuilder, layer: tf.layers.Layer, x: Emitted, config: Config, kind: 'LSTM' | 'GRU'): string {
  for (const flag of ['returnState', 'goBackwards', 'stateful'] as const) {
    if (config[flag] === true) throw unsupported(layer, `${flag} is not exported`);
  }
  if (x.shape.length !== 3 || x.shape[1] === null || x.shape[2] === null) {
    throw unsupported(layer, `needs a known number of time steps to unroll; its input shape is [${x.shape.map((d) => d ?? '?').join(', ')}]`);
  }
  const steps = x.shape[1]!;
  const features = x.shape[2]!;
  const units = Number(config['units']);
  const gates = kind === 'LSTM' ? 4 : 3;
  const act = String(config['activation'] ?? 'tanh');
  const recAct = String(config['recurrentActivation'] ?? 'hardSigmoid');
  const scope = layer.name;
  const weights = weightsOf(layer);
  const kernel = weight(layer, weights, 'kernel');
  const recurrent = weight(layer, weights, 'recurrent_kernel');
  const useBias = config['useBias'] !== false;
  const mm = (name: string, a: string, m: string) => b.op(name, 'MatMul', [a, m], { T: FLOAT, transpose_a: { b: false }, transpose_b: { b: false } });
  const add = (name: string, p: string, q: string) => b.op(name, 'AddV2', [p, q], { T: FLOAT });
  const mul = (name: string, p: string, q: string) => b.op(name, 'Mul', [p, q], { T: FLOAT });

  const flat = b.op(`${scope}/Reshape`, 'Reshape', [x.name, b.ints(`${scope}/flat_shape`, [-1, features])], { T: FLOAT, Tshape: INT });
  let projected = mm(`${scope}/MatMul`, flat, b.floats(`${scope}/kernel`, kernel.values, kernel.shape));
  if (useBias) {
    const bias = weight(layer, weights, 'bias');
    projected = b.op(`${scope}/BiasAdd`, 'BiasAdd', [projected, b.floats(`${scope}/bias`, bias.values, bias.shape)], { T: FLOAT, data_format: stringAttr('NHWC') });
  }
  const perStep = b.op(`${scope}/Reshape_1`, 'Reshape', [projected, b.ints(`${scope}/steps_shape`, [-1, steps, gates * units])], { T: FLOAT, Tshape: INT });
  const unstacked = b.op(`${scope}/unstack`, 'Unpack', [perStep], { T: FLOAT, num: { i: String(steps) }, axis: { i: '1' } });
  const splitAxis = b.ints(`${scope}/split_axis`, [1], []);
  const split = (name: string, value: string, count: number) => {
    const node = b.op(name, 'Split', [splitAxis, value], { T: FLOAT, num_split: { i: String(count) } });
    return Array.from({ length: count }, (_, i) => (i === 0 ? node : `${node}:${i}`));
  };

  const outputs: string[] = [];
  let h: string | undefined;
  let c: string | undefined;
  if (kind === 'LSTM') {
    const r = b.floats(`${scope}/recurrent_kernel`, recurrent.values, recurrent.shape);
    for (let t = 0; t < steps; t++) {
      const s = `${scope}/step_${t}`;
      const xt = t === 0 ? unstacked : `${unstacked}:${t}`;
      const z = h === undefined ? xt : add(`${s}/add`, xt, mm(`${s}/MatMul`, h, r));
      const [z0, z1, z2, z3] = split(`${s}/split`, z, 4) as [string, string, string, string];
      const i = activation(b, `${s}/input_gate`, z0, recAct, layer);
      const f = activation(b, `${s}/forget_gate`, z1, recAct, layer);
      const g = activation(b, `${s}/candidate`, z2, act, layer);
      const o = activation(b, `${s}/output_gate`, z3, recAct, layer);
      const ig = mul(`${s}/mul`, i, g);
      c = c === undefined ? ig : add(`${s}/add_1`, mul(`${s}/mul_1`, f, c), ig);
      h = mul(`${s}/mul_2`, o, activation(b, `${s}/cell_activation`, c, act, layer));
      outputs.push(h);
    }
  } else {
    // tfjs' GRU: z and r from x and h·R[:, :2u]; the candidate from x and (r ∘ h)·R[:, 2u:]; h = z ∘ h + (1 − z) ∘ candidate.
    const zr = new Float32Array(units * 2 * units);
    const hh = new Float32Array(units * units);
    for (let row = 0; row < units; row++) {
      zr.set(recurrent.values.subarray(row * 3 * units, row * 3 * units + 2 * units), row * 2 * units);
      hh.set(recurrent.values.subarray(row * 3 * units + 2 * units, (row + 1) * 3 * units), row * units);
    }
    const rzr = b.floats(`${scope}/recurrent_kernel_zr`, zr, [units, 2 * units]);
    const rhh = b.floats(`${scope}/recurrent_kernel_h`, hh, [units, units]);
    const one = b.scalar(`${scope}/one`, 1);
    for (let t = 0; t < steps; t++) {
      const s = `${scope}/step_${t}`;
      const xt = t === 0 ? unstacked : `${unstacked}:${t}`;
      const [xz, xr, xh] = split(`${s}/split`, xt, 3) as [string, string, string];
      let z: string;
      let candidateInput: string;
      if (h === undefined) {
        z = activation(b, `${s}/update_gate`, xz, recAct, layer);
        candidateInput = xh;
      } else {
        const [rz, rr] = split(`${s}/split_1`, mm(`${s}/MatMul`, h, rzr), 2) as [string, string];
        z = activation(b, `${s}/update_gate`, add(`${s}/add`, xz, rz), recAct, layer);
        const reset = activation(b, `${s}/reset_gate`, add(`${s}/add_1`, xr, rr), recAct, layer);
        candidateInput = add(`${s}/add_2`, xh, mm(`${s}/MatMul_1`, mul(`${s}/mul`, reset, h), rhh));
      }
      const candidate = activation(b, `${s}/candidate`, candidateInput, act, layer);
      const keep = b.op(`${s}/sub`, 'Sub', [one, z], { T: FLOAT });
      const fresh = mul(`${s}/mul_1`, keep, candidate);
      h = h === undefined ? fresh : add(`${s}/add_3`, mul(`${s}/mul_2`, z, h), fresh);
      outputs.push(h);
    }
  }
  if (config['returnSequences'] !== true) return h!;
  return b.op(`${scope}/stack`, 'Pack', outputs, { T: FLOAT, N: { i: String(steps) }, axis: { i: '1' } });
}

/** The inputs and outputs of an exported graph: tensor names with dtype and shape. */
export interface GraphSignatureEntry {
  /** The layer name it comes from, also the graph node's name. */
  key: string;
  tensor: string;
  dtype: HostDtype;
  shape: number[];
}

export interface ExportedGraph {
  frozen: FrozenGraph;
  inputs: GraphSignatureEntry[];
  outputs: GraphSignatureEntry[];
}

const IDENTITY_LAYERS = new Set(['Dropout', 'SeededDropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/**
 * The inference graph of a Layers model. Layers without an export here (and shared layers, nested
 * models, masks) are ConfigErrors naming the layer.
 */
export function layersModelToGraph(model: tf.LayersModel): ExportedGraph {
  const b = new GraphBuilder();
  const tensors = new Map<string, { name: string; shape: Shape; dtype: HostDtype }>();
  const key = (layer: string, index: number) => `${layer}:${index}`;
  const inputs: GraphSignatureEntry[] = [];
  const outputLayers = new Set(model.outputs.map((t) => t.sourceLayer.name));
  for (const name of [...model.inputLayers.map((l) => l.name), ...outputLayers]) b.reserve(name);

  for (const layer of model.inputLayers) {
    const shape = (layer.batchInputShape ?? (layer as unknown as { batchInputShape: Shape }).batchInputShape) as Shape;
    const dtype = (layer.dtype === 'int32' ? 'int32' : 'float32') as HostDtype;
    const fixed = shape.map((d) => d ?? -1);
    const name = b.exact(layer.name, 'Placeholder', [], { dtype: typeAttr(dtype), shape: { shape: shapeJson(fixed) } });
    tensors.set(key(layer.name, 0), { name, shape, dtype });
    inputs.push({ key: layer.name, tensor: `${name}:0`, dtype, shape: fixed });
  }

  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    if (layer.inboundNodes.length !== 1) throw unsupported(layer, 'a layer used more than once (shared weights) is not exported');
    if (className === 'Model' || className === 'Functional' || className === 'Sequential') throw unsupported(layer, 'nested models are not exported');
    const inbound = layer.inboundNodes[0]!.inputTensors.map((t) => {
      const found = tensors.get(key(t.sourceLayer.name, t.tensorIndex ?? 0));
      if (found === undefined) throw unsupported(layer, `reads '${t.sourceLayer.name}', which was not exported before it`);
      return found;
    });
    const config = layer.getConfig() as Config;
    const x = inbound[0]!;
    const outputShape = layer.outputShape as Shape;
    let out: string;
    switch (className) {
      case 'Dense':
        out = emitDense(b, layer, x, config);
        break;
      case 'Conv2D':
        out = emitConv2d(b, layer, x, config);
        break;
      case 'DepthwiseConv2D':
      case 'SeparableConv2D':
        out = emitDepthwise(b, layer, x, config, className === 'SeparableConv2D');
        break;
      case 'ZeroPadding2D':
        out = emitZeroPadding(b, layer, x, config);
        break;
      case 'ReLU':
      case 'LeakyReLU':
      case 'ELU':
      case 'Softmax':
        out = emitActivationLayer(b, layer, x, config);
        break;
      case 'Permute': {
        const dims = (config['dims'] as number[]) ?? [];
        out = b.op(`${layer.name}/transpose`, 'Transpose', [x.name, b.ints(`${layer.name}/perm`, [0, ...dims])], { T: FLOAT, Tperm: INT });
        break;
      }
      case 'MaxPooling2D':
        out = emitPool(b, layer, x, config, 'MaxPool');
        break;
      case 'AveragePooling2D':
        out = emitPool(b, layer, x, config, 'AvgPool');
        break;
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        channelsLast(layer, config);
        const op = className === 'GlobalAveragePooling2D' ? 'Mean' : 'Max';
        out = b.op(`${layer.name}/${op}`, op, [x.name, b.ints(`${layer.name}/axes`, [1, 2])], { T: FLOAT, Tidx: INT, keep_dims: { b: false } });
        break;
      }
      case 'Flatten':
        channelsLast(layer, config);
        out = emitReshape(b, layer, x, outputShape, 'Reshape');
        break;
      case 'Reshape':
        out = emitReshape(b, layer, x, outputShape, 'Reshape');
        break;
      case 'BatchNormalization':
        out = emitBatchNorm(b, layer, x, config);
        break;
      case 'Activation':
        out = activation(b, layer.name, x.name, String(config['activation']), layer);
        break;
      case 'Embedding':
        out = emitEmbedding(b, layer, x, x.dtype, config);
        break;
      case 'LSTM':
      case 'GRU':
        out = emitRecurrent(b, layer, x, config, className);
        break;
      case 'Concatenate':
      case 'Add':
      case 'Multiply':
      case 'Maximum':
      case 'Minimum':
      case 'Average':
        out = emitMerge(b, layer, inbound, config, outputShape);
        break;
      default:
        if (!IDENTITY_LAYERS.has(className)) throw unsupported(layer, 'no TensorFlow export for this kind of layer');
        // Dropout and noise layers are the identity at inference.
        out = b.op(`${layer.name}/Identity`, 'Identity', [x.name], { T: FLOAT });
    }
    // A layer whose output is its input (linear activation) still gets a node of its own name scope.
    if (out === x.name) out = b.op(`${layer.name}/Identity`, 'Identity', [x.name], { T: FLOAT });
    tensors.set(key(layer.name, 0), { name: out, shape: outputShape, dtype: 'float32' });
  }

  const outputs = model.outputs.map((t) => {
    const layerName = t.sourceLayer.name;
    const source = tensors.get(key(layerName, t.tensorIndex ?? 0));
    if (source === undefined) throw new ConfigError(`output '${layerName}' was not exported`);
    const name = b.exact(layerName, 'Identity', [source.name], { T: typeAttr(source.dtype) });
    return { key: layerName, tensor: `${name}:0`, dtype: source.dtype, shape: (t.shape as Shape).map((d) => d ?? -1) };
  });
  return { frozen: { graph: { node: b.nodes, versions: { producer: PRODUCER } }, constants: b.constants }, inputs, outputs };
}
