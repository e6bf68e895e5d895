import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '@dlexp/core';
import { buildModel, createModelRegistries, type ModelConfig } from '@dlexp/layers';
import { exportModel } from './export-model';
import { loadInferenceModel } from './load-model';
import { looksLikeProbabilities, predict, readLabelsFile, toProbabilities, type ImagePrediction } from './predict';
import { createPreprocessingSpec, writePreprocessing } from './preprocessing';
import { leakFree, mnistDigits, saveLayersModel, tempDir, writeDigitImage, type Digits } from './test-helpers';

const tmp = tempDir('predict');
afterAll(tmp.cleanup);
const registries = createModelRegistries();
const DIGIT_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

const TRAIN = 600;
const IMAGES = 12;

const cnn: ModelConfig = {
  input: { shape: [28, 28, 1] },
  layers: [
    { type: 'conv2d', name: 'conv1', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' },
    { type: 'maxPool', name: 'pool1', poolSize: 2 },
    // A short training run: the moving averages must follow the batches quickly.
    { type: 'batchNorm', name: 'norm1', momentum: 0.5 },
    { type: 'flatten', name: 'flat' },
    { type: 'dropout', name: 'drop', rate: 0.2 },
    { type: 'dense', name: 'logits', units: 10 },
  ],
};

const mlp: ModelConfig = {
  input: { shape: [784] },
  layers: [
    { type: 'dense', name: 'hidden', units: 32, activation: 'relu' },
    { type: 'dense', name: 'probabilities', units: 10, activation: 'softmax' },
  ],
};

/** Trains on the first TRAIN test digits (a few epochs: enough to be mostly right) and saves it as a run. */
async function trainRun(config: ModelConfig, digits: Digits, run: string, flat: boolean, outputs: 'logits' | 'probabilities'): Promise<tf.LayersModel> {
  const { model } = buildModel(config, { seed: 7, registries });
  const x = tf.tidy(() => tf.div(tf.tensor(digits.pixels.subarray(0, TRAIN * 784), flat ? [TRAIN, 784] : [TRAIN, 28, 28, 1], 'float32'), 255));
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(digits.labels.slice(0, TRAIN), 'int32'), 10));
  model.compile({
    optimizer: tf.train.adam(0.01),
    loss: outputs === 'logits' ? (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, logits) : 'categoricalCrossentropy',
  });
  await model.fit(x, y, { epochs: 8, batchSize: 50, verbose: 0, shuffle: false });
  tf.dispose([x, y]);
  await saveLayersModel(model, join(run, 'model'));
  const spec = createPreprocessingSpec({
    inputShape: flat ? [784] : [28, 28, 1],
    normalize: 'unit',
    labels: DIGIT_NAMES,
    ...(flat ? { image: { height: 28, width: 28, channels: 1 as const } } : {}),
  });
  writePreprocessing(join(run, 'model'), spec);
  return model;
}

/** What the Layers model itself says about digit `index`, as probabilities. */
function expectedProbabilities(model: tf.LayersModel, digits: Digits, index: number, flat: boolean, outputs: 'logits' | 'probabilities'): Float32Array {
  return tf.tidy(() => {
    const x = tf.div(tf.tensor(digits.pixels.subarray(index * 784, (index + 1) * 784), flat ? [1, 784] : [1, 28, 28, 1], 'float32'), 255);
    const out = Float32Array.from((model.predict(x) as tf.Tensor).dataSync());
    return toProbabilities(out, 10, outputs);
  });
}

function probabilityOf(prediction: ImagePrediction, label: string): number {
  return prediction.predictions.find((p) => p.label === label)!.probability;
}

