import { entrySchema, param, type JsonSchema, type ParamSchema } from '@dlexp/core';
import type { ConfigCatalog, UnionKind } from './catalog';
import { expectationSchema, expectParam, objectSchema, trainParams } from './sections';
import { sweepParam } from './sweep-section';
import type { TensorBoardConfig } from './sections';

/** The committed schema file, relative to the repository root. */
export const SCHEMA_FILE = 'schema/experiment.schema.json';

/** Top-level keys of an experiment, as parameter specs (documented once, here). */
export function experimentParams(catalog: Pick<ConfigCatalog, 'backends' | 'sweepSchema'>): ParamSchema<Record<string, unknown>> {
  return {
    name: param.string({ description: 'Experiment name; runs go to runs/<name>/<run-id>/.', required: true, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    description: param.string({ description: 'What the experiment shows, in a sentence or two.' }),
    seed: param.integer({ description: 'Seeds every source of randomness (initialization, dropout, shuffling, generated data).', default: 42, minimum: 0, maximum: 4294967295 }),
    extends: param.string({ description: 'An experiment file this one builds on (a path relative to this file): its keys are merged under this file\'s, mappings key by key, lists and values replaced.' }),
    plugins: param.custom<string[]>(
      { type: 'array', items: { type: 'string' }, uniqueItems: true },
      { description: 'Local modules (paths relative to this file) that register layers, losses, metrics, datasets, optimizers or schedules before the experiment is validated.' },
    ),
    backend: param.oneOf(catalog.backends, { description: `Where tensors are computed; auto picks the fastest usable one (${catalog.backends.filter((b) => b !== 'auto').join(', ')}).`, default: 'auto' }),
    threads: param.integer({ description: "Threads for CPU backends (wasm's multi-threaded build, native); the backend's own default when not given.", minimum: 1, maximum: 256 }),
    data: param.union('dataset', { description: 'The dataset, e.g. {type: mnist} or {type: synthetic, function: linear}.', required: true }),
    model: param.union('model', { description: 'The model: {type: ops, ...} for a graph of raw ops.', required: true }),
    train: param.custom({ $ref: '#/$defs/train' }, { description: 'How to train: optimizer, budget (steps or epochs), batch size, logging.', required: true }),
    expect: expectParam,
    tensorboard: param.custom<TensorBoardConfig | false>(
      {
        anyOf: [
          { type: 'boolean', const: false },
          {
            type: 'object',
            additionalProperties: false,
            properties: {
              histogramsEvery: {
                anyOf: [{ type: 'string', const: 'epoch' }, { type: 'integer', minimum: 1 }],
                default: 'epoch',
                description: 'How often weights, biases and gradients are written as histograms (with mean, stddev, min and max): epoch (every epoch end) or a number of steps.',
              },
              projector: {
                type: 'object',
                additionalProperties: false,
                required: ['layer'],
                properties: {
                  layer: { type: 'string', description: 'The layer whose output is the embedding, by name (e.g. fc1).' },
                  split: { type: 'string', enum: ['train', 'validation', 'test'], default: 'test', description: 'The split the examples come from.' },
                  samples: { type: 'integer', minimum: 1, maximum: 10000, default: 2000, description: 'How many examples (the first ones of the split).' },
                },
                description: "Export a layer's output for TensorBoard's projector at the end: the embedding, metadata.tsv with the labels, and a sprite of the images.",
              },
            },
          },
        ],
      },
      { description: 'TensorBoard event files under <run-dir>/tensorboard/ (on by default; false turns them off): scalars every logged step, histograms, the graph.', default: {} },
    ),
    plots: param.boolean({ description: 'Write SVG and PNG figures to <run-dir>/plots/ when the run ends.', default: true }),
    // Without the sweep library's schema (the engine alone, not the runner) an experiment cannot hold a sweep.
    ...(catalog.sweepSchema !== undefined ? { sweep: sweepParam(catalog.sweepSchema) } : {}),
    quick: param.custom(
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          set: { type: 'object', description: 'Overrides applied under --quick, keyed by path (as --set): {train.steps: 20}.', additionalProperties: true },
          expect: { ...expectParam.schema, description: 'Assertions checked instead of expect under --quick.' },
        },
      },
      { description: 'A small budget for CI and smoke tests: `runner x.yaml --quick` applies quick.set and checks quick.expect.' },
    ),
  };
}

function unionSchema(union: UnionKind): JsonSchema {
  const names = union.registry.names();
  return {
    type: 'object',
    description: `A ${union.registry.kind}, chosen by its type: ${names.join(', ')}.`,
    required: ['type'],
    properties: { type: { type: 'string', enum: names } },
    discriminator: { propertyName: 'type' },
    oneOf: union.registry.list().map((entry) => entrySchema(entry.name, entry.description, entry.params, union.extraFields)),
  };
}

/** The experiment JSON Schema, generated from the registries (committed; a test guards drift). */
export function generateSchema(catalog: ConfigCatalog): JsonSchema {
  const defs: JsonSchema = {};
  for (const union of catalog.unions) defs[union.kind] = unionSchema(union);
  defs['train'] = objectSchema(trainParams as ParamSchema<unknown>, 'How to train: optimizer, budget, batching, logging and clipping.');
  defs['expectation'] = expectationSchema;
  const top = objectSchema(experimentParams(catalog), 'A declarative deep-learning experiment.');
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'dlexp experiment',
    ...top,
    $defs: defs,
  };
}
