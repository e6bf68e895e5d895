/**
 * Elementwise kernels (binary with broadcasting, unary, comparisons), Sum, and the copies that
 * need not copy (Identity, Cast to the same type). They are passes over memory: the addon runs
 * each with 512-bit vectors on every thread (addon/elementwise.cc).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { Fuser } from '../fusion';
import { heapBackend, offsetOf, sizeOf, type KernelArgs, type NativeKernel, type NativeKernelContext } from './kernel-context';

function fuserOf(backend: unknown): Fuser | undefined {
  return (backend as { fuser?: Fuser }).fuser;
}

/** Operation codes of addon/elementwise.cc. */
const BINARY_OPS = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
  Greater: 7,
  GreaterEqual: 8,
  Less: 9,
  LessEqual: 10,
  Equal: 11,
  NotEqual: 12,
  LogicalAnd: 13,
  LogicalOr: 14,
} as const;
const FIRST_COMPARISON = BINARY_OPS.Greater;
const FIRST_LOGICAL = BINARY_OPS.LogicalAnd;

const UNARY_OPS = {
  Relu: 0,
  Relu6: 1,
  Step: 2,
  Neg: 3,
  Abs: 4,
  Square: 5,
  Sqrt: 6,
  Rsqrt: 7,
  Exp: 8,
  Log: 9,
  Tanh: 10,
  Sigmoid: 11,
  LeakyRelu: 12,
  Elu: 13,
  ClipByValue: 14,
  Reciprocal: 15,
} as const;

const MAX_RANK = 6;

/** Strides of `shape` read as `outRank` dims aligned to the right: 0 along dims of extent 1 or absent. */
function broadcastStrides(shape: readonly number[], outRank: number): number[] {
  const strides = new Array<number>(outRank).fill(0);
  let stride = 1;
  for (let d = outRank - 1, s = shape.length - 1; d >= 0; d--, s--) {
    const extent = s >= 0 ? shape[s]! : 1;
    strides[d] = extent === 1 ? 0 : stride;
    stride *= extent;
  }
  return strides;
}

function writeFlatLayout(args: Float64Array, size: number, strideA: number, strideB: number): void {
  args[4] = 1;
  args.fill(1, 5, 11);
  args.fill(0, 11, 23);
  args[5] = size;
  args[11] = strideA;
  args[17] = strideB;
}

/**
 * Writes the broadcast layout of a op b into args[4..22]: the output dims with a's and b's strides
 * (0 where broadcast), dims of 1 dropped and neighbours merged wherever both operands run on
 * contiguously. Returns false when more than MAX_RANK dims remain.
 */
function writeLayout(args: Float64Array, aShape: number[], bShape: number[], outShape: number[]): boolean {
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, rank);
  const sb = broadcastStrides(bShape, rank);
  const dims: number[] = [];
  const strideA: number[] = [];
  const strideB: number[] = [];
  for (let d = 0; d < rank; d++) {
    const extent = outShape[d]!;
    if (extent === 1) continue;
    const last = dims.length - 1;
    // The previous kept dim folds into this one when each operand steps from one to the next
    // as if they were one dim.
    if (last >= 0 && strideA[last] === sa[d]! * extent && strideB[last] === sb[d]! * extent) {
      dims[last] = dims[last]! * extent;
      strideA[last] = sa[d]!;
      strideB[last] = sb[d]!;
      continue;
    }
    dims.push(extent);
    strideA.push(sa[d]!);
    strideB.push(sb[d]!);
  }
  if (dims.length === 0) {
    dims.push(1);
    strideA.push(0);
    strideB.push(0);
  }
  if (dims.length > MAX_RANK) return false;
  args[4] = dims.length;
  for (let d = 0; d < MAX_RANK; d++) {
    args[5 + d] = dims[d] ?? 1;
    args[11 + d] = strideA[d] ?? 0;
    args[17 + d] = strideB[d] ?? 0;
  }
  return true;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function createBinary(context: NativeKernelContext, name: keyof typeof BINARY_OPS): KernelFunc {
  const wasm = context.fallback(name);
  const op = BINARY_OPS[name];
  const outDtype = op >= FIRST_COMPARISON ? 'bool' : 'float32';
  return (call) => {
    const { a, b } = (call as KernelArgs).inputs as { a: TensorInfo; b: TensorInfo };
    const operandType = op >= FIRST_LOGICAL ? 'bool' : 'float32';
    if (a.dtype !== operandType || b.dtype !== operandType) return wasm(call);
    const sizeA = sizeOf(a.shape);
    const sizeB = sizeOf(b.shape);
    // The common cases without the general broadcasting machinery: equal shapes, or one operand
    // a single value that does not raise the rank.
    const equal = sameShape(a.shape, b.shape);
    const scalarB = !equal && sizeB === 1 && b.shape.length <= a.shape.length;
    const scalarA = !equal && !scalarB && sizeA === 1 && a.shape.length <= b.shape.length;
    let outShape: number[];
    if (equal || scalarB) outShape = a.shape;
    else if (scalarA) outShape = b.shape;
    else {
      try {
        outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      } catch {
        return wasm(call);
      }
    }
    const size = equal || scalarB ? sizeA : scalarA ? sizeB : sizeOf(outShape);
    if (size === 0 || sizeA === 0 || sizeB === 0) return wasm(call);
    if (op < FIRST_COMPARISON) {
      const held = fuserOf(call.backend)?.defer(false, op, [a, b], [...outShape]);
      if (held !== undefined) return held;
    }
    const args = context.args;
    if (equal) writeFlatLayout(args, size, 1, 1);
    else if (scalarB) writeFlatLayout(args, size, 1, 0);
    else if (scalarA) writeFlatLayout(args, size, 0, 1);
    else if (!writeLayout(args, a.shape, b.shape, outShape)) return wasm(call);
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput([...outShape], outDtype);
    args[0] = offsetOf(backend, a);
    args[1] = offsetOf(backend, b);
    args[2] = offsetOf(backend, out);
    args[3] = op;
    context.addon.binary(backend.wasm.HEAPU8, args);
    return out;
  };
}