describe('predict on images with the models this project trains', () => {
  let digits: Digits;
  const images = join(tmp.dir, 'images');
  const files: string[] = [];
  const models: Record<string, tf.LayersModel> = {};

  beforeAll(async () => {
    digits = await mnistDigits(TRAIN + IMAGES);
    mkdirSync(join(images, 'more'), { recursive: true });
    for (let i = 0; i < IMAGES; i++) {
      const index = TRAIN + i;
      // PNGs at MNIST's size (pixels exact), JPEGs, and PNGs at twice the size (resized back).
      const kind = i % 3 === 0 ? 'png' : i % 3 === 1 ? 'jpeg' : 'png';
      const size = i % 3 === 2 ? 56 : 28;
      const file = join(i < 6 ? images : join(images, 'more'), `digit-${String(i).padStart(2, '0')}.${kind === 'png' ? 'png' : 'jpg'}`);
      writeDigitImage(file, digits, index, kind, size);
      files.push(file);
    }
    files.sort();
    models['cnn'] = await trainRun(cnn, digits, join(tmp.dir, 'run-cnn'), false, 'logits');
    models['mlp'] = await trainRun(mlp, digits, join(tmp.dir, 'run-mlp'), true, 'probabilities');
    for (const name of ['cnn', 'mlp']) {
      await exportModel(join(tmp.dir, `run-${name}`), join(tmp.dir, `${name}-graph`), { format: 'graph-model' });
      await exportModel(join(tmp.dir, `run-${name}`), join(tmp.dir, `${name}-pb`), { format: 'frozen-pb' });
    }
    // Training on two shared cores can take minutes.
  }, 600_000);

  afterAll(() => {
    for (const model of Object.values(models)) model.dispose();
  });

  for (const [name, flat, outputs] of [['cnn', false, 'logits'], ['mlp', true, 'probabilities']] as const) {
    it(`${name}: the run, its graph model and its frozen pb classify PNG and JPEG files alike`, async () => {
      const sources = [join(tmp.dir, `run-${name}`), join(tmp.dir, `${name}-graph`, 'model.json'), join(tmp.dir, `${name}-pb`, 'model.pb')];
      const results = await leakFree(async () => {
        const all: ImagePrediction[][] = [];
        for (const source of sources) all.push(await predict(source, [images], { top: 10 }));
        return all;
      });
      const [layers, graph, pb] = results as [ImagePrediction[], ImagePrediction[], ImagePrediction[]];
      expect(layers.map((r) => r.file)).toEqual(files);
      let correct = 0;
      layers.forEach((result, i) => {
        const probabilities = result.predictions.map((p) => p.probability);
        expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
        expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        for (const other of [graph[i]!, pb[i]!]) {
          expect(other.file).toBe(result.file);
          expect(other.predictions[0]!.label).toBe(result.predictions[0]!.label);
          for (const label of DIGIT_NAMES) expect(Math.abs(probabilityOf(other, label) - probabilityOf(result, label))).toBeLessThan(1e-5);
        }
        if (result.predictions[0]!.label === DIGIT_NAMES[digits.labels[TRAIN + i]!]) correct++;
      });
      expect(correct).toBeGreaterThanOrEqual(IMAGES - 3);
      // A PNG at the model's size holds MNIST's bytes exactly: the same input as the model's own.
      for (const i of [0, 3, 6, 9]) {
        const expected = expectedProbabilities(models[name]!, digits, TRAIN + i, flat, outputs);
        DIGIT_NAMES.forEach((label, c) => expect(Math.abs(probabilityOf(layers[i]!, label) - expected[c]!)).toBeLessThan(1e-5));
      }
    });
  }

  it('loads once and predicts many times, with labels from a file and a top-k cut', async () => {
    const labels = join(tmp.dir, 'labels.txt');
    writeFileSync(labels, `${DIGIT_NAMES.map((n) => n.toUpperCase()).join('\n')}\n\n`);
    await leakFree(async () => {
      const model = await loadInferenceModel(join(tmp.dir, 'cnn-pb', 'model.pb'));
      try {
        expect(model.input).toEqual({ name: 'input:0', dtype: 'float32', shape: [-1, 28, 28, 1] });
        expect(model.output.name).toBe('logits:0');
        expect(model.preprocessing?.labels).toEqual(DIGIT_NAMES);
        const first = await predict(model, [files[0]!], { top: 2, labels });
        expect(first[0]!.predictions).toHaveLength(2);
        expect(first[0]!.predictions[0]!.label).toMatch(/^[A-Z]+$/);
        const again = await predict(model, [files[0]!, files[1]!], { top: 1 });
        expect(again[0]!.predictions[0]!.label.toUpperCase()).toBe(first[0]!.predictions[0]!.label);
      } finally {
        model.dispose();
      }
    });
  });

  it('chooses the output by name and rejects names the model does not have', async () => {
    const run = join(tmp.dir, 'run-cnn');
    await leakFree(async () => {
      const result = await predict(run, [files[0]!], { output: 'logits', top: 1 });
      expect(result[0]!.predictions).toHaveLength(1);
      await expect(predict(run, [files[0]!], { output: 'logit' })).rejects.toThrow(/no output 'logit'.*did you mean 'logits'/);
      await expect(predict(join(tmp.dir, 'cnn-pb', 'model.pb'), [files[0]!], { output: 'logit:0' })).rejects.toThrow(/no node 'logit' \(output\); did you mean 'logits'/);
    });
  });

  it('rejects corrupt and missing images with DataErrors naming the file', async () => {
    const bad = join(tmp.dir, 'bad');
    mkdirSync(bad, { recursive: true });
    const png = join(bad, 'truncated.png');
    writeDigitImage(png, digits, 0, 'png');
    const bytes = new Uint8Array(readFileSync(png));
    writeFileSync(png, bytes.subarray(0, 60));
    const text = join(bad, 'notes.jpg');
    writeFileSync(text, 'not an image at all');
    await leakFree(async () => {
      const model = await loadInferenceModel(join(tmp.dir, 'run-cnn'));
      try {
        const truncated = await predict(model, [png]).catch((e: unknown) => e);
        expect(truncated).toBeInstanceOf(DataError);
        expect((truncated as Error).message).toMatch(/truncated\.png: not a readable PNG or JPEG image: PNG truncated.*byte \d+/);
        await expect(predict(model, [text])).rejects.toThrow(/notes\.jpg: not a readable PNG or JPEG image/);
        await expect(predict(model, [join(bad, 'missing.png')])).rejects.toThrow(DataError);
        await expect(predict(model, [join(tmp.dir, 'run-cnn', 'model')])).rejects.toThrow(/holds no PNG or JPEG file/);
      } finally {
        model.dispose();
      }
    });
  });

  it('asks for the image size when the model cannot tell it', async () => {
    await leakFree(async () => {
      const model = await loadInferenceModel(join(tmp.dir, 'cnn-pb', 'model.pb'));
      try {
        const strange = { ...model, preprocessing: undefined, input: { ...model.input, shape: [-1, 784] } };
        await expect(predict(strange, [files[0]!])).rejects.toThrow(ConfigError);
        await expect(predict(strange, [files[0]!])).rejects.toThrow(/image size cannot be told from its shape \[-1, 784\]/);
        await expect(predict(strange, [files[0]!], { size: 28, channels: 3 })).rejects.toThrow(/a 28×28 image with 3 channels has 2352/);
      } finally {
        model.dispose();
      }
    });
  });
});

