import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { entrySchema, type AnyEntry, type JsonSchema, type ParamSchema } from '@dlexp/core';
import { createModelRegistries, graphModelParams, layerNodeFields, sequentialModelParams } from './index';

// The same construction and ajv settings as the experiment schema: each registry becomes a union
// discriminated by `type`, layers accept the node fields besides their own parameters.
const registries = createModelRegistries();

function union(kind: string, entries: AnyEntry<unknown, unknown>[], extra?: ParamSchema<unknown>): JsonSchema {
  return {
    type: 'object',
    description: `A ${kind}.`,
    required: ['type'],
    properties: { type: { type: 'string', enum: entries.map((e) => e.name) } },
    discriminator: { propertyName: 'type' },
    oneOf: entries.map((e) => entrySchema(e.name, e.description, e.params, extra)),
  };
}

const models: AnyEntry<unknown, unknown>[] = [
  { name: 'sequential', description: 'A chain of layers.', params: sequentialModelParams, create: () => undefined },
  { name: 'graph', description: 'Named nodes.', params: graphModelParams, create: () => undefined },
];

const schema: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $ref: '#/$defs/model',
  $defs: {
    model: union('model', models),
    layer: union('layer', registries.layers.list() as AnyEntry<unknown, unknown>[], layerNodeFields as ParamSchema<unknown>),
    initializer: union('initializer', registries.initializers.list() as AnyEntry<unknown, unknown>[]),
    regularizer: union('regularizer', registries.regularizers.list() as AnyEntry<unknown, unknown>[]),
  },
};

const ajv = new Ajv2020({ allErrors: true, strict: true, discriminator: true, allowUnionTypes: true });
const validate = ajv.compile(schema);

describe('the generated schema of layers and models', () => {
  it('compiles under ajv strict mode and accepts the documented examples', () => {
    const sequential = {
      type: 'sequential',
      input: { shape: [28, 28, 1], feature: 'image' },
      layers: [
        { type: 'conv2d', filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: { type: 'truncatedNormal', stddev: 0.1 } },
        { type: 'maxPool', poolSize: [2, 2] },
        { type: 'flatten' },
        { type: 'dense', units: 1024, activation: 'relu', kernelRegularizer: { type: 'l2', l2: 0.0005 } },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 10, name: 'logits' },
      ],
    };
    const graph = {
      type: 'graph',
      inputs: { image: { shape: [784] } },
      nodes: [
        { type: 'dense', name: 'trunk', units: 128, activation: 'relu', inputs: ['image'], trainable: false },
        { type: 'dense', name: 'digitLogits', units: 10, inputs: ['trunk'] },
        { type: 'dense', name: 'parityLogits', units: 1, inputs: ['trunk'] },
      ],
      outputs: { digit: 'digitLogits', parity: 'parityLogits' },
    };
    expect(validate(sequential), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(graph), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ['an unknown activation', { type: 'dense', units: 3, activation: 'rellu' }],
    ['an unknown key', { type: 'dense', units: 3, unit: 4 }],
    ['a missing required parameter', { type: 'conv2d', filters: 3 }],
    ['a bad kernel size', { type: 'conv2d', filters: 3, kernelSize: [3, 3, 3] }],
    ['a dropout rate of 1', { type: 'dropout', rate: 1 }],
    ['an unknown regularizer', { type: 'dense', units: 3, kernelRegularizer: { type: 'l3' } }],
  ])('rejects %s', (_what, layer) => {
    expect(validate({ type: 'sequential', input: { shape: [4] }, layers: [layer] })).toBe(false);
  });
});
