/** Helpers shared by the wasm training kernels: calling kernels directly, scratch tensors, conv geometry. */
import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

export const BACKEND = 'wasm';

export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
export type PadAttr = 'valid' | 'same' | number | ExplicitPadding;
export type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;
export type Pair = [number, number];

/** The part of a kernel backend these compositions use: freeing intermediates. */
export interface DisposingBackend {
  disposeData(dataId: object): boolean;
}

/** Calls the kernel currently registered on wasm under `name`, bypassing the engine (no tape, no tracking). */
export function callKernel(name: string, backend: DisposingBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) throw new Error(`wasm kernel ${name} is not registered`);
  return single(config.kernelFunc({ inputs, backend, attrs }), name);
}

export function single(out: TensorInfo | TensorInfo[], name: string): TensorInfo {
  if (Array.isArray(out)) {
    if (out.length !== 1) throw new Error(`kernel ${name} returned ${out.length} outputs, expected 1`);
    return out[0]!;
  }
  return out;
}

/**
 * Runs `body` with a scratch list; everything pushed onto it is freed afterwards, except the
 * returned tensor. Keeps the compositions below leak-free even when a step throws.
 */
export function withScratch(backend: DisposingBackend, body: (keep: (t: TensorInfo) => TensorInfo) => TensorInfo): TensorInfo {
  const scratch: TensorInfo[] = [];
  let result: TensorInfo | undefined;
  try {
    result = body((t) => {
      scratch.push(t);
      return t;
    });
    return result;
  } finally {
    for (const t of scratch) if (t !== result) backend.disposeData(t.dataId);
  }
}

export function pair(value: number | number[] | undefined, fallback: number): Pair {
  if (value === undefined) return [fallback, fallback];
  if (typeof value === 'number') return [value, value];
  return [value[0] ?? fallback, value[1] ?? value[0] ?? fallback];
}

export function assertChannelsLast(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports only NHWC (channelsLast) data, got ${String(dataFormat)}`);
  }
}

export function shape4(shape: number[]): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`expected a rank-4 shape, got [${shape.join(', ')}]`);
  return shape as [number, number, number, number];
}

/**
 * Slices `x` (rank 4, NHWC) so that the rows/columns a convolution would need negative padding for
 * are cut off instead: XNNPACK accepts only non-negative padding. Returns the tensor (possibly
 * unchanged) and the remaining non-negative paddings.
 */
export function cropForNegativePadding(
  backend: DisposingBackend,
  keep: (t: TensorInfo) => TensorInfo,
  x: TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
): { x: TensorInfo; pads: { top: number; bottom: number; left: number; right: number } } {
  const [n, h, w, c] = shape4(x.shape);
  const cropTop = Math.max(0, -pads.top);
  const cropBottom = Math.max(0, -pads.bottom);
  const cropLeft = Math.max(0, -pads.left);
  const cropRight = Math.max(0, -pads.right);
  const positive = {
    top: Math.max(0, pads.top),
    bottom: Math.max(0, pads.bottom),
    left: Math.max(0, pads.left),
    right: Math.max(0, pads.right),
  };
  if (cropTop + cropBottom + cropLeft + cropRight === 0) return { x, pads: positive };
  const cropped = keep(
    callKernel('Slice', backend, { x }, {
      begin: [0, cropTop, cropLeft, 0],
      size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c],
    }),
  );
  return { x: cropped, pads: positive };
}

export function explicitPad(p: { top: number; bottom: number; left: number; right: number }): ExplicitPadding {
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}
