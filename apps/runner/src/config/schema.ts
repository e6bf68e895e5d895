import { entrySchema, param, type JsonSchema, type ParamSchema } from '@dlexp/core';
import { unionKinds, type Registries, type UnionKind } from '../registries';
import { expectationSchema, expectParam, objectSchema, trainParams } from './sections';
import { sweepParam } from '../sweep/methods';

/** The committed schema file, relative to the repository root. */
export const SCHEMA_FILE = 'schema/experiment.schema.json';

export const BACKEND_CHOICES = ['auto', 'cuda', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

/** Top-level keys of an experiment, as parameter specs (documented once, here). */
export function experimentParams(sweepMethods: string[] = ['grid']): ParamSchema<Record<string, unknown>> {
  return {
    name: param.string({ description: 'Experiment name; runs go to runs/<name>/<run-id>/.', required: true, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }),
    description: param.string({ description: 'What the experiment shows, in a sentence or two.' }),
    seed: param.integer({ description: 'Seeds every source of randomness (initialization, dropout, shuffling, generated data).', default: 42, minimum: 0, maximum: 4294967295 }),
    backend: param.oneOf(BACKEND_CHOICES, { description: 'Where tensors are computed; auto picks the fastest usable one (cuda, tensorflow, webgpu on a hardware adapter, wasm, cpu).', default: 'auto' }),
    data: param.union('dataset', { description: 'The dataset, e.g. {type: mnist} or {type: synthetic, function: linear}.', required: true }),
    model: param.union('model', { description: 'The model: {type: ops, ...} for a graph of raw ops.', required: true }),
    train: param.custom({ $ref: '#/$defs/train' }, { description: 'How to train: optimizer, budget (steps or epochs), batch size, logging.', required: true }),
    expect: expectParam,
    sweep: sweepParam(sweepMethods),
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
export function generateSchema(registries: Registries): JsonSchema {
  const defs: JsonSchema = {};
  for (const union of unionKinds(registries)) defs[union.kind] = unionSchema(union);
  defs['train'] = objectSchema(trainParams as ParamSchema<unknown>, 'How to train: optimizer, budget, batching, logging and clipping.');
  defs['expectation'] = expectationSchema;
  const top = objectSchema(experimentParams(registries.sweeps.names()), 'A declarative deep-learning experiment.');
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'dlexp experiment',
    ...top,
    $defs: defs,
  };
}
