import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { callKernel, withScratch, pair, assertChannelsLast, shape4, cropForNegativePadding, explicitPad, type DisposingBackend, type PadAttr, type RoundingMode, type Pair } from './kernel-utils';

/**
 * dW[kh, kw, ci, co] = sum over (b, oh, ow) of x[b, oh*s + kh*d - padTop, ow*s + kw*d - padLeft, ci] * dy[b, oh, ow, co].
 *
 * Read with the batch as the channel axis this is itself a convolution: input x as [ci, h, w, b],
 * filter dy as [oh, ow, b, co], with the roles of stride and dilation swapped. One XNNPACK Conv2D
 * then does all the arithmetic; the transposes around it move only the input and output once.
 */
export function conv2DBackpropFilter(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
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
