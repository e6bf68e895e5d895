/**
 * What every native kernel shares: the addon, the one argument block they fill in place, the
 * wasm kernels to fall back to for cases the addon does not cover, and access to the wasm heap.
 */
import type { DataType, KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import type { NativeAddon } from '../addon';
import type { DeferredProducts } from '../deferred';

/** The parts of TF.js's BackendWasm the native kernels use. */
export interface HeapBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  /** The native instance's deferred products (deferred.ts). */
  products?: DeferredProducts;
}

export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

export interface NativeKernelContext {
  addon: NativeAddon;
  /**
   * The argument block every call fills (heap offsets, shapes, attributes): one array for the
   * process, so a call allocates nothing. Kernels run one at a time on the JavaScript thread.
   */
  args: Float64Array;
  /** The wasm kernel registered under `name` when the native backend was registered. */
  fallback(name: string): KernelFunc;
}

/** A native kernel: its name and how to build its function from the shared context. */
export interface NativeKernel {
  kernelName: string;
  /**
   * The addon function the kernel needs when an addon built from older sources may lack it: the
   * kernel is then not registered, and layers compose TF.js operations instead.
   */
  requires?: keyof NativeAddon;
  create(context: NativeKernelContext): KernelFunc;
}

export function nativeKernelConfig(kernel: NativeKernel, backendName: string, context: NativeKernelContext): KernelConfig {
  return { kernelName: kernel.kernelName, backendName, kernelFunc: kernel.create(context) };
}

export function heapBackend(backend: unknown): HeapBackend {
  return backend as HeapBackend;
}

/** A tensor's byte offset in the wasm heap. */
export function offsetOf(backend: HeapBackend, tensor: TensorInfo): number {
  const data = backend.dataIdMap.get(tensor.dataId);
  if (data === undefined) throw new Error('native kernel: a tensor input is not stored on this backend');
  return data.memoryOffset;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/** Whether the native path can take these tensors: float32 and not empty. */
export function nativeFloat32(...tensors: TensorInfo[]): boolean {
  return tensors.every((t) => t.dtype === 'float32' && sizeOf(t.shape) > 0);
}

/** Optional inputs arrive as undefined or null depending on the op that built them. */
export function present(t: TensorInfo | null | undefined): t is TensorInfo {
  return t !== undefined && t !== null;
}

export function pair(value: number | number[] | undefined, fallback: number): [number, number] {
  if (value === undefined) return [fallback, fallback];
  if (typeof value === 'number') return [value, value];
  return [value[0] ?? fallback, value[1] ?? value[0] ?? fallback];
}

export function channelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

/** TF.js's fused activations, by the codes the addon uses (addon/activation.h). */
export const ACTIVATION_CODES: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  prelu: 6,
};
