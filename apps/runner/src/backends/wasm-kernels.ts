/**
 * Training kernels for the TF.js wasm backend.
 *
 * The wasm backend ships without Conv2DBackpropFilter, so a CNN cannot train on it at all; its
 * BatchMatMul and Conv2DBackpropInput run naive loops where XNNPACK would be 10-50x faster (only an
 * untransposed, unbatched matmul and Conv2D reach XNNPACK); and two stock kernels give wrong
 * results in cases (MaxPoolGrad, OneHot with a float dtype). Every kernel here is a composition of
 * the backend's own kernels, the heavy ones XNNPACK's, plus data movement (Transpose, Reverse,
 * Slice, Reshape, PadV2), called directly as kernel functions so nothing is recorded on the
 * gradient tape and every intermediate is freed before the kernel returns.
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

function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return perm;
}

/**
 * Whether (B^T A^T)^T moves less data than A B for an (m x k)(k x n) product: count the elements
 * each way transposes and XNNPACK packs (its right operand, on every call since weights change
 * every step). Backward matmuls such as dX = dY W^T (m = batch, n = fan-in) gain the most.
 */
function swappedIsCheaper(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): boolean {
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + k * n;
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + m * n + k * m;
  return swapped < direct;
}

/** Below this many multiply-adds per batch entry, one XNNPACK call per entry costs more than the naive loop saves. */
const MIN_WORK_PER_BATCH_ENTRY = 1 << 15;

/**
 * Wraps a matmul kernel (BatchMatMul or _FusedMatMul) so it reaches XNNPACK, which the stock
 * kernel uses only for an untransposed matmul of one batch entry:
 * - transposed operands are transposed up front (a cheap copy next to the matmul), or the product
 *   is computed transposed when that moves less data;
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
    const activation = (attrs as { activation?: string }).activation;
    const plain = !present(inputs.bias) && (activation === undefined || activation === 'linear');
    if (plain && batchA === 1 && batchB === 1 && swappedIsCheaper(m, k, n, transposeA, transposeB)) {
      return withScratch(backend, (keep) => {
        // C = A B computed as (B^T A^T)^T: XNNPACK packs its right operand on every call, and here
        // that is A^T (k x m) instead of B (k x n), with smaller transposes around it.
        const bt = transposeB ? b : keep(callKernel('Transpose', backend, { x: b }, { perm: swapLastTwo(b.shape.length) }));
        const at = transposeA ? a : keep(callKernel('Transpose', backend, { x: a }, { perm: swapLastTwo(a.shape.length) }));
        const left = keep(callKernel('Reshape', backend, { x: bt }, { shape: [1, n, k] }));
        const right = keep(callKernel('Reshape', backend, { x: at }, { shape: [1, k, m] }));
        const outT = keep(single(original({ inputs: { a: left, b: right }, backend, attrs: untransposed }), name));
        const out = keep(callKernel('Transpose', backend, { x: outT }, { perm: [0, 2, 1] }));
        return callKernel('Reshape', backend, { x: out }, { shape: outShape });
      });
    }
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

/**
 * Places x (NHWC) in a frame of frameH x frameW rows/columns starting at (top, left): rows and
 * columns outside x get `fill`, and those of x past the frame are cut.
 */
