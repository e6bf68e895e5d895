/**
 * MaxPool, AvgPool and their gradients over NHWC data (addon/pool.cc), with the cpu backend's
 * rules: the gradient of a max goes to the first maximum of its window; an average's gradient is
 * dy / (filterHeight * filterWidth) at every position of the window.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { heapBackend, nativeFloat32, offsetOf, type KernelArgs, type NativeKernel, type NativeKernelContext } from './kernel-context';

type Shape4 = [number, number, number, number];

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Writes the geometry from `first` on; returns the output shape, or undefined when the addon cannot run it. */
function writeGeometry(args: Float64Array, first: number, x: TensorInfo, attrs: PoolAttrs): Shape4 | undefined {
  if (x.shape.length !== 4) return undefined;
  const info = tf.backend_util.computePool2DInfo(x.shape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  if (info.outHeight <= 0 || info.outWidth <= 0 || info.padInfo.top < 0 || info.padInfo.left < 0) return undefined;
  const values = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
  args.set(values, first);
  return [info.batchSize, info.outHeight, info.outWidth, info.inChannels];
}

function createPool(context: NativeKernelContext, name: 'MaxPool' | 'AvgPool'): KernelFunc {
  const wasm = context.fallback(name);
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const args = context.args;
    const shape = nativeFloat32(x) ? writeGeometry(args, 2, x, attrs as unknown as PoolAttrs) : undefined;
    if (shape === undefined) return wasm(call);
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput(shape, 'float32');
    args[0] = offsetOf(backend, x);
    args[1] = offsetOf(backend, out);
    if (name === 'MaxPool') context.addon.maxPool(backend.wasm.HEAPU8, args);
    else context.addon.avgPool(backend.wasm.HEAPU8, args);
    return out;
  };
}

function createPoolGrad(context: NativeKernelContext, name: 'MaxPoolGrad' | 'AvgPoolGrad'): KernelFunc {
  const wasm = context.fallback(name);
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const args = context.args;
    const shape = nativeFloat32(dy, input) ? writeGeometry(args, 3, input, attrs as unknown as PoolAttrs) : undefined;
    if (shape === undefined || !shape.every((d, i) => d === dy.shape[i])) return wasm(call);
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput([...input.shape], 'float32');
    args[0] = offsetOf(backend, input);
    args[1] = offsetOf(backend, dy);
    args[2] = offsetOf(backend, out);
    if (name === 'MaxPoolGrad') context.addon.maxPoolGrad(backend.wasm.HEAPU8, args);
    else context.addon.avgPoolGrad(backend.wasm.HEAPU8, args);
    return out;
  };
}

export const maxPool: NativeKernel = { kernelName: 'MaxPool', create: (context) => createPool(context, 'MaxPool') };
export const avgPool: NativeKernel = { kernelName: 'AvgPool', create: (context) => createPool(context, 'AvgPool') };
export const maxPoolGrad: NativeKernel = { kernelName: 'MaxPoolGrad', create: (context) => createPoolGrad(context, 'MaxPoolGrad') };
export const avgPoolGrad: NativeKernel = { kernelName: 'AvgPoolGrad', create: (context) => createPoolGrad(context, 'AvgPoolGrad') };
