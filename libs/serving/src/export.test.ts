import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { buildModel, createModelRegistries, type GraphModelConfig } from '@dlexp/layers';
import { decodeGraphDef, encodeGraphDef } from './graph-def-binary';
import type { FrozenGraph } from './graph-def';
import { exportModel } from './export-model';
import { inspectGraph } from './inspect';
import { layersModelToGraph } from './layers-to-graph';
import { graphModelArtifacts } from './load-model';
import { readBytes, readGraphModel } from './model-files';
import { isSupportedOp } from './tfjs-ops';
import { saveLayersModel, tempDir } from './test-helpers';

const tmp = tempDir('export');
afterAll(tmp.cleanup);
const registries = createModelRegistries();

/** Runs a frozen graph through tfjs-converter with every input fed; returns the outputs' values. */
async function runGraph(frozen: FrozenGraph, feeds: Record<string, tf.Tensor>, outputs: string[]): Promise<Float32Array[]> {
  const model = await tf.loadGraphModel(tf.io.fromMemory(graphModelArtifacts(frozen)));
  try {
    const result = model.execute(feeds, outputs);
    const list = Array.isArray(result) ? result : [result];
    const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
    tf.dispose(list);
    return values;
  } finally {
    model.dispose();
  }
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Every layer type of the registry (and every activation) in one two-input, two-head model. */
const everyLayer: GraphModelConfig = {
  inputs: { image: { shape: [9, 9, 3] }, tokens: { shape: [6], dtype: 'int32' } },
  nodes: [
    { type: 'conv2d', name: 'conv1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputs: ['image'] },
    { type: 'batchNorm', name: 'norm1' },
    { type: 'activation', name: 'gelu1', activation: 'gelu' },
    { type: 'maxPool', name: 'pool1', poolSize: 2, padding: 'same' },
    { type: 'conv2d', name: 'conv2', filters: 6, kernelSize: [2, 3], strides: [1, 2], activation: 'elu' },
    { type: 'avgPool', name: 'pool2', poolSize: 2, strides: 1, padding: 'same' },
    { type: 'conv2d', name: 'conv3', filters: 6, kernelSize: 1, activation: 'leakyRelu', inputs: ['pool2'] },
    { type: 'add', name: 'residual', inputs: ['pool2', 'conv3'] },
    { type: 'globalAvgPool', name: 'gap', inputs: ['residual'] },
    { type: 'flatten', name: 'flat', inputs: ['residual'] },
    { type: 'dense', name: 'dense1', units: 12, activation: 'selu' },
    { type: 'dropout', name: 'drop1', rate: 0.4 },
    { type: 'reshape', name: 'reshape1', targetShape: [3, 4] },
    { type: 'dense', name: 'dense3d', units: 5, activation: 'softplus' },
    { type: 'flatten', name: 'flat2' },
    { type: 'embedding', name: 'embed', inputDim: 20, outputDim: 4, inputs: ['tokens'] },
    { type: 'lstm', name: 'lstm1', units: 5, returnSequences: true },
    { type: 'gru', name: 'gru1', units: 3, activation: 'sigmoid', recurrentActivation: 'tanh' },
    { type: 'lstm', name: 'lstm2', units: 2, inputs: ['embed'] },
    { type: 'concatenate', name: 'joined', inputs: ['gap', 'flat2', 'gru1', 'lstm2'] },
    { type: 'dense', name: 'logits', units: 7 },
    { type: 'dense', name: 'probs', units: 3, activation: 'softmax', inputs: ['joined'] },
  ],
  outputs: { logits: 'logits', probs: 'probs' },
};

function randomizeBatchNorm(model: tf.LayersModel): void {
  const layer = model.getLayer('norm1');
  const channels = 4;
  const values = [tf.randomUniform([channels], 0.5, 1.5, 'float32', 1), tf.randomUniform([channels], -0.5, 0.5, 'float32', 2), tf.randomUniform([channels], -1, 1, 'float32', 3), tf.randomUniform([channels], 0.2, 2, 'float32', 4)];
  layer.setWeights(values);
  tf.dispose(values);
}

describe('layersModelToGraph', () => {
  it('computes what the Layers model computes, for every layer type, in both formats (within 1e-5)', async () => {
    const built = buildModel(everyLayer, { seed: 3, registries });
    randomizeBatchNorm(built.model);
    const image = tf.randomNormal([4, 9, 9, 3], 0, 1, 'float32', 5);
    const tokens = tf.tensor2d([[1, 2, 3, 4, 5, 6], [0, 19, 7, 7, 3, 1], [5, 5, 5, 5, 5, 5], [19, 18, 17, 16, 15, 14]], [4, 6], 'int32');
    const expected = (built.model.predict([image, tokens]) as tf.Tensor[]).map((t) => {
      const v = Float32Array.from(t.dataSync());
      t.dispose();
      return v;
    });
    const before = tf.memory().numTensors;
    const exported = layersModelToGraph(built.model);
    expect(exported.inputs.map((i) => i.tensor)).toEqual(['image:0', 'tokens:0']);
    expect(exported.outputs.map((o) => o.tensor)).toEqual(['logits:0', 'probs:0']);
    const ops = new Set(exported.frozen.graph.node.map((n) => n.op));
    for (const op of ['Conv2D', 'BiasAdd', 'MaxPool', 'AvgPool', 'Mean', 'MatMul', 'Reshape', 'GatherV2', 'Unpack', 'Split', 'Pack', 'ConcatV2', 'AddV2', 'Softmax', 'Erf']) {
      expect(ops, op).toContain(op);
    }
    for (const op of ops) expect(isSupportedOp(op), op).toBe(true);

    const feeds = { image, tokens };
    const viaGraphModel = await runGraph(exported.frozen, feeds, ['logits:0', 'probs:0']);
    const viaPb = await runGraph(decodeGraphDef(encodeGraphDef(exported.frozen), 'model.pb'), feeds, ['logits', 'probs']);
    for (const outputs of [viaGraphModel, viaPb]) {
      expect(maxDifference(outputs[0]!, expected[0]!)).toBeLessThan(1e-5);
      expect(maxDifference(outputs[1]!, expected[1]!)).toBeLessThan(1e-5);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([image, tokens]);
    built.model.dispose();
  });

  it('exports the layers of Keras models converted to TF.js (MobileNet and Inception style) within 1e-5', async () => {
    const input = tf.input({ shape: [10, 10, 3], name: 'pixels' });
    const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor;
    let x = apply(tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]], name: 'pad' }), input);
    x = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, useBias: false, name: 'stem' }), x);
    x = apply(tf.layers.batchNormalization({ scale: false, name: 'stem_bn' }), x);
    x = apply(tf.layers.reLU({ maxValue: 6, name: 'stem_relu6' }), x);
    x = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 'dw' }), x);
    x = apply(tf.layers.leakyReLU({ alpha: 0.1, name: 'leaky' }), x);
    x = apply(tf.layers.separableConv2d({ filters: 5, kernelSize: 2, padding: 'same', name: 'sep' }), x);
    x = apply(tf.layers.elu({ name: 'elu' }), x);
    x = apply(tf.layers.reLU({ maxValue: 0.7, name: 'capped' }), x);
    x = apply(tf.layers.permute({ dims: [2, 1, 3], name: 'swap' }), x);
    x = apply(tf.layers.globalMaxPooling2d({ name: 'gmp' }), x);
    x = apply(tf.layers.dense({ units: 4, activation: 'hardSigmoid', name: 'hard' }), x);
    x = apply(tf.layers.dense({ units: 3, activation: 'swish', name: 'sw' }), x);
    const output = apply(tf.layers.softmax({ name: 'probabilities' }), x);
    const model = tf.model({ inputs: input, outputs: output });
    const before = tf.memory().numTensors;
    const bn = model.getLayer('stem_bn');
    const stats = [tf.randomUniform([4], -1, 1, 'float32', 1), tf.randomUniform([4], -1, 1, 'float32', 2), tf.randomUniform([4], 0.2, 2, 'float32', 3)];
    bn.setWeights(stats);
    tf.dispose(stats);
    const image = tf.randomNormal([3, 10, 10, 3], 0, 1, 'float32', 9);
    const expected = tf.tidy(() => Float32Array.from((model.predict(image) as tf.Tensor).dataSync()));
    const exported = layersModelToGraph(model);
    for (const op of new Set(exported.frozen.graph.node.map((n) => n.op))) expect(isSupportedOp(op), op).toBe(true);
    const [got] = await runGraph(decodeGraphDef(encodeGraphDef(exported.frozen), 'keras.pb'), { pixels: image }, ['probabilities']);
    expect(maxDifference(got!, expected)).toBeLessThan(1e-5);
    tf.dispose(image);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('exports a saved run model to both formats with the weights as constants', async () => {
    const built = buildModel(
      { input: { shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'tanh', name: 'hidden' }, { type: 'dense', units: 2, name: 'out' }] },
      { seed: 1, registries },
    );
    const run = join(tmp.dir, 'run');
    await saveLayersModel(built.model, join(run, 'model'));
    const before = tf.memory().numTensors;
    const graphModel = await exportModel(run, join(tmp.dir, 'gm'), { format: 'graph-model' });
    const pb = await exportModel(run, join(tmp.dir, 'pb'), { format: 'frozen-pb' });
    expect(tf.memory().numTensors).toBe(before);
    expect(graphModel.files.map((f) => f.slice(tmp.dir.length))).toEqual(['/gm/model.json', '/gm/group1-shard1of1.bin']);
    expect(pb.files.map((f) => f.slice(tmp.dir.length))).toEqual(['/pb/model.pb']);
    expect(graphModel.ops).toMatchObject({ Placeholder: 1, Const: 4, MatMul: 2, BiasAdd: 2, Tanh: 1, Identity: 1 });

    const { frozen, json } = readGraphModel(join(tmp.dir, 'gm', 'model.json'));
    expect(json.format).toBe('graph-model');
    expect(json.signature?.outputs?.['out']?.name).toBe('out:0');
    const fromPb = decodeGraphDef(readBytes(join(tmp.dir, 'pb', 'model.pb')), 'model.pb');
    expect(fromPb.graph.node.map((n) => n.name)).toEqual(frozen.graph.node.map((n) => n.name));
    const kernel = (built.model.getLayer('hidden').getWeights()[0]!.dataSync() as Float32Array).slice();
    expect(Array.from(frozen.constants.get('hidden/kernel')!.values as Float32Array)).toEqual(Array.from(kernel));
    expect(Array.from(fromPb.constants.get('hidden/kernel')!.values as Float32Array)).toEqual(Array.from(kernel));

    for (const [path, format] of [[run, 'layers-model'], [join(tmp.dir, 'gm'), 'graph-model'], [join(tmp.dir, 'pb', 'model.pb'), 'frozen-pb']] as const) {
      const inspection = await inspectGraph(path);
      expect(inspection.format).toBe(format);
      expect(inspection.inputs).toEqual([{ name: 'input:0', dtype: 'float32', shape: [-1, 4] }]);
      expect(inspection.outputs).toEqual([{ name: 'out:0', op: 'Identity' }]);
      expect(inspection.unsupportedOps).toEqual([]);
      expect(inspection.constants).toEqual({ count: 4, values: 4 * 3 + 3 + 3 * 2 + 2 });
    }
    expect(tf.memory().numTensors).toBe(before);
    await expect(exportModel(run, join(tmp.dir, 'gm'), { format: 'graph-model' })).rejects.toThrow(/already exists/);
    await expect(exportModel(join(tmp.dir, 'gm'), join(tmp.dir, 'again'), { format: 'frozen-pb' })).rejects.toThrow(/is a graph-model; export takes a Layers model/);
    built.model.dispose();
  });

  it('names the layer it cannot export', () => {
    const before = tf.memory().numTensors;
    const input = tf.input({ shape: [6, 3] });
    const output = tf.layers.conv1d({ filters: 2, kernelSize: 2, name: 'c1d' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: output });
    expect(() => layersModelToGraph(model)).toThrow(ConfigError);
    expect(() => layersModelToGraph(model)).toThrow(/layer 'c1d' \(Conv1D\): no TensorFlow export/);
    const seq = tf.input({ shape: [null, 3] });
    const lstm = tf.layers.lstm({ units: 2, name: 'open_lstm' }).apply(seq) as tf.SymbolicTensor;
    const recurrent = tf.model({ inputs: seq, outputs: lstm });
    expect(() => layersModelToGraph(recurrent)).toThrow(/layer 'open_lstm' \(LSTM\): needs a known number of time steps/);
    model.dispose();
    recurrent.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