function toFrame(
  backend: DisposingBackend,
  keep: (t: TensorInfo) => TensorInfo,
  x: TensorInfo,
  at: { top: number; left: number; height: number; width: number },
  fill: number,
): TensorInfo {
  const [n, h, w, c] = shape4(x.shape);
  const rows = Math.min(h, at.height - at.top);
  const cols = Math.min(w, at.width - at.left);
  const inside = rows === h && cols === w ? x : keep(callKernel('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [n, rows, cols, c] }));
  const paddings = [
    [0, 0],
    [at.top, at.height - at.top - rows],
    [at.left, at.width - at.left - cols],
    [0, 0],
  ];
  if (paddings.every(([before, after]) => before === 0 && after === 0)) return inside;
  return keep(callKernel('PadV2', backend, { x: inside }, { paddings, constantValue: fill }));
}

/** The inverse of toFrame for a gradient: x's rows and columns of the frame, zero where the frame did not reach. */
function fromFrame(
  backend: DisposingBackend,
  keep: (t: TensorInfo) => TensorInfo,
  framed: TensorInfo,
  at: { top: number; left: number },
  xShape: [number, number, number, number],
): TensorInfo {
  const [n, h, w, c] = xShape;
  const [, frameH, frameW] = framed.shape as [number, number, number, number];
  const rows = Math.min(h, frameH - at.top);
  const cols = Math.min(w, frameW - at.left);
  const cut = keep(callKernel('Slice', backend, { x: framed }, { begin: [0, at.top, at.left, 0], size: [n, rows, cols, c] }));
  if (rows === h && cols === w) return cut;
  return keep(callKernel('PadV2', backend, { x: cut }, { paddings: [[0, 0], [0, h - rows], [0, w - cols], [0, 0]], constantValue: 0 }));
}

/**
 * MaxPoolGrad: each window's gradient goes to its first maximum in row-major order, the rule of
 * the cpu backend. The stock wasm kernel breaks ties otherwise and, when the windows do not tile
 * the input exactly (7x7 with 2x2 windows), drops some gradients altogether.
 * The input is framed (padding as -Infinity, so never a maximum), each window's values are laid
 * side by side, ArgMax + OneHot make the mask, and the masked dy goes back to its positions:
 * - windows that tile the frame (stride = window): one reshape/transpose each way, no copies per tap;
 * - overlapping windows: one strided slice per tap, and one strided scatter (spread + pad) per tap
 *   summed with AddN.
 */
function maxPoolGrad(original: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as DisposingBackend;
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const attrs = (args.attrs ?? {}) as { filterSize: number | Pair; strides: number | Pair; pad: PadAttr; dimRoundingMode?: RoundingMode };
    if (input.dtype !== 'float32' || input.shape.length !== 4) return original(args);
    const xShape = shape4(input.shape);
    const info = tf.backend_util.computePool2DInfo(xShape, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    const { batchSize: n, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    const at = { top: info.padInfo.top, left: info.padInfo.left, height: (oh - 1) * sh + fh, width: (ow - 1) * sw + fw };
    const taps = fh * fw;
    return withScratch(backend, (keep) => {
      const framed = toFrame(backend, keep, input, at, -Infinity);
      const maskOf = (byTap: TensorInfo) => {
        // byTap: [..., taps] with the taps in row-major window order, so ArgMax finds the first maximum.
        const first = keep(callKernel('ArgMax', backend, { x: byTap }, { axis: byTap.shape.length - 1 }));
        const ints = keep(callKernel('OneHot', backend, { indices: first }, { depth: taps, onValue: 1, offValue: 0, dtype: 'int32' }));
        const mask = keep(callKernel('Cast', backend, { x: ints }, { dtype: 'float32' }));
        const dyColumn = keep(callKernel('Reshape', backend, { x: dy }, { shape: [n, oh, ow, c, 1] }));
        return keep(callKernel('Multiply', backend, { a: mask, b: dyColumn }));
      };
      let gradFrame: TensorInfo;
      if (sh === fh && sw === fw) {
        const six = keep(callKernel('Reshape', backend, { x: framed }, { shape: [n, oh, fh, ow, fw, c] }));
        const byWindow = keep(callKernel('Transpose', backend, { x: six }, { perm: [0, 1, 3, 5, 2, 4] }));
        const byTap = keep(callKernel('Reshape', backend, { x: byWindow }, { shape: [n, oh, ow, c, taps] }));
        const masked = keep(callKernel('Reshape', backend, { x: maskOf(byTap) }, { shape: [n, oh, ow, c, fh, fw] }));
        const back = keep(callKernel('Transpose', backend, { x: masked }, { perm: [0, 1, 4, 2, 5, 3] }));
        gradFrame = keep(callKernel('Reshape', backend, { x: back }, { shape: [n, at.height, at.width, c] }));
      } else {
        const tapViews: TensorInfo[] = [];
        for (let kh = 0; kh < fh; kh++) {
          for (let kw = 0; kw < fw; kw++) {
            tapViews.push(
              keep(
                callKernel('StridedSlice', backend, { x: framed }, {
                  begin: [0, kh, kw, 0],
                  end: [n, kh + (oh - 1) * sh + 1, kw + (ow - 1) * sw + 1, c],
                  strides: [1, sh, sw, 1],
                  beginMask: 0,
                  endMask: 0,
                  ellipsisMask: 0,
                  newAxisMask: 0,
                  shrinkAxisMask: 0,
                }),
              ),
            );
          }
        }
        const byTap = keep(callKernel('Pack', backend, tapViews as unknown as NamedTensorInfoMap, { axis: 4 }));
        const masked = maskOf(byTap);
        const unpack = tf.getKernel('Unpack', BACKEND)!.kernelFunc({ inputs: { value: masked }, backend, attrs: { axis: 4 } });
        const perTap = (Array.isArray(unpack) ? unpack : [unpack]).map(keep);
        const placed = perTap.map((g, k) => {
          const kh = Math.floor(k / fw);
          const kw = k % fw;
          let spread = g;
          if (sh > 1 || sw > 1) {
            // Row i of the tap's gradient belongs at frame row kh + i * sh: spread by the stride.
            const six = keep(callKernel('Reshape', backend, { x: g }, { shape: [n, oh, 1, ow, 1, c] }));
            const gaps = keep(
              callKernel('PadV2', backend, { x: six }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 }),
            );
            const wide = keep(callKernel('Reshape', backend, { x: gaps }, { shape: [n, oh * sh, ow * sw, c] }));
            spread = keep(callKernel('Slice', backend, { x: wide }, { begin: [0, 0, 0, 0], size: [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c] }));
          }
          return toFrame(backend, keep, spread, { top: kh, left: kw, height: at.height, width: at.width }, 0);
        });
        gradFrame = keep(callKernel('AddN', backend, placed as unknown as NamedTensorInfoMap));
      }
      return fromFrame(backend, keep, gradFrame, at, xShape);
    });
  };
}

/**
 * OneHot with a float dtype: the stock kernel writes int32 bit patterns whatever dtype it is asked
 * for, so float32 one-hot labels come out as 1.4e-45 instead of 1. Build the int32 0/1 mask with it
 * and form `mask * on + (1 - mask) * off` in float32, which gives exactly `on` and `off`.
 */
function fixedOneHot(original: KernelFunc): KernelFunc {
  return (args) => {
    const attrs = (args.attrs ?? {}) as { dtype?: string; depth: number; onValue?: number; offValue?: number };
    if (attrs.dtype === undefined || attrs.dtype === 'int32') return original(args);
    const backend = args.backend as DisposingBackend;
    const onValue = attrs.onValue ?? 1;
    const offValue = attrs.offValue ?? 0;
    return withScratch(backend, (keep) => {
      const ints = keep(single(original({ ...args, attrs: { ...attrs, dtype: 'int32', onValue: 1, offValue: 0 } }), 'OneHot'));
      const mask = keep(callKernel('Cast', backend, { x: ints }, { dtype: 'float32' }));
      // The returned tensor is never freed by withScratch, kept or not.
      if (onValue === 1 && offValue === 0) return mask;
      const scalar = (value: number) => keep(callKernel('Fill', backend, {}, { shape: [], value, dtype: 'float32' }));
      const on = keep(callKernel('Multiply', backend, { a: mask, b: scalar(onValue) }));
      const inverse = keep(callKernel('Sub', backend, { a: scalar(1), b: mask }));
      const off = keep(callKernel('Multiply', backend, { a: inverse, b: scalar(offValue) }));
      return callKernel('Add', backend, { a: on, b: off });
    });
  };
}

/** Kernel functions defined here, to recognise our own registrations (registering is idempotent). */
const ours = new WeakSet<KernelFunc>();
/** The stock configs we replaced, to restore them. */
const replaced = new Map<string, KernelConfig>();

export interface WasmKernelOptions {
  /**
   * Also replace the stock kernels that take a naive path (BatchMatMul, _FusedMatMul,
   * Conv2DBackpropInput, MaxPoolGrad; the last also drops gradients in cases). Off only to
   * measure the stock kernels against these.
   */
  fastPaths?: boolean;
}

/** The kernels this module adds to wasm because the backend has none. */
export const ADDED_WASM_KERNELS = ['Conv2DBackpropFilter'] as const;
/** Stock wasm kernels with a wrong result that this module wraps (always, unlike the fast paths). */
export const FIXED_WASM_KERNELS = ['OneHot'] as const;
/** The stock wasm kernels this module replaces with XNNPACK-backed compositions. */
export const REPLACED_WASM_KERNELS = ['BatchMatMul', '_FusedMatMul', 'Conv2DBackpropInput', 'MaxPoolGrad'] as const;

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
  const oneHot = tf.getKernel('OneHot', BACKEND);
  if (oneHot !== undefined && !ours.has(oneHot.kernelFunc)) {
    tf.unregisterKernel('OneHot', BACKEND);
    register('OneHot', fixedOneHot(oneHot.kernelFunc), oneHot);
  }
  if (!fastPaths) {
    restoreStockWasmKernels();
    return;
  }
  for (const name of REPLACED_WASM_KERNELS) {
    const current = tf.getKernel(name, BACKEND);
    if (current === undefined || ours.has(current.kernelFunc)) continue;
    replaced.set(name, current);
    const replacement =
      name === 'Conv2DBackpropInput'
        ? (conv2DBackpropInput as KernelFunc)
        : name === 'MaxPoolGrad'
          ? maxPoolGrad(current.kernelFunc)
          : fastMatMul(current.kernelFunc, name);
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