describe('output handling', () => {
  it('tells probabilities from logits and applies softmax to logits', () => {
    expect(looksLikeProbabilities(Float32Array.of(0.2, 0.8, 0.5, 0.5), 2)).toBe(true);
    expect(looksLikeProbabilities(Float32Array.of(0.2, 0.7, 0.5, 0.5), 2)).toBe(false);
    expect(looksLikeProbabilities(Float32Array.of(2, -1), 2)).toBe(false);
    const p = toProbabilities(Float32Array.of(1, 2, 3, 1000, 1000, 1000), 3, 'logits');
    expect(Array.from(p.subarray(0, 3)).map((v) => v.toFixed(4))).toEqual(['0.0900', '0.2447', '0.6652']);
    expect(Array.from(p.subarray(3)).map((v) => v.toFixed(4))).toEqual(['0.3333', '0.3333', '0.3333']);
    expect(toProbabilities(Float32Array.of(0), 1, 'logits')[0]).toBeCloseTo(0.5);
  });

  it('reads labels from text and JSON files', () => {
    const dir = join(tmp.dir, 'labels');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'cat\r\ndog\n\n');
    writeFileSync(join(dir, 'b.json'), '["cat", "dog"]');
    writeFileSync(join(dir, 'c.json'), '{"1": "dog", "0": "cat"}');
    writeFileSync(join(dir, 'd.json'), '["cat", ');
    writeFileSync(join(dir, 'e.txt'), '\n');
    expect(readLabelsFile(join(dir, 'a.txt'))).toEqual(['cat', 'dog']);
    expect(readLabelsFile(join(dir, 'b.json'))).toEqual(['cat', 'dog']);
    expect(readLabelsFile(join(dir, 'c.json'))).toEqual(['cat', 'dog']);
    expect(() => readLabelsFile(join(dir, 'd.json'))).toThrow(/d\.json: byte 8 \(line 1, column 9\): not valid JSON/);
    expect(() => readLabelsFile(join(dir, 'e.txt'))).toThrow(/empty/);
    expect(() => readLabelsFile(join(dir, 'none.txt'))).toThrow(DataError);
  });
});
