/** The LSTM layer composed from TF.js operations (any backend without the LSTM kernels) against tf.layers.lstm. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivationRegistry } from './activations';
import { Lstm } from './lstm';

const activations = createActivationRegistry();
const activation = (name: string) => ({ name, fn: activations.get(name).create({}, {}) });

let tensorsBefore = 0;
beforeAll(async () => {
  await tf.setBackend('cpu');
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

interface Pair {
  ours: tf.LayersModel;
  theirs: tf.LayersModel;
  dispose(): void;
}

let pairs = 0;

/** The same LSTM twice, ours and tfjs', in one-layer models with equal weights. */
function pair(shape: [number, number], units: number, options: { returnSequences?: boolean; useBias?: boolean; recurrentActivation?: string }): Pair {
  const recurrentActivation = options.recurrentActivation ?? 'sigmoid';
  const args = {
    units,
    returnSequences: options.returnSequences ?? false,
    useBias: options.useBias ?? true,
    recurrentActivation: recurrentActivation as 'sigmoid',
    kernelInitializer: tf.initializers.randomNormal({ seed: 1 }),
    recurrentInitializer: tf.initializers.randomNormal({ seed: 2 }),
    biasInitializer: tf.initializers.randomNormal({ seed: 3 }),
  };
  const build = (layer: tf.layers.Layer) => {
    const input = tf.input({ shape });
    return tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  };
  pairs++;
  const ours = build(new Lstm({ tfjs: { name: `ours${pairs}`, ...args }, activation: activation('tanh'), recurrentActivation: activation(recurrentActivation) }));
  const theirs = build(tf.layers.lstm({ name: `theirs${pairs}`, ...args }));
  theirs.setWeights(ours.getWeights());
  return { ours, theirs, dispose: () => [ours, theirs].forEach((m) => m.dispose()) };
}

function maxDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('Lstm composed from TF.js operations', () => {
  const cases = [
    { name: 'last output', shape: [5, 4] as [number, number], units: 6, options: {} },
    { name: 'every output', shape: [5, 4] as [number, number], units: 6, options: { returnSequences: true } },
    { name: 'one time step', shape: [1, 3] as [number, number], units: 5, options: { returnSequences: true } },
    { name: 'no bias, relu gates', shape: [7, 2] as [number, number], units: 3, options: { useBias: false, recurrentActivation: 'relu' } },
  ];
  it.each(cases)('$name: outputs and gradients equal tf.layers.lstm', ({ shape, units, options }) => {
    const models = pair(shape, units, options);
    const x = tf.randomNormal([3, ...shape], 0, 1, 'float32', 4);
    const lossOf = (model: tf.LayersModel) => () => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar;
    const ours = tf.variableGrads(lossOf(models.ours));
    const theirs = tf.variableGrads(lossOf(models.theirs));
    expect(Math.abs(ours.value.dataSync()[0]! - theirs.value.dataSync()[0]!)).toBeLessThan(1e-5);
    const byWeight = (grads: tf.NamedTensorMap) => Object.keys(grads).sort().map((k) => grads[k]!);
    const ourGrads = byWeight(ours.grads);
    const theirGrads = byWeight(theirs.grads);
    expect(ourGrads.length).toBe(theirGrads.length);
    ourGrads.forEach((g, i) => expect(maxDifference(g, theirGrads[i]!)).toBeLessThan(1e-5));
    tf.dispose([x, ours.value, theirs.value, ...ourGrads, ...theirGrads]);
    models.dispose();
  });

  it('names its weights as tfjs does and starts them the same from the same initializers', () => {
    const models = pair([4, 2], 3, {});
    const suffixes = (model: tf.LayersModel) => model.weights.map((w) => w.name.replace(/^[a-z]+\d+/, ''));
    expect(suffixes(models.ours)).toEqual(['/kernel', '/recurrent_kernel', '/bias']);
    expect(suffixes(models.theirs)).toEqual(suffixes(models.ours));
    const fresh = pair([4, 2], 3, {});
    const freshTheirs = fresh.theirs.getWeights();
    models.ours.getWeights().forEach((w, i) => expect(maxDifference(w, freshTheirs[i]!)).toBe(0));
    models.dispose();
    fresh.dispose();
  });

  it('saves as tfjs LSTM, so the saved model loads without this library and predicts the same', async () => {
    const models = pair([6, 3], 4, { returnSequences: true });
    const json = models.ours.toJSON(null, false) as tf.serialization.ConfigDict;
    const layers = (json['config'] as { layers: { class_name: string }[] }).layers;
    expect(layers.map((l) => l.class_name)).toEqual(['InputLayer', 'LSTM']);
    const reloaded = await tf.models.modelFromJSON({ modelTopology: json });
    expect(reloaded.layers[1]).not.toBeInstanceOf(Lstm);
    reloaded.setWeights(models.ours.getWeights());
    const x = tf.randomNormal([2, 6, 3], 0, 1, 'float32', 5);
    const expected = models.ours.predict(x) as tf.Tensor;
    const actual = reloaded.predict(x) as tf.Tensor;
    expect(maxDifference(actual, expected)).toBeLessThan(1e-6);
    tf.dispose([x, expected, actual]);
    reloaded.dispose();
    models.dispose();
  });

  it('runs as one kernel only where the backend registers the LSTM kernels', () => {
    const layer = new Lstm({ tfjs: { name: 'probe', units: 2 }, activation: activation('tanh'), recurrentActivation: activation('sigmoid') });
    const x = tf.zeros([1, 2, 3]);
    expect(layer.kernelRuns(x)).toBe(false);
    x.dispose();
  });

  it('rejects inputs that are not [batch, steps, features]', () => {
    const layer = new Lstm({ tfjs: { name: 'flat', units: 2 }, activation: activation('tanh'), recurrentActivation: activation('sigmoid') });
    expect(() => layer.apply(tf.input({ shape: [4] }))).toThrow(/layer 'flat': an LSTM takes \[batch, steps, features\] inputs/);
  });
});
