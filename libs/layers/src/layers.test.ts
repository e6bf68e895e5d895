import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { fillDefaults, type UnionLookup } from '@dlexp/core';
import { createModelRegistries, createRandomContext, type LayerContext } from './index';

const registries = createModelRegistries();
const lookup: UnionLookup = (kind, name) => {
  const registry = kind === 'initializer' ? registries.initializers : kind === 'regularizer' ? registries.regularizers : undefined;
  return registry?.has(name) === true ? registry.get(name).params : undefined;
};

interface Fixture {
  /** Only the parameters without a default. */
  params: Record<string, unknown>;
  /** Input shapes including the batch axis; several for layers that take several inputs. */
  inputs: number[][];
  output: number[];
  ints?: boolean;
}

const fixtures: Record<string, Fixture> = {
  dense: { params: { units: 3 }, inputs: [[2, 4]], output: [2, 3] },
  conv2d: { params: { filters: 2, kernelSize: 3 }, inputs: [[1, 5, 5, 1]], output: [1, 3, 3, 2] },
  maxPool: { params: {}, inputs: [[1, 4, 4, 2]], output: [1, 2, 2, 2] },
  avgPool: { params: {}, inputs: [[1, 4, 4, 2]], output: [1, 2, 2, 2] },
  globalAvgPool: { params: {}, inputs: [[1, 4, 4, 2]], output: [1, 2] },
  flatten: { params: {}, inputs: [[2, 3, 4]], output: [2, 12] },
  reshape: { params: { targetShape: [6, 2] }, inputs: [[2, 3, 4]], output: [2, 6, 2] },
  dropout: { params: {}, inputs: [[2, 3]], output: [2, 3] },
  batchNorm: { params: {}, inputs: [[2, 3]], output: [2, 3] },
  activation: { params: { activation: 'relu' }, inputs: [[2, 3]], output: [2, 3] },
  lstm: { params: { units: 3 }, inputs: [[2, 4, 5]], output: [2, 3] },
  gru: { params: { units: 3 }, inputs: [[2, 4, 5]], output: [2, 3] },
  embedding: { params: { inputDim: 10, outputDim: 4 }, inputs: [[2, 3]], output: [2, 3, 4], ints: true },
  concatenate: { params: {}, inputs: [[2, 3], [2, 4]], output: [2, 7] },
  add: { params: {}, inputs: [[2, 3], [2, 3]], output: [2, 3] },
};

const context = (name: string): LayerContext => ({
  name,
  seed: 7,
  random: createRandomContext(),
  initializers: registries.initializers,
  regularizers: registries.regularizers,
});

it('every layer has a test fixture', () => {
  expect(registries.layers.names().sort()).toEqual(Object.keys(fixtures).sort());
});

describe.each(registries.layers.names())('layer %s', (name) => {
  it('builds from defaults, gives the expected shape (symbolic and concrete) and leaks nothing', () => {
    const fixture = fixtures[name]!;
    const entry = registries.layers.get(name);
    const params = fillDefaults(entry.params, fixture.params, lookup);
    const before = tf.memory().numTensors;

    const layer = entry.create(params, context(`${name}_test`));
    const symbolic = fixture.inputs.map((shape) => tf.input({ shape: shape.slice(1) }));
    const out = layer.apply(symbolic.length === 1 ? symbolic[0]! : symbolic) as tf.SymbolicTensor;
    expect(out.shape).toEqual([null, ...fixture.output.slice(1)]);

    const concrete = fixture.inputs.map((shape) =>
      fixture.ints === true ? tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => i % 10), shape, 'int32') : tf.randomNormal(shape, 0, 1, 'float32', 1),
    );
    const y = layer.apply(concrete.length === 1 ? concrete[0]! : concrete) as tf.Tensor;
    expect(y.shape).toEqual(fixture.output);
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    // The config is plain data (what a saved model topology holds).
    expect(() => JSON.stringify(layer.getConfig())).not.toThrow();

    tf.dispose([...concrete, y]);
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('activation names', () => {
  it('are the enum of every activation parameter', () => {
    const schema = registries.layers.get('dense').params.activation!.schema;
    expect(schema['enum']).toEqual(registries.activations.names());
  });

  const reference: Record<string, (x: number) => number> = {
    linear: (x) => x,
    relu: (x) => Math.max(x, 0),
    tanh: Math.tanh,
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    elu: (x) => (x > 0 ? x : Math.exp(x) - 1),
    selu: (x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (Math.exp(x) - 1)),
    softplus: (x) => Math.log1p(Math.exp(x)),
    gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    leakyRelu: (x) => (x > 0 ? x : 0.3 * x),
  };

  it.each(registries.activations.names())('%s computes its function through a layer and leaks nothing', (name) => {
    const before = tf.memory().numTensors;
    const layer = registries.layers.get('activation').create({ activation: name }, context(`act_${name}`));
    const xs = [-2, -0.5, 0, 0.7, 3];
    const x = tf.tensor2d([xs]);
    const y = layer.apply(x) as tf.Tensor;
    const got = Array.from(y.dataSync());
    const f = reference[name];
    if (f === undefined) {
      expect(name).toBe('softmax');
      const e = xs.map(Math.exp);
      const total = e.reduce((a, b) => a + b);
      e.forEach((v, i) => expect(got[i]).toBeCloseTo(v / total, 5));
    } else {
      xs.forEach((v, i) => expect(got[i]).toBeCloseTo(f(v), 4));
    }
    tf.dispose([x, y]);
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** Abramowitz-Stegun 7.1.26 (error < 1.5e-7), enough to check gelu to 4 places. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.sign(x) * (1 - poly * Math.exp(-x * x));
}