function createUnary(context: NativeKernelContext, name: keyof typeof UNARY_OPS): KernelFunc {
  const wasm = context.fallback(name);
  const op = UNARY_OPS[name];
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const size = sizeOf(x.shape);
    if (x.dtype !== 'float32' || size === 0) return wasm(call);
    const args = context.args;
    const a = (attrs ?? {}) as { alpha?: number; clipValueMin?: number; clipValueMax?: number };
    if (name === 'ClipByValue') {
      args[4] = a.clipValueMin ?? -Infinity;
      args[5] = a.clipValueMax ?? Infinity;
    } else {
      // Step's alpha defaults to 0, LeakyRelu's to 0.2 (the op fills it in; these are fallbacks).
      args[4] = a.alpha ?? (name === 'LeakyRelu' ? 0.2 : 0);
      args[5] = 0;
    }
    const held = fuserOf(call.backend)?.defer(true, op, [x], [...x.shape], args[4], args[5]);
    if (held !== undefined) return held;
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput([...x.shape], 'float32');
    args[0] = offsetOf(backend, x);
    args[1] = offsetOf(backend, out);
    args[2] = op;
    args[3] = size;
    context.addon.unary(backend.wasm.HEAPU8, args);
    return out;
  };
}

/** Select (tf.where) with a condition of the operands' shape: the form gradients of clipping use. */
function createSelect(context: NativeKernelContext): KernelFunc {
  const wasm = context.fallback('Select');
  return (call) => {
    const { condition, t, e } = (call as KernelArgs).inputs as { condition: TensorInfo; t: TensorInfo; e: TensorInfo };
    const size = sizeOf(t.shape);
    const sameShape = (x: TensorInfo) => x.shape.length === t.shape.length && x.shape.every((d, i) => d === t.shape[i]);
    if (condition.dtype !== 'bool' || t.dtype !== 'float32' || e.dtype !== 'float32' || size === 0 || !sameShape(condition) || !sameShape(e)) {
      return wasm(call);
    }
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput([...t.shape], 'float32');
    const args = context.args;
    args[0] = offsetOf(backend, condition);
    args[1] = offsetOf(backend, t);
    args[2] = offsetOf(backend, e);
    args[3] = offsetOf(backend, out);
    args[4] = size;
    context.addon.select(backend.wasm.HEAPU8, args);
    return out;
  };
}

/** Sum over axes that lie next to each other (the layout of every reduction in a training step). */
function createSum(context: NativeKernelContext): KernelFunc {
  const wasm = context.fallback('Sum');
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = (attrs ?? {}) as { axis?: number | number[]; keepDims?: boolean };
    const rank = x.shape.length;
    if (x.dtype !== 'float32' || sizeOf(x.shape) === 0 || axis === undefined) return wasm(call);
    const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((ax, i) => i > 0 && ax !== axes[i - 1]! + 1)) return wasm(call);
    const first = axes[0]!;
    const last = axes[axes.length - 1]!;
    const outer = sizeOf(x.shape.slice(0, first));
    const reduced = sizeOf(x.shape.slice(first, last + 1));
    const inner = sizeOf(x.shape.slice(last + 1));
    const outShape = keepDims === true ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
    if (rank === 0) return wasm(call);
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput(outShape, 'float32');
    const args = context.args;
    args[0] = offsetOf(backend, x);
    args[1] = offsetOf(backend, out);
    args[2] = outer;
    args[3] = reduced;
    args[4] = inner;
    context.addon.sum(backend.wasm.HEAPU8, args);
    return out;
  };
}

/** The output shares the input's memory, as on the cpu backend (the wasm kernel copies it). */
function createShare(context: NativeKernelContext, name: 'Identity' | 'Cast'): KernelFunc {
  const wasm = context.fallback(name);
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const dtype = (attrs as { dtype?: string } | undefined)?.dtype;
    if (x.dtype === 'string' || x.dtype === 'complex64' || (name === 'Cast' && dtype !== x.dtype)) return wasm(call);
    heapBackend(call.backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

export const binaryKernels: NativeKernel[] = (Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map((name) => ({
  kernelName: name,
  create: (context) => createBinary(context, name),
}));

export const unaryKernels: NativeKernel[] = (Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]).map((name) => ({
  kernelName: name,
  create: (context) => createUnary(context, name),
}));

export const sum: NativeKernel = { kernelName: 'Sum', create: createSum };
export const select: NativeKernel = { kernelName: 'Select', create: createSelect };
export const identity: NativeKernel = { kernelName: 'Identity', create: (context) => createShare(context, 'Identity') };
export const cast: NativeKernel = { kernelName: 'Cast', create: (context) => createShare(context, 'Cast') };
