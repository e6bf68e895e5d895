import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createCanvas } from '@napi-rs/canvas';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '@dlexp/core';
import { buildModel, createModelRegistries } from '@dlexp/layers';
import { encodeGraphDef } from './graph-def-binary';
import { intsAttr, stringAttr, type FrozenGraph, type HostTensor, type NodeDefJson } from './graph-def';
import { loadInferenceModel } from './load-model';
import { predict } from './predict';
import { checkPreprocessing, createPreprocessingSpec, readPreprocessing } from './preprocessing';
import { leakFree, saveLayersModel, tempDir } from './test-helpers';

const tmp = tempDir('foreign');
afterAll(tmp.cleanup);

const FLOAT = { type: 'DT_FLOAT' };
const KERNEL = [0.5, -1, 1, 0.25, -0.5, 2]; // [1, 1, 3, 2]: two filters over R, G, B
const WEIGHTS = [1, -1, 2, 0.5]; // [2, 2]

/**
 * A model from elsewhere in the course's style: it decodes JPEG bytes itself and normalizes them
 * as (pixel − 128) / 128 before `Mul:0`, whose shape the graph does not record.
 */
function foreignGraph(): FrozenGraph {
  const constants = new Map<string, HostTensor>([
    ['Sub/y', { dtype: 'float32', shape: [], values: Float32Array.of(128) }],
    ['Mul/y', { dtype: 'float32', shape: [], values: Float32Array.of(1 / 128) }],
    ['conv/kernel', { dtype: 'float32', shape: [1, 1, 3, 2], values: Float32Array.from(KERNEL) }],
    ['pool/axes', { dtype: 'int32', shape: [2], values: Int32Array.of(1, 2) }],
    ['logits/weights', { dtype: 'float32', shape: [2, 2], values: Float32Array.from(WEIGHTS) }],
  ]);
  const constant = (name: string): NodeDefJson => ({ name, op: 'Const', attr: { dtype: { type: constants.get(name)!.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } } });
  const node: NodeDefJson[] = [
    { name: 'DecodeJpeg/contents', op: 'Placeholder', attr: { dtype: { type: 'DT_STRING' }, shape: { shape: { dim: [] } } } },
    { name: 'DecodeJpeg', op: 'DecodeJpeg', input: ['DecodeJpeg/contents'], attr: { channels: { i: '3' } } },
    { name: 'Cast', op: 'Cast', input: ['DecodeJpeg'], attr: { SrcT: { type: 'DT_UINT8' }, DstT: FLOAT } },
    constant('Sub/y'),
    { name: 'Sub', op: 'Sub', input: ['Cast', 'Sub/y'], attr: { T: FLOAT } },
    constant('Mul/y'),
    { name: 'Mul', op: 'Mul', input: ['Sub', 'Mul/y'], attr: { T: FLOAT } },
    constant('conv/kernel'),
    { name: 'conv', op: 'Conv2D', input: ['Mul', 'conv/kernel'], attr: { T: FLOAT, strides: intsAttr([1, 1, 1, 1]), padding: stringAttr('SAME'), data_format: stringAttr('NHWC') } },
    constant('pool/axes'),
    { name: 'pool', op: 'Mean', input: ['conv', 'pool/axes'], attr: { T: FLOAT, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    constant('logits/weights'),
    { name: 'logits', op: 'MatMul', input: ['pool', 'logits/weights'], attr: { T: FLOAT } },
    { name: 'softmax', op: 'Softmax', input: ['logits'], attr: { T: FLOAT } },
  ];
  return { graph: { node, versions: { producer: 22 } }, constants };
}

function expectedForColor(rgb: [number, number, number]): number[] {
  const x = rgb.map((v) => (v - 128) / 128);
  const conv = [0, 1].map((f) => x[0]! * KERNEL[f]! + x[1]! * KERNEL[2 + f]! + x[2]! * KERNEL[4 + f]!);
  const logits = [0, 1].map((j) => conv[0]! * WEIGHTS[j]! + conv[1]! * WEIGHTS[2 + j]!);
  const max = Math.max(...logits);
  const exp = logits.map((l) => Math.exp(l - max));
  return exp.map((e) => e / (exp[0]! + exp[1]!));
}

function solidPng(file: string, rgb: [number, number, number], width: number, height: number): void {
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = `rgb(${rgb.join(',')})`;
  ctx.fillRect(0, 0, width, height);
  writeFileSync(file, canvas.toBuffer('image/png'));
}

describe('a frozen graph from elsewhere, fed after its own decoding', () => {
  const pb = join(tmp.dir, 'foreign.pb');
  writeFileSync(pb, encodeGraphDef(foreignGraph()));
  const labels = join(tmp.dir, 'labels.txt');
  writeFileSync(labels, 'warm\ncool\n');
  const colors: [string, [number, number, number]][] = [
    ['red.png', [250, 10, 20]],
    ['teal.png', [0, 128, 128]],
  ];
  for (const [name, rgb] of colors) solidPng(join(tmp.dir, name), rgb, 30, 20);

  it('classifies images at Mul:0 with the size, mean and std given as options', async () => {
    const results = await leakFree(() =>
      predict(pb, colors.map(([name]) => join(tmp.dir, name)), { input: 'Mul:0', output: 'softmax:0', size: 8, scale: 1, mean: 128, std: 128, labels }),
    );
    results.forEach((result, i) => {
      const expected = expectedForColor(colors[i]![1]);
      const byLabel = Object.fromEntries(result.predictions.map((p) => [p.label, p.probability]));
      expect(byLabel['warm']).toBeCloseTo(expected[0]!, 5);
      expect(byLabel['cool']).toBeCloseTo(expected[1]!, 5);
      expect(result.predictions[0]!.probability).toBeGreaterThanOrEqual(result.predictions[1]!.probability);
    });
  });

  it('asks for the size when the fed tensor has no recorded shape, and names the op the default path hits', async () => {
    await expect(predict(pb, [join(tmp.dir, 'red.png')], { input: 'Mul:0' })).rejects.toThrow(/input 'Mul:0': the input's image size cannot be told from its shape unknown; give the size/);
    await expect(predict(pb, [join(tmp.dir, 'red.png')])).rejects.toThrow(/TF\.js cannot run the op DecodeJpeg/);
  });
});

describe('preprocessing.json', () => {
  it('is written by createPreprocessingSpec for each normalize mode and checked on reading', () => {
    expect(createPreprocessingSpec({ inputShape: [28, 28, 1], normalize: 'unit', labels: ['a', 'b'] })).toEqual({
      version: 1,
      input: { shape: [28, 28, 1], dtype: 'float32' },
      image: { height: 28, width: 28, channels: 1, channelOrder: 'rgb' },
      normalize: { mode: 'unit', scale: 1 / 255, mean: [0], std: [1] },
      labels: ['a', 'b'],
    });
    expect(createPreprocessingSpec({ inputShape: [784], normalize: { mode: 'standardize', mean: 33.3, std: 78.6 }, image: { height: 28, width: 28, channels: 1 } }).normalize).toEqual({
      mode: 'standardize',
      scale: 1,
      mean: [33.3],
      std: [78.6],
    });
    expect(() => createPreprocessingSpec({ inputShape: [784], normalize: 'raw' })).toThrow(/needs the image's height, width and channels/);
    const problems = (() => {
      try {
        checkPreprocessing({ version: 2, input: { shape: [28, 28] }, image: { height: 28, width: 0, channels: 2 }, normalize: { scale: 1, mean: [0], std: [0] }, extra: 1 }, 'p.json');
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message.split('\n');
      }
      return [];
    })();
    expect(problems).toEqual([
      'p.json: extra: unknown key',
      'p.json: version: must be 1',
      'p.json: image.width: must be a positive integer',
      'p.json: image.channels: must be 1 or 3',
      'p.json: normalize.std: must not be 0',
    ]);
  });

  it('is read beside the model; a corrupt one is an error with its offset', () => {
    const dir = join(tmp.dir, 'pre');
    mkdirSync(dir, { recursive: true });
    expect(readPreprocessing(dir)).toBeUndefined();
    writeFileSync(join(dir, 'preprocessing.json'), '{"version": 1,\n "input": [}');
    expect(() => readPreprocessing(dir)).toThrow(/preprocessing\.json: byte 26 \(line 2, column 12\): not valid JSON: '}' where a value was expected/);
  });
});

describe('corrupt Layers models', () => {
  it('reports a broken model.json or a short weights.bin with file and offset', async () => {
    const { model } = buildModel({ input: { shape: [3] }, layers: [{ type: 'dense', units: 2 }] }, { seed: 1, registries: createModelRegistries() });
    const run = join(tmp.dir, 'run');
    await saveLayersModel(model, join(run, 'model'));
    model.dispose();
    const before = tf.memory().numTensors;
    const weights = join(run, 'model', 'weights.bin');
    const bytes = readFileSync(weights);
    writeFileSync(weights, bytes.subarray(0, 10));
    const short = await loadInferenceModel(run).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(short).toBeInstanceOf(DataError);
    expect(short?.message).toMatch(/weights\.bin: byte 0: truncated: weight 'dense_0\/kernel' needs 24 bytes, 10 are left in its shards/);
    writeFileSync(weights, bytes);
    const json = join(run, 'model', 'model.json');
    writeFileSync(json, readFileSync(json, 'utf8').replace('"modelTopology"', '"modelTopology" "x"'));
    await expect(loadInferenceModel(run)).rejects.toThrow(/model\.json: byte 17 \(line 1, column 18\): not valid JSON: '"' where ':' was expected/);
    writeFileSync(json, '{"format": "layers-model", "modelTopology": {"class_name": "Nonsense", "config": {}}, "weightsManifest": []}');
    await expect(loadInferenceModel(run)).rejects.toThrow(/model\.json: TF\.js cannot build the Layers model/);
    await expect(loadInferenceModel(join(tmp.dir, 'nowhere'))).rejects.toThrow(/nowhere: no such file or directory/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
