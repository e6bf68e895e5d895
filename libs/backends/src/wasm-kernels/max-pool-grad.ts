import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { BACKEND, callKernel, withScratch, shape4, type DisposingBackend, type PadAttr, type RoundingMode, type Pair } from './kernel-utils';

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
export function maxPoolGrad(original: KernelFunc): KernelFunc {
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
