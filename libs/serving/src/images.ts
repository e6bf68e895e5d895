import * as tf from '@tensorflow/tfjs';
import { ConfigError, DataError } from '@dlexp/core';
import { decodeImage } from '@dlexp/data';
import type { PreprocessingSpec } from './preprocessing';

/**
 * From image files to a model's input: decode (PNG or JPEG), convert to the channels the model
 * takes, resize bilinearly (TensorFlow's ResizeBilinear: no corner alignment, no half-pixel
 * centres), map each value with (pixel · scale − mean) / std and reshape to the input's shape.
 */

/** Flags for models from elsewhere; each overrides what the model records. */
export interface ImageOptions {
  /** Height and width the image is resized to; one number for a square. */
  size?: number | [number, number];
  channels?: 1 | 3;
  /** `bgr` for models trained on BGR images (Caffe ports). */
  channelOrder?: 'rgb' | 'bgr';
  /** Pixels (0..255) are multiplied by this first; 1/255 gives [0, 1]. */
  scale?: number;
  /** Subtracted after scaling: one value, or one per channel. */
  mean?: number | number[];
  /** Divided by last: one value, or one per channel. */
  std?: number | number[];
}

export interface ImagePreprocessing {
  height: number;
  width: number;
  channels: 1 | 3;
  channelOrder: 'rgb' | 'bgr';
  scale: number;
  mean: number[];
  std: number[];
  /** One example as fed, without the batch axis. */
  exampleShape: number[];
  dtype: 'float32' | 'int32';
  /** Images per model call; fixed when the input's batch axis is. */
  batchSize: number;
  /** Whether the batch size is the model's (a short last batch is then padded). */
  fixedBatch: boolean;
}

const asList = (v: number | number[]) => (Array.isArray(v) ? [...v] : [v]);

/**
 * How images are prepared for a model whose input has `inputShape` (batch axis first, -1 where
 * unknown, undefined for an unknown rank): options first, then what the model records, then what
 * the shape says; pixels default to [0, 1] (scale 1/255) when nothing says otherwise.
 */
export function resolveImagePreprocessing(
  inputShape: number[] | undefined,
  dtype: 'float32' | 'int32' | 'bool' | 'string',
  recorded: PreprocessingSpec | undefined,
  options: ImageOptions,
  where: string,
  defaultBatchSize = 16,
): ImagePreprocessing {
  if (dtype !== 'float32' && dtype !== 'int32') throw new ConfigError(`${where}: the input takes ${dtype} values, not images`);
  const known = (d: number | undefined): d is number => d !== undefined && d > 0;
  const shape = inputShape;
  // What the shape tells: [batch, height, width, channels], or [batch, height, width] for gray images.
  const image = shape?.length === 4 ? { height: shape[1], width: shape[2], channels: shape[3] } : shape?.length === 3 ? { height: shape[1], width: shape[2], channels: 1 } : {};
  const size = options.size === undefined ? undefined : Array.isArray(options.size) ? options.size : [options.size, options.size];
  const height = size?.[0] ?? recorded?.image.height ?? (known(image.height) ? image.height : undefined);
  const width = size?.[1] ?? recorded?.image.width ?? (known(image.width) ? image.width : undefined);
  const channels = options.channels ?? recorded?.image.channels ?? (image.channels === 1 || image.channels === 3 ? image.channels : 3);
  if (height === undefined || width === undefined) {
    const shown = shape === undefined ? 'unknown' : `[${shape.join(', ')}]`;
    throw new ConfigError(`${where}: the input's image size cannot be told from its shape ${shown}; give the size (height and width)`);
  }
  const scale = options.scale ?? recorded?.normalize.scale ?? 1 / 255;
  const mean = options.mean !== undefined ? asList(options.mean) : (recorded?.normalize.mean ?? [0]);
  const std = options.std !== undefined ? asList(options.std) : (recorded?.normalize.std ?? [1]);
  for (const [name, list] of [['mean', mean], ['std', std]] as const) {
    if (list.length !== 1 && list.length !== channels) throw new ConfigError(`${where}: ${name} needs 1 or ${channels} values, got ${list.length}`);
  }
  if (std.some((s) => s === 0)) throw new ConfigError(`${where}: std must not be 0`);
  // One example as fed: the model's own shape where it is fully known, else what was recorded, else the image's.
  const exampleShape =
    shape !== undefined && shape.length > 1 && shape.slice(1).every(known)
      ? shape.slice(1)
      : (recorded?.input.shape ?? (shape?.length === 3 ? [height, width] : [height, width, channels]));
  const pixels = height * width * channels;
  const count = exampleShape.reduce((a, b) => a * b, 1);
  if (count !== pixels) {
    throw new ConfigError(
      `${where}: the input takes examples of shape [${exampleShape.join(', ')}] (${count} values), but a ${height}×${width} image with ${channels} channel${channels === 1 ? '' : 's'} has ${pixels}; give the size and channels it needs`,
    );
  }
  // An input of unknown rank (a tensor inside a graph, such as Inception's Mul:0) is fed one image at a time.
  const fixedBatch = shape === undefined || known(shape[0]);
  return {
    height,
    width,
    channels,
    channelOrder: options.channelOrder ?? recorded?.image.channelOrder ?? 'rgb',
    scale,
    mean,
    std,
    exampleShape,
    dtype: dtype === 'int32' ? 'int32' : (recorded?.input.dtype ?? 'float32'),
    batchSize: shape === undefined ? 1 : known(shape[0]) ? shape[0] : defaultBatchSize,
    fixedBatch,
  };
}

