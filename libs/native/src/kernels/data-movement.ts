/**
 * Slice, SplitV, Unpack and Concat as copies inside the heap (addon/copy.cc), a whole kernel's
 * boxes in one call. The wasm backend's Slice reads its entire input out into JavaScript first,
 * and its SplitV and Unpack call that Slice once per output: an LSTM over 28 rows (an Unpack of
 * its input, a SplitV of its gates every step) spent more time copying than multiplying there.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataType, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { NativeAddon } from '../addon';
import { heapBackend, offsetOf, sizeOf, type HeapBackend, type KernelArgs, type NativeKernel, type NativeKernelContext } from './kernel-context';

const BYTES: Partial<Record<DataType, number>> = { float32: 4, int32: 4, bool: 1 };
const MAX_RANK = 4;
const PER_BOX = 15;

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
  return strides;
}

/** The boxes of one kernel call, gathered into one argument array the addon reads at once. */
class Boxes {
  private values = new Float64Array(2 + PER_BOX * 32);
  private count = 0;

  reset(bytes: number): void {
    this.count = 0;
    this.values[1] = bytes;
  }

  /**
   * Adds a box of `dims` read with `srcStrides` from `src` and written with `dstStrides` at `dst`
   * (heap bytes). Neighbouring dims that run on contiguously in both are merged; returns false
   * when more than MAX_RANK dims remain.
   */
  add(src: number, dst: number, dims: number[], srcStrides: number[], dstStrides: number[]): boolean {
    const d: number[] = [];
    const s: number[] = [];
    const t: number[] = [];
    for (let i = 0; i < dims.length; i++) {
      if (dims[i] === 1) continue;
      const last = d.length - 1;
      if (last >= 0 && s[last] === srcStrides[i]! * dims[i]! && t[last] === dstStrides[i]! * dims[i]!) {
        d[last] = d[last]! * dims[i]!;
        s[last] = srcStrides[i]!;
        t[last] = dstStrides[i]!;
        continue;
      }
      d.push(dims[i]!);
      s.push(srcStrides[i]!);
      t.push(dstStrides[i]!);
    }
    if (d.length > MAX_RANK) return false;
    while (d.length < MAX_RANK) {
      d.unshift(1);
      s.unshift(0);
      t.unshift(0);
    }
    const at = 2 + PER_BOX * this.count;
    if (at + PER_BOX > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[at] = src;
    this.values[at + 1] = dst;
    this.values[at + 2] = MAX_RANK;
    this.values.set(d, at + 3);
    this.values.set(s, at + 7);
    this.values.set(t, at + 11);
    this.count++;
    return true;
  }

  run(addon: NativeAddon, backend: HeapBackend): void {
    this.values[0] = this.count;
    if (this.count > 0) addon.copyBoxes(backend.wasm.HEAPU8, this.values);
  }
}

/** One Boxes per process: kernels run one at a time. */
const boxes = new Boxes();

/** Frees outputs made before a box turned out not to fit (then the wasm kernel runs instead). */
function discard(backend: HeapBackend, outputs: TensorInfo[]): void {
  for (const out of outputs) backend.disposeData(out.dataId);
}

function createSlice(context: NativeKernelContext): KernelFunc {
  const wasm = context.fallback('Slice');
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const bytes = BYTES[x.dtype];
    const { begin, size } = (attrs ?? {}) as { begin: number | number[]; size?: number | number[] };
    if (bytes === undefined) return wasm(call);
    const [begin_, size_] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size) as [number[], number[]];
    if (sizeOf(size_) === 0) return wasm(call);
    const backend = heapBackend(call.backend);
    const strides = contiguousStrides(x.shape);
    const first = begin_.reduce((acc, b, d) => acc + b * strides[d]!, 0);
    boxes.reset(bytes);
    const source = offsetOf(backend, x) + first * bytes;
    const out = backend.makeOutput(size_, x.dtype);
    if (!boxes.add(source, offsetOf(backend, out), size_, strides, contiguousStrides(size_))) {
      discard(backend, [out]);
      return wasm(call);
    }
    boxes.run(context.addon, backend);
    return out;
  };
}

