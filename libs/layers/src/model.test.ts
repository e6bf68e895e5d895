import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import {
  buildModel,
  createModelRegistries,
  createRandomContext,
  formatModelSummary,
  modelSummary,
  outputDependencies,
  regularizationPenalty,
  trainableVariables,
  type GraphModelConfig,
  type ModelConfig,
  type SequentialModelConfig,
} from './index';

const registries = createModelRegistries();
const build = (config: ModelConfig, seed = 1, random = createRandomContext()) =>
  buildModel(config, { seed, registries, random });

/** Runs `body`, disposes what it built, and checks that no tensor outlives it. */
function leakFree(body: () => tf.LayersModel[] | void): void {
  const before = tf.memory().numTensors;
  const models = body() ?? [];
  for (const m of models) m.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const courseCnn: SequentialModelConfig = {
  input: { shape: [28, 28, 1] },
  layers: [
    { type: 'conv2d', filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: { type: 'truncatedNormal', stddev: 0.1 }, biasInitializer: { type: 'constant', value: 0.1 } },
    { type: 'maxPool', poolSize: 2 },
    { type: 'conv2d', filters: 64, kernelSize: 5, padding: 'same', activation: 'relu' },
    { type: 'maxPool', poolSize: 2 },
    { type: 'flatten' },
    { type: 'dense', units: 1024, activation: 'relu' },
    { type: 'dropout', rate: 0.5 },
    { type: 'dense', units: 10, name: 'logits' },
  ],
};

const twoHeads: GraphModelConfig = {
  inputs: { image: { shape: [12] }, extra: { shape: [3], feature: 'meta' } },
  nodes: [
    { type: 'dense', name: 'trunk', units: 8, activation: 'relu', inputs: ['image'] },
    { type: 'concatenate', name: 'joined', inputs: ['trunk', 'extra'] },
    { type: 'dense', name: 'digitLogits', units: 10, inputs: ['joined'] },
    { type: 'dense', name: 'parityLogits', units: 1, inputs: ['trunk'] },
  ],
  outputs: { digit: 'digitLogits', parity: 'parityLogits' },
};

describe('sequential models', () => {
  it('build the course CNN with 3,274,634 parameters and run it', () => {
    leakFree(() => {
      const built = build(courseCnn);
      expect(built.model.countParams()).toBe(3_274_634);
      expect(built.inputs).toEqual([{ name: 'input', feature: 'x', shape: [28, 28, 1], dtype: 'float32' }]);
      expect(built.outputs).toEqual([{ name: 'output', node: 'logits' }]);
      const x = tf.zeros([2, 28, 28, 1]);
      const y = built.model.apply(x, { training: true }) as tf.Tensor;
      expect(y.shape).toEqual([2, 10]);
      tf.dispose([x, y]);

      const summary = modelSummary(built);
      expect(summary.totalParams).toBe(3_274_634);
      expect(summary.trainableParams).toBe(3_274_634);
      expect(summary.rows.map((r) => r.type)).toEqual(['InputLayer', 'conv2d', 'maxPool', 'conv2d', 'maxPool', 'flatten', 'dense', 'dropout', 'dense']);
      expect(summary.rows[1]).toEqual({ name: 'conv2d_0', type: 'conv2d', outputShape: [28, 28, 32], params: 832, trainable: true });
      expect(summary.rows[5]!.outputShape).toEqual([3136]);
      const text = formatModelSummary(summary);
      expect(text).toContain('Total params: 3,274,634');
      expect(text).toContain('3,212,288');
      return [built.model];
    });
  });

  it('initialize reproducibly from the seed, with different values per layer', () => {
    leakFree(() => {
      const config: SequentialModelConfig = {
        input: { shape: [6] },
        layers: [
          { type: 'dense', units: 6 },
          { type: 'dense', units: 6, kernelInitializer: { type: 'randomNormal' } },
          { type: 'dense', units: 6, kernelInitializer: { type: 'randomNormal' } },
        ],
      };
      const a = build(config, 5);
      const b = build(config, 5);
      const c = build(config, 6);
      const kernels = (m: tf.LayersModel) => m.layers.slice(1).map((l) => Array.from(l.getWeights()[0]!.dataSync()));
      const [ka, kb, kc] = [kernels(a.model), kernels(b.model), kernels(c.model)];
      expect(ka).toEqual(kb);
      expect(ka[0]).not.toEqual(kc[0]);
      // Same shape and initializer, different layer: different values.
      expect(ka[1]).not.toEqual(ka[2]);
      return [a.model, b.model, c.model];
    });
  });

  it('give an LSTM a forget-gate bias of 1', () => {
    leakFree(() => {
      const built = build({ input: { shape: [4, 3] }, layers: [{ type: 'lstm', units: 2 }] });
      const bias = Array.from(built.model.layers[1]!.getWeights()[2]!.dataSync());
      expect(bias).toEqual([0, 0, 1, 1, 0, 0, 0, 0]);
      return [built.model];
    });
  });

  it('report a layer that does not fit its input, naming the node and both shapes, leaking nothing', () => {
    const before = tf.memory().numTensors;
    const error = configError(() =>
      build({ input: { shape: [784] }, layers: [{ type: 'dense', units: 10 }, { type: 'conv2d', filters: 4, kernelSize: 3 }] }),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(error.diagnostics[0]!.path).toBe('model.layers.1');
    expect(error.message).toContain("conv2d 'conv2d_1'");
    expect(error.message).toContain('[batch, 10]');
    expect(error.message).toContain('[batch, *, *, *]');
  });

  it('report windows larger than their input', () => {
    const error = configError(() => build({ input: { shape: [3, 3, 1] }, layers: [{ type: 'conv2d', filters: 2, kernelSize: 5 }] }));
    expect(error.message).toMatch(/model\.layers\.0: .*empty output/);
  });

  it('collect every problem in the layer list before building', () => {
    const error = configError(() =>
      build({
        input: { shape: [4] },
        layers: [{ type: 'dens', units: 3 }, { type: 'dense', unit: 3 }, { type: 'dropout', inputs: ['x'] }],
      }),
    );
    const messages = error.diagnostics.map((d) => `${d.path}: ${d.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^model\.layers\.0\.type: unknown layer 'dens'; did you mean 'dense'\?/),
      expect.stringMatching(/^model\.layers\.1\.unit: 'dense' has no parameter 'unit'; did you mean 'units'\?/),
      expect.stringMatching(/^model\.layers\.1: 'dense' needs 'units'/),
      expect.stringMatching(/^model\.layers\.2\.inputs: a sequential model chains its layers/),
    ]);
  });
});

describe('graph models', () => {
  it('build a shared trunk with two heads and several inputs', () => {
    leakFree(() => {
      const built = build(twoHeads);
      expect(built.inputs.map((i) => [i.name, i.feature])).toEqual([['image', 'image'], ['extra', 'meta']]);
      expect(built.outputs).toEqual([{ name: 'digit', node: 'digitLogits' }, { name: 'parity', node: 'parityLogits' }]);
      const x = [tf.ones([2, 12]), tf.ones([2, 3])];
      const [digit, parity] = built.model.apply(x) as tf.Tensor[];
      expect(digit!.shape).toEqual([2, 10]);
      expect(parity!.shape).toEqual([2, 1]);
      tf.dispose([...x, digit!, parity!]);
      // One trunk: its weights appear once.
      expect(built.model.countParams()).toBe(12 * 8 + 8 + 11 * 10 + 10 + 8 + 1);
      return [built.model];
    });
  });

  it('tell which layers each output depends on: the shared trunk and its own head', () => {
    leakFree(() => {
      const built = build(twoHeads);
      const [digit, parity] = outputDependencies(built.model).map((names) => [...names].sort());
      expect(digit).toEqual(['digitLogits', 'joined', 'trunk']);
      expect(parity).toEqual(['parityLogits', 'trunk']);
      return [built.model];
    });
  });

  it('chain nodes that do not list inputs and freeze nodes marked trainable: false', () => {
    leakFree(() => {
      const built = build({
        inputs: { x: { shape: [4] } },
        nodes: [{ type: 'dense', units: 3, trainable: false }, { type: 'dense', units: 2, name: 'out' }],
        outputs: { y: 'out' },
      });
      expect([...trainableVariables(built.model).keys()]).toEqual(['out/kernel', 'out/bias']);
      const summary = modelSummary(built);
      expect(summary.nonTrainableParams).toBe(15);
      expect(formatModelSummary(summary)).toContain('dense_0 (frozen)');
      return [built.model];
    });
  });

  it('report a shape mismatch as a ConfigError naming the node and both shapes, leaking nothing', () => {
    const before = tf.memory().numTensors;
    const error = configError(() =>
      build({
        inputs: { a: { shape: [10] }, b: { shape: [4] } },
        nodes: [
          { type: 'dense', name: 'widen', units: 20, inputs: ['b'] },
          { type: 'add', name: 'sum', inputs: ['a', 'widen'] },
        ],
        outputs: { y: 'sum' },
      }),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(error.diagnostics).toHaveLength(1);
    expect(error.diagnostics[0]!.path).toBe('model.nodes.1');
    expect(error.message).toContain("add 'sum'");
    expect(error.message).toContain('[batch, 10] and [batch, 20]');
  });

  it('report unknown inputs and outputs, forward references and unused nodes', () => {
    const unknown = configError(() =>
      build({
        inputs: { image: { shape: [4] } },
        nodes: [
          { type: 'dense', name: 'trunk', units: 3, inputs: ['imag'] },
          { type: 'dense', name: 'head', units: 2, inputs: ['later'] },
          { type: 'dense', name: 'later', units: 2 },
        ],
        outputs: { y: 'haed' },
      }),
    );
    expect(unknown.diagnostics.map((d) => d.path)).toEqual(['model.nodes.0.inputs.0', 'model.nodes.1.inputs.0', 'model.outputs.y']);
    expect(unknown.diagnostics[0]!.message).toContain("unknown input 'imag'; did you mean 'image'?");
    expect(unknown.diagnostics[1]!.message).toContain('listed before it');
    expect(unknown.diagnostics[2]!.message).toContain("did you mean 'head'?");

    const unused = configError(() =>
      build({
        inputs: { a: { shape: [4] }, b: { shape: [4] } },
        nodes: [
          { type: 'dense', name: 'h1', units: 2, inputs: ['a'] },
          { type: 'dense', name: 'h2', units: 2, inputs: ['a'] },
        ],
        outputs: { y: 'h1' },
      }),
    );
    expect(unused.diagnostics.map((d) => d.path)).toEqual(['model.nodes.1', 'model.inputs.b']);
  });
});

describe('dropout', () => {
  it('draws a new mask each step, the same mask for the same step, and is the identity when not training', () => {
    leakFree(() => {
      const random = createRandomContext();
      const built = build({ input: { shape: [200] }, layers: [{ type: 'dropout', rate: 0.5 }] }, 3, random);
      const x = tf.ones([2, 200]);
      const run = (training: boolean) => Array.from((built.model.apply(x, { training }) as tf.Tensor).dataSync());
      const before = tf.memory().numTensors;
      const step0 = tf.tidy(() => run(true));
      const step0Again = tf.tidy(() => run(true));
      random.step = 1;
      const step1 = tf.tidy(() => run(true));
      const evaluation = tf.tidy(() => run(false));
      expect(tf.memory().numTensors).toBe(before);
      expect(step0).toEqual(step0Again);
      expect(step1).not.toEqual(step0);
      expect(new Set(step0)).toEqual(new Set([0, 2]));
      const dropped = step0.filter((v) => v === 0).length / step0.length;
      expect(dropped).toBeGreaterThan(0.35);
      expect(dropped).toBeLessThan(0.65);
      expect(evaluation.every((v) => v === 1)).toBe(true);
      x.dispose();
      return [built.model];
    });
  });
});

describe('regularization', () => {
  it('sums every penalty (recurrent cells included) and passes gradients to the weights', () => {
    leakFree(() => {
      const built = build({
        input: { shape: [3, 2] },
        layers: [
          { type: 'lstm', units: 2, returnSequences: true, recurrentRegularizer: { type: 'l1', l1: 0.5 } },
          { type: 'flatten' },
          { type: 'dense', units: 2, kernelRegularizer: { type: 'l2', l2: 0.1 }, biasInitializer: { type: 'ones' }, biasRegularizer: { type: 'l1l2', l1: 1, l2: 1 } },
        ],
      });
      const lstm = built.model.layers[1]!;
      const dense = built.model.layers[3]!;
      const recurrent = lstm.getWeights()[1]!;
      const kernel = dense.getWeights()[0]!;
      const expected = tf.tidy(() =>
        tf.addN([tf.mul(0.5, tf.sum(tf.abs(recurrent))), tf.mul(0.1, tf.sum(tf.square(kernel))), tf.scalar(2 + 2)]).dataSync()[0]!,
      );
      const before = tf.memory().numTensors;
      const penalty = regularizationPenalty(built.model);
      expect(penalty.dataSync()[0]).toBeCloseTo(expected, 5);
      penalty.dispose();
      const { value, grads } = tf.variableGrads(() => regularizationPenalty(built.model));
      expect(Object.keys(grads).length).toBeGreaterThanOrEqual(3);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      return [built.model];
    });
  });

  it('sums only the penalties of the layers named, when asked', () => {
    leakFree(() => {
      const built = build({
        input: { shape: [2] },
        layers: [
          { type: 'dense', units: 2, name: 'first', kernelInitializer: { type: 'ones' }, kernelRegularizer: { type: 'l1', l1: 1 } },
          { type: 'dense', units: 1, name: 'second', kernelInitializer: { type: 'ones' }, kernelRegularizer: { type: 'l1', l1: 10 } },
        ],
      });
      const values = [undefined, new Set(['first']), new Set(['second']), new Set<string>()].map((only) => {
        const penalty = regularizationPenalty(built.model, only);
        const value = penalty.dataSync()[0];
        penalty.dispose();
        return value;
      });
      expect(values).toEqual([4 + 20, 4, 20, 0]);
      return [built.model];
    });
  });

  it('is zero for a model without regularizers', () => {
    leakFree(() => {
      const built = build({ input: { shape: [2] }, layers: [{ type: 'dense', units: 1 }] });
      const penalty = regularizationPenalty(built.model);
      expect(penalty.dataSync()[0]).toBe(0);
      penalty.dispose();
      return [built.model];
    });
  });
});

describe('saving', () => {
  it('round-trips a model with seeded initializers, regularizers, dropout and leakyRelu', async () => {
    const built = build({
      input: { shape: [4] },
      layers: [
        { type: 'dense', units: 3, activation: 'leakyRelu', kernelRegularizer: { type: 'l2' } },
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 2, activation: 'softmax' },
      ],
    });
    let saved: tf.io.ModelArtifacts | undefined;
    await built.model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.tensor2d([[1, -2, 3, -4]]);
    const [a, b] = [built.model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const penalty = [regularizationPenalty(built.model), regularizationPenalty(loaded)];
    expect(penalty[1]!.dataSync()[0]).toBeCloseTo(penalty[0]!.dataSync()[0]!, 6);
    tf.dispose([x, a, b, ...penalty]);
    built.model.dispose();
    loaded.dispose();
  });
});

describe('a training step as the train loop runs it', () => {
  it('lowers the loss with batchNorm, dropout and a regularizer, and leaks nothing across steps', () => {
    const registriesLoss = registries.losses.get('softmaxCrossEntropy').create({}, {});
    const random = createRandomContext();
    const built = build(
      {
        input: { shape: [6] },
        layers: [
          { type: 'dense', units: 16, kernelRegularizer: { type: 'l2', l2: 0.001 } },
          { type: 'batchNorm' },
          { type: 'activation', activation: 'relu' },
          { type: 'dropout', rate: 0.2 },
          { type: 'dense', units: 3 },
        ],
      },
      11,
      random,
    );
    const x = tf.randomNormal([32, 6], 0, 1, 'float32', 2);
    const labels = tf.tidy(() => tf.argMax(tf.matMul(x, tf.randomNormal([6, 3], 0, 1, 'float32', 3)), -1));
    const optimizer = tf.train.sgd(0.2);
    const variables = [...trainableVariables(built.model).values()];
    const movingMean = () => Array.from(built.model.layers[2]!.getWeights()[2]!.dataSync());
    const meanBefore = movingMean();
    const losses: number[] = [];
    let baseline = 0;
    for (let step = 0; step < 30; step++) {
      random.step = step;
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logits = built.model.apply(x, { training: true }) as tf.Tensor;
          return tf.add(registriesLoss(labels, logits), regularizationPenalty(built.model)) as tf.Scalar;
        }, variables);
        optimizer.applyGradients(grads);
        return value.dataSync()[0]!;
      });
      losses.push(loss);
      // The optimizer's slots appear at its first step; from then on nothing may accumulate.
      if (step === 0) baseline = tf.memory().numTensors;
      else expect(tf.memory().numTensors).toBe(baseline);
    }
    expect(losses[29]!).toBeLessThan(losses[0]! * 0.7);
    // Training updated batchNorm's moving statistics.
    expect(movingMean()).not.toEqual(meanBefore);
    optimizer.dispose();
    tf.dispose([x, labels]);
    built.model.dispose();
  });
});
