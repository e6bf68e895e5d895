/**
 * Training kernels for the TF.js wasm backend.
 *
 * The wasm backend ships without Conv2DBackpropFilter, so a CNN cannot train on it at all, and its
 * BatchMatMul and Conv2DBackpropInput run naive loops where XNNPACK would be 10-50x faster: only an
 * untransposed, unbatched matmul and Conv2D reach XNNPACK. Every kernel here is therefore a
 * composition of those two fast kernels plus cheap data movement (Transpose, Reverse, Slice,
 * Reshape, PadV2), called directly as kernel functions so nothing is recorded on the gradient tape
 * and every intermediate is freed before the kernel returns.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

const BACKEND = 'wasm';

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
type PadAttr = 'valid' | 'same' | number | ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;
type Pair = [number, number];

/** The part of a kernel backend these compositions use: freeing intermediates. */
interface DisposingBackend {
  disposeData(dataId: object): boolean;
}

/** Calls the kernel currently registered on wasm under `name`, bypassing the engine (no tape, no tracking). */
function callKernel(name: string, backend: DisposingBackend, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  const config = tf.getKernel(name, BACKEND);
  if (config === undefined) throw new Error(`wasm kernel ${name} is not registered`);
  return single(config.kernelFunc({ inputs, backend, attrs }), name);
}