/** Splits along `axis` into pieces of `sizes` (SplitV), or into single slices dropping the axis (Unpack). */
function splitAlong(context: NativeKernelContext, call: Parameters<KernelFunc>[0], x: TensorInfo, axis: number, sizes: number[], dropAxis: boolean): TensorInfo[] | undefined {
  const bytes = BYTES[x.dtype];
  if (bytes === undefined || sizeOf(x.shape) === 0 || sizes.some((s) => s === 0)) return undefined;
  const backend = heapBackend(call.backend);
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const rowStride = x.shape[axis]! * inner;
  const base = offsetOf(backend, x);
  boxes.reset(bytes);
  const outputs: TensorInfo[] = [];
  let start = 0;
  for (const size of sizes) {
    const shape = [...x.shape];
    if (dropAxis) shape.splice(axis, 1);
    else shape[axis] = size;
    const out = backend.makeOutput(shape, x.dtype);
    outputs.push(out);
    boxes.add(base + start * inner * bytes, offsetOf(backend, out), [outer, size * inner], [rowStride, 1], [size * inner, 1]);
    start += size;
  }
  boxes.run(context.addon, backend);
  return outputs;
}

function createSplitV(context: NativeKernelContext): KernelFunc {
  const wasm = context.fallback('SplitV');
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x } = inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = (attrs ?? {}) as { numOrSizeSplits: number | number[]; axis: number };
    const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, $axis);
    return splitAlong(context, call, x, $axis, sizes, false) ?? wasm(call);
  };
}

function createUnpack(context: NativeKernelContext): KernelFunc {
  const wasm = context.fallback('Unpack');
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { value } = inputs as { value: TensorInfo };
    const axis = tf.util.parseAxisParam((attrs as { axis?: number } | undefined)?.axis ?? 0, value.shape)[0]!;
    const count = value.shape[axis]!;
    return splitAlong(context, call, value, axis, new Array<number>(count).fill(1), true) ?? wasm(call);
  };
}

function createConcat(context: NativeKernelContext): KernelFunc {
  const wasm = context.fallback('Concat');
  return (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const tensors = Object.values(inputs) as TensorInfo[];
    const first = tensors[0];
    if (first === undefined) return wasm(call);
    const bytes = BYTES[first.dtype];
    const axis = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, first.shape)[0]!;
    const parts = tensors.filter((t) => sizeOf(t.shape) > 0);
    if (bytes === undefined || parts.length < 2 || parts.some((t) => t.dtype !== first.dtype)) return wasm(call);
    const shapes = tensors.map((t) => t.shape);
    tf.backend_util.assertParamsConsistent(shapes, axis);
    const outShape = tf.backend_util.computeOutShape(shapes, axis);
    const backend = heapBackend(call.backend);
    const outer = sizeOf(outShape.slice(0, axis));
    const widths = parts.map((t) => sizeOf(t.shape.slice(axis)));
    const total = widths.reduce((a, b) => a + b, 0);
    const out = backend.makeOutput(outShape, first.dtype);
    const base = offsetOf(backend, out);
    boxes.reset(bytes);
    let column = 0;
    parts.forEach((t, i) => {
      const width = widths[i]!;
      boxes.add(offsetOf(backend, t), base + column * bytes, [outer, width], [width, 1], [total, 1]);
      column += width;
    });
    boxes.run(context.addon, backend);
    return out;
  };
}

export const slice: NativeKernel = { kernelName: 'Slice', create: createSlice };
export const splitV: NativeKernel = { kernelName: 'SplitV', create: createSplitV };
export const unpack: NativeKernel = { kernelName: 'Unpack', create: createUnpack };
export const concat: NativeKernel = { kernelName: 'Concat', create: createConcat };
