import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { callKernel, withScratch, pair, assertChannelsLast, shape4, cropForNegativePadding, explicitPad, type DisposingBackend, type PadAttr, type RoundingMode, type Pair } from './kernel-utils';

/**
 * dx = a stride-1 Conv2D of dy, spread out by the stride (zeros between rows and columns) and
 * padded, with the filter flipped in space and its in/out channels swapped. XNNPACK runs it;
 * the stock wasm kernel is a naive loop.
 */
export function conv2DBackpropInput(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
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