function single(out: TensorInfo | TensorInfo[], name: string): TensorInfo {
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
function withScratch(backend: DisposingBackend, body: (keep: (t: TensorInfo) => TensorInfo) => TensorInfo): TensorInfo {
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

function pair(value: number | number[] | undefined, fallback: number): Pair {
  if (value === undefined) return [fallback, fallback];
  if (typeof value === 'number') return [value, value];
  return [value[0] ?? fallback, value[1] ?? value[0] ?? fallback];
}

function assertChannelsLast(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports only NHWC (channelsLast) data, got ${String(dataFormat)}`);
  }
}

function shape4(shape: number[]): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`expected a rank-4 shape, got [${shape.join(', ')}]`);
  return shape as [number, number, number, number];
}

/**
 * Slices `x` (rank 4, NHWC) so that the rows/columns a convolution would need negative padding for
 * are cut off instead: XNNPACK accepts only non-negative padding. Returns the tensor (possibly
 * unchanged) and the remaining non-negative paddings.
 */
function cropForNegativePadding(
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

function explicitPad(p: { top: number; bottom: number; left: number; right: number }): ExplicitPadding {
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}

/**
 * dW[kh, kw, ci, co] = sum over (b, oh, ow) of x[b, oh*s + kh*d - padTop, ow*s + kw*d - padLeft, ci] * dy[b, oh, ow, co].
 *
 * Read with the batch as the channel axis this is itself a convolution: input x as [ci, h, w, b],
 * filter dy as [oh, ow, b, co], with the roles of stride and dilation swapped. One XNNPACK Conv2D
 * then does all the arithmetic; the transposes around it move only the input and output once.
 */
function conv2DBackpropFilter(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as DisposingBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = (args.attrs ?? {}) as {
    strides: number | Pair;
    pad: PadAttr;
    dataFormat?: string;
    dimRoundingMode?: RoundingMode;
    filterShape: [number, number, number, number];
    dilations?: number | Pair;
  };
  assertChannelsLast('Conv2DBackpropFilter', attrs.dataFormat);
  const [strideH, strideW] = pair(attrs.strides, 1);
  const [dilationH, dilationW] = pair(attrs.dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(
    shape4(x.shape),
    attrs.filterShape,
    [strideH, strideW],
    [dilationH, dilationW],
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  return withScratch(backend, (keep) => {
    const xT = keep(callKernel('Transpose', backend, { x }, { perm: [3, 1, 2, 0] }));
    const dyT = keep(callKernel('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }));
    // Padding that makes the output exactly filterHeight x filterWidth: the window (dy, dilated by
    // the stride) must slide filterHeight times with step = the dilation.
    const needH = (filterHeight - 1) * dilationH + (outHeight - 1) * strideH + 1;
    const needW = (filterWidth - 1) * dilationW + (outWidth - 1) * strideW + 1;
    const { x: input, pads } = cropForNegativePadding(backend, keep, xT, {
      top: info.padInfo.top,
      bottom: needH - inHeight - info.padInfo.top,
      left: info.padInfo.left,
      right: needW - inWidth - info.padInfo.left,
    });
    const dwT = keep(
      callKernel('Conv2D', backend, { x: input, filter: dyT }, {
        strides: [dilationH, dilationW],
        dilations: [strideH, strideW],
        pad: explicitPad(pads),
        dataFormat: 'NHWC',
      }),
    );
    return callKernel('Transpose', backend, { x: dwT }, { perm: [1, 2, 0, 3] });
  });
}

/**
 * dx = a stride-1 Conv2D of dy, spread out by the stride (zeros between rows and columns) and
 * padded, with the filter flipped in space and its in/out channels swapped. XNNPACK runs it;
 * the stock wasm kernel is a naive loop.
 */
function conv2DBackpropInput(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const backend = args.backend as DisposingBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = (args.attrs ?? {}) as {
    strides: number | Pair;
    pad: PadAttr;
    dataFormat?: string;
    dimRoundingMode?: RoundingMode;
    inputShape: [number, number, number, number];
    dilations?: number | Pair;
  };
  assertChannelsLast('Conv2DBackpropInput', attrs.dataFormat);
  const [strideH, strideW] = pair(attrs.strides, 1);
  const [dilationH, dilationW] = pair(attrs.dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    shape4(filter.shape),
    [strideH, strideW],
    [dilationH, dilationW],
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, outHeight, outWidth, outChannels, effectiveFilterHeight, effectiveFilterWidth } = info;
  return withScratch(backend, (keep) => {
    let spread = dy;
    let spreadH = outHeight;
    let spreadW = outWidth;
    if (strideH > 1 || strideW > 1) {
      // [b, oh, 1, ow, 1, c] padded to [b, oh, sh, ow, sw, c] and folded back: row oh lands on
      // oh * sh with sh - 1 zero rows after it (the trailing zeros are trimmed by the padding below).
      const six = keep(callKernel('Reshape', backend, { x: dy }, { shape: [batchSize, outHeight, 1, outWidth, 1, outChannels] }));
      const padded = keep(
        callKernel('PadV2', backend, { x: six }, {
          paddings: [
            [0, 0],
            [0, 0],
            [0, strideH - 1],
            [0, 0],
            [0, strideW - 1],
            [0, 0],
          ],
          constantValue: 0,
        }),
      );
      spreadH = outHeight * strideH;
      spreadW = outWidth * strideW;
      spread = keep(callKernel('Reshape', backend, { x: padded }, { shape: [batchSize, spreadH, spreadW, outChannels] }));
    }
    const top = effectiveFilterHeight - 1 - info.padInfo.top;
    const left = effectiveFilterWidth - 1 - info.padInfo.left;
    // The output must be inHeight rows: spreadH + top + bottom - effectiveFilterHeight + 1 = inHeight.
    const { x: input, pads } = cropForNegativePadding(backend, keep, spread, {
      top,
      bottom: inHeight - 1 + effectiveFilterHeight - spreadH - top,
      left,
      right: inWidth - 1 + effectiveFilterWidth - spreadW - left,
    });
    const flipped = keep(callKernel('Reverse', backend, { x: filter }, { dims: [0, 1] }));
    const swapped = keep(callKernel('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] }));
    return callKernel('Conv2D', backend, { x: input, filter: swapped }, {
      strides: [1, 1],
      dilations: [dilationH, dilationW],
      pad: explicitPad(pads),
      dataFormat: 'NHWC',
    });
  });
}

/** Optional kernel inputs arrive as undefined or null depending on the op that built them. */
function present(t: TensorInfo | null | undefined): t is TensorInfo {
  return t !== undefined && t !== null;
}

/** Below this many multiply-adds per batch entry, one XNNPACK call per entry costs more than the naive loop saves. */
const MIN_WORK_PER_BATCH_ENTRY = 1 << 15;

/**
 * Wraps a matmul kernel (BatchMatMul or _FusedMatMul) so it reaches XNNPACK, which the stock
 * kernel uses only for an untransposed matmul of one batch entry:
 * - transposed operands are transposed up front (a cheap copy next to the matmul);
 * - a batch of `a` against one `b` is folded into the rows of one matmul;
 * - a batch against a batch runs one matmul per entry. The stock kernel also adds a fused bias
 *   wrongly when both operands are batched, so that case always goes this way.
 */
function fastMatMul(original: KernelFunc, name: string): KernelFunc {
  return (args) => {
    const backend = args.backend as DisposingBackend;
    const inputs = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo | null; preluActivationWeights?: TensorInfo | null };
    const { a, b } = inputs;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const unusual =
      a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2 || present(inputs.preluActivationWeights);
    if (unusual) return original(args);
    const batchA = a.shape.slice(0, -2).reduce((p, s) => p * s, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, s) => p * s, 1);
    const m = a.shape[a.shape.length - (transposeA ? 1 : 2)]!;
    const k = a.shape[a.shape.length - (transposeA ? 2 : 1)]!;
    const n = b.shape[b.shape.length - (transposeB ? 2 : 1)]!;
    const bothBatched = batchA > 1 && batchB > 1;
    if (bothBatched && (batchA !== batchB || (!present(inputs.bias) && m * k * n < MIN_WORK_PER_BATCH_ENTRY))) return original(args);
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return original(args);
    const outShape = [...(batchA >= batchB ? a.shape : b.shape).slice(0, -2), m, n];
    const untransposed = { ...attrs, transposeA: false, transposeB: false };
    return withScratch(backend, (keep) => {
      // As [batch, rows, cols] with the transposes done, so each entry is a plain matmul.
      const asBatchOf = (t: TensorInfo, batch: number, transpose: boolean, rows: number, cols: number): TensorInfo => {
        const three = keep(callKernel('Reshape', backend, { x: t }, { shape: transpose ? [batch, cols, rows] : [batch, rows, cols] }));
        return transpose ? keep(callKernel('Transpose', backend, { x: three }, { perm: [0, 2, 1] })) : three;
      };
      const left = asBatchOf(a, batchA, transposeA, m, k);
      const right = asBatchOf(b, batchB, transposeB, k, n);
      let out: TensorInfo;
      if (!bothBatched) {
        // One b for every entry of a: stack a's entries as rows of a single matmul.
        const rows = keep(callKernel('Reshape', backend, { x: left }, { shape: [1, batchA * m, k] }));
        out = keep(single(original({ inputs: { ...args.inputs, a: rows, b: right }, backend, attrs: untransposed }), name));
      } else {
        const parts: TensorInfo[] = [];
        for (let i = 0; i < batchA; i++) {
          const ai = keep(callKernel('Slice', backend, { x: left }, { begin: [i, 0, 0], size: [1, m, k] }));
          const bi = keep(callKernel('Slice', backend, { x: right }, { begin: [i, 0, 0], size: [1, k, n] }));
          parts.push(keep(single(original({ inputs: { ...args.inputs, a: ai, b: bi }, backend, attrs: untransposed }), name)));
        }
        out = keep(callKernel('Concat', backend, parts as unknown as NamedTensorInfoMap, { axis: 0 }));
      }
      return callKernel('Reshape', backend, { x: out }, { shape: outShape });
    });
  };
}

/** Kernel functions defined here, to recognise our own registrations (registering is idempotent). */
const ours = new WeakSet<KernelFunc>();
/** The stock configs we replaced, to restore them. */
const replaced = new Map<string, KernelConfig>();

export interface WasmKernelOptions {
  /**
   * Also replace the stock kernels that work but take a naive path (BatchMatMul, _FusedMatMul,
   * Conv2DBackpropInput). Off only to measure the stock kernels against these.
   */
  fastPaths?: boolean;
}

/** The kernels this module adds to wasm because the backend has none. */
export const ADDED_WASM_KERNELS = ['Conv2DBackpropFilter'] as const;
/** The stock wasm kernels this module replaces with XNNPACK-backed compositions. */
export const REPLACED_WASM_KERNELS = ['BatchMatMul', '_FusedMatMul', 'Conv2DBackpropInput'] as const;

function register(kernelName: string, kernelFunc: KernelFunc, base?: KernelConfig): void {
  ours.add(kernelFunc);
  const config: KernelConfig = { kernelName, backendName: BACKEND, kernelFunc };
  // The stock kernel's setup binds its wasm export; our wrapper calls that kernel, so keep it.
  if (base?.setupFunc !== undefined) config.setupFunc = base.setupFunc;
  if (base?.disposeFunc !== undefined) config.disposeFunc = base.disposeFunc;
  tf.registerKernel(config);
}

/**
 * Registers the training kernels on 'wasm'. Call after importing @tensorflow/tfjs-backend-wasm
 * (its import registers the stock kernels we wrap). Safe to call again.
 */
export function registerWasmTrainingKernels(options: WasmKernelOptions = {}): void {
  const fastPaths = options.fastPaths ?? true;
  if (tf.getKernel('Conv2D', BACKEND) === undefined) {
    throw new Error('the wasm backend is not loaded: import @tensorflow/tfjs-backend-wasm first');
  }
  const filterKernel = tf.getKernel('Conv2DBackpropFilter', BACKEND);
  if (filterKernel === undefined) register('Conv2DBackpropFilter', conv2DBackpropFilter as KernelFunc);
  if (!fastPaths) {
    restoreStockWasmKernels();
    return;
  }
  for (const name of REPLACED_WASM_KERNELS) {
    const current = tf.getKernel(name, BACKEND);
    if (current === undefined || ours.has(current.kernelFunc)) continue;
    replaced.set(name, current);
    const replacement = name === 'Conv2DBackpropInput' ? (conv2DBackpropInput as KernelFunc) : fastMatMul(current.kernelFunc, name);
    // registerKernel refuses a name that is taken, so the stock kernel goes first.
    tf.unregisterKernel(name, BACKEND);
    register(name, replacement, current);
  }
}

/** Puts back the stock kernels replaced by registerWasmTrainingKernels (added kernels stay). */
export function restoreStockWasmKernels(): void {
  for (const [name, config] of replaced) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && ours.has(current.kernelFunc)) tf.unregisterKernel(name, BACKEND);
    if (tf.getKernel(name, BACKEND) === undefined) tf.registerKernel(config);
  }
  replaced.clear();
}

/** Whether each replaced kernel is currently ours: lets tests and the bench say what they ran. */
export function wasmFastPathsActive(): boolean {
  return REPLACED_WASM_KERNELS.every((name) => {
    const k = tf.getKernel(name, BACKEND);
    return k !== undefined && ours.has(k.kernelFunc);
  });
}
