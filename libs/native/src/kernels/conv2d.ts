/**
 * Conv2D, FusedConv2D, Conv2DBackpropInput and Conv2DBackpropFilter on oneDNN (addon/conv.cc).
 * The geometry is TF.js's own (backend_util.computeConv2DInfo), so padding, strides, dilations
 * and rounding modes mean exactly what they mean on the other backends.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import {
  ACTIVATION_CODES,
  channelsLast,
  heapBackend,
  nativeFloat32,
  offsetOf,
  pair,
  present,
  sizeOf,
  type KernelArgs,
  type NativeKernel,
  type NativeKernelContext,
} from './kernel-context';

type PadAttr = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

interface ConvAttrs {
  strides: number | [number, number];
  pad: PadAttr;
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: RoundingMode;
  activation?: string;
  leakyreluAlpha?: number;
  inputShape?: Shape4;
  filterShape?: Shape4;
}

/** Writes the geometry (args 4..20) of a convolution; returns false when the addon cannot run it. */
function writeGeometry(args: Float64Array, xShape: Shape4, filterShape: Shape4, attrs: ConvAttrs): boolean {
  if (!channelsLast(attrs.dataFormat) || xShape.length !== 4 || filterShape.length !== 4) return false;
  const strides = pair(attrs.strides, 1);
  const dilations = pair(attrs.dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, dilations, attrs.pad, attrs.dimRoundingMode);
  if (info.outHeight <= 0 || info.outWidth <= 0) return false;
  const { padInfo } = info;
  // oneDNN wants the padding that makes its output-size formula hold exactly; TF.js's rounding
  // modes can ask for one more output row than the padding it records yields (that row reads
  // only padding), and VALID with a stride can leave input rows unused (zero padding suffices).
  const needBottom = (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - info.inHeight - padInfo.top;
  const needRight = (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - info.inWidth - padInfo.left;
  args[4] = info.batchSize;
  args[5] = info.inHeight;
  args[6] = info.inWidth;
  args[7] = info.inChannels;
  args[8] = info.outChannels;
  args[9] = info.filterHeight;
  args[10] = info.filterWidth;
  args[11] = info.outHeight;
  args[12] = info.outWidth;
  args[13] = info.strideHeight;
  args[14] = info.strideWidth;
  args[15] = info.dilationHeight;
  args[16] = info.dilationWidth;
  args[17] = padInfo.top;
  args[18] = padInfo.left;
  args[19] = Math.max(padInfo.bottom, needBottom);
  args[20] = Math.max(padInfo.right, needRight);
  args[21] = 0;
  args[22] = 0;
  return padInfo.top >= 0 && padInfo.left >= 0;
}

function outShape(args: Float64Array): Shape4 {
  return [args[4]!, args[11]!, args[12]!, args[8]!];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function createConv2D(context: NativeKernelContext, name: 'Conv2D' | 'FusedConv2D'): KernelFunc {
  const wasm = context.fallback(name);
  return (call) => {
    const { inputs, attrs: rawAttrs } = call as KernelArgs;
    const { x, filter, bias, preluActivationWeights } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo | null; preluActivationWeights?: TensorInfo | null };
    const attrs = (rawAttrs ?? {}) as unknown as ConvAttrs;
    const args = context.args;
    const activation = attrs.activation ?? 'linear';
    const code = ACTIVATION_CODES[activation];
    const hasBias = present(bias);
    if (
      !nativeFloat32(x, filter) ||
      code === undefined ||
      activation === 'prelu' ||
      present(preluActivationWeights) ||
      !writeGeometry(args, x.shape as Shape4, filter.shape as Shape4, attrs) ||
      (hasBias && (bias.dtype !== 'float32' || sizeOf(bias.shape) !== args[8] || bias.shape[bias.shape.length - 1] !== args[8]))
    ) {
      return wasm(call);
    }
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput(outShape(args), 'float32');
    args[0] = offsetOf(backend, x);
    args[1] = offsetOf(backend, filter);
    args[2] = offsetOf(backend, out);
    args[3] = hasBias ? offsetOf(backend, bias) : -1;
    args[21] = code;
    args[22] = attrs.leakyreluAlpha ?? 0.2;
    context.addon.conv2d(backend.wasm.HEAPU8, args);
    return out;
  };
}

export const conv2D: NativeKernel = { kernelName: 'Conv2D', create: (context) => createConv2D(context, 'Conv2D') };
export const fusedConv2D: NativeKernel = { kernelName: 'FusedConv2D', create: (context) => createConv2D(context, 'FusedConv2D') };

export const conv2DBackpropInput: NativeKernel = {
  kernelName: 'Conv2DBackpropInput',
  create(context) {
    const wasm = context.fallback('Conv2DBackpropInput');
    return (call) => {
      const { inputs, attrs: rawAttrs } = call as KernelArgs;
      const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
      const attrs = (rawAttrs ?? {}) as unknown as ConvAttrs;
      const args = context.args;
      const inputShape = attrs.inputShape;
      if (inputShape === undefined || sizeOf(inputShape) === 0 || !nativeFloat32(dy, filter) || !writeGeometry(args, inputShape, filter.shape as Shape4, attrs) || !sameShape(dy.shape, outShape(args))) {
        return wasm(call);
      }
      const backend = heapBackend(call.backend);
      const out = backend.makeOutput([...inputShape], 'float32');
      args[0] = offsetOf(backend, dy);
      args[1] = offsetOf(backend, filter);
      args[2] = offsetOf(backend, out);
      args[3] = -1;
      context.addon.conv2dBackpropInput(backend.wasm.HEAPU8, args);
      return out;
    };
  },
};

export const conv2DBackpropFilter: NativeKernel = {
  kernelName: 'Conv2DBackpropFilter',
  create(context) {
    const wasm = context.fallback('Conv2DBackpropFilter');
    return (call) => {
      const { inputs, attrs: rawAttrs } = call as KernelArgs;
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const attrs = (rawAttrs ?? {}) as unknown as ConvAttrs;
      const args = context.args;
      const filterShape = attrs.filterShape;
      if (filterShape === undefined || sizeOf(filterShape) === 0 || !nativeFloat32(x, dy) || !writeGeometry(args, x.shape as Shape4, filterShape, attrs) || !sameShape(dy.shape, outShape(args))) {
        return wasm(call);
      }
      const backend = heapBackend(call.backend);
      const out = backend.makeOutput([...filterShape], 'float32');
      args[0] = offsetOf(backend, x);
      args[1] = offsetOf(backend, dy);
      args[2] = offsetOf(backend, out);
      args[3] = -1;
      context.addon.conv2dBackpropFilter(backend.wasm.HEAPU8, args);
      return out;
    };
  },
};