/** Width and height from a PNG's IHDR or a JPEG's frame header; undefined when they cannot be found. */
export function imageDimensions(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[12] === 0x49 && bytes[13] === 0x48) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = view.getUint16(at + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 9 > bytes.length) return undefined;
      return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    at += 2 + length;
  }
  return undefined;
}

/** Largest side an image is decoded at before TF's bilinear resize; larger photos are shrunk by the decoder first. */
const MAX_DECODE_SIDE = 4096;

/**
 * One image file as a [height, width, channels] float32 tensor, preprocessed. The caller disposes
 * it. A file that is not a readable PNG or JPEG is a DataError naming the file (and, where the
 * check finds one, the byte offset of the problem).
 */
export async function imageTensor(bytes: Uint8Array, file: string, pre: ImagePreprocessing): Promise<tf.Tensor3D> {
  const dims = imageDimensions(bytes);
  if (dims === undefined || dims.width === 0 || dims.height === 0) {
    // decodeImage checks the file and names what is wrong with it.
    await decodeImage(bytes, 1, 1, 3, 1, file);
    throw new DataError(`${file}: not a readable PNG or JPEG image: its size cannot be found`);
  }
  const shrink = Math.min(1, MAX_DECODE_SIDE / Math.max(dims.width, dims.height));
  const height = Math.max(1, Math.round(dims.height * shrink));
  const width = Math.max(1, Math.round(dims.width * shrink));
  const rgb = await decodeImage(bytes, height, width, 3, 1, file);
  return tf.tidy(() => {
    let image: tf.Tensor3D = tf.tensor3d(rgb, [height, width, 3]);
    if (height !== pre.height || width !== pre.width) image = tf.image.resizeBilinear(image, [pre.height, pre.width]);
    if (pre.channels === 1) image = tf.sum(tf.mul(image, tf.tensor1d([0.299, 0.587, 0.114])), -1, true);
    else if (pre.channelOrder === 'bgr') image = tf.reverse(image, -1);
    const mean = tf.tensor1d(pre.mean);
    const std = tf.tensor1d(pre.std);
    return tf.div(tf.sub(tf.mul(image, pre.scale), mean), std) as tf.Tensor3D;
  });
}

/** A batch of preprocessed images as the model's input: [batch, ...exampleShape], padded with zeros to a fixed batch size. */
export function batchTensor(images: readonly tf.Tensor3D[], pre: ImagePreprocessing): tf.Tensor {
  return tf.tidy(() => {
    const rows = pre.fixedBatch ? pre.batchSize : images.length;
    let batch = tf.stack(images as tf.Tensor3D[]);
    if (rows > images.length) batch = tf.concat([batch, tf.zeros([rows - images.length, ...batch.shape.slice(1)])]);
    const shaped = tf.reshape(batch, [rows, ...pre.exampleShape]);
    return pre.dtype === 'int32' ? tf.cast(tf.round(shaped), 'int32') : shaped;
  });
}
