import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { afterAll, describe, expect, it } from 'vitest';
import { createCanvas } from '@napi-rs/canvas';
import { entrySchema, fillDefaults, type ParamSpec } from '@dlexp/core';
import { createColumn, createDatasetRegistry, encodeIdx, inMemorySplit, splitFeatures, writeSplitToTFRecord } from './index';
import { tempDir } from './test-helpers';

const tmp = tempDir('registry');
afterAll(tmp.cleanup);

function png(): Buffer {
  const canvas = createCanvas(3, 3);
  canvas.getContext('2d').fillRect(0, 0, 2, 2);
  return canvas.toBuffer('image/png');
}

/** For every dataset, a small config written as in an experiment file. */
async function smallConfigs(): Promise<Record<string, Record<string, unknown>>> {
  const d = tmp.dir;
  writeFileSync(join(d, 'x.idx'), encodeIdx({ dtype: 'uint8', shape: [2, 2, 2], data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }));
  writeFileSync(join(d, 'y.idx'), encodeIdx({ dtype: 'uint8', shape: [2], data: Uint8Array.of(0, 1) }));
  writeFileSync(join(d, 't.csv'), 'a,b,label\n1,2,yes\n3,4,no\n');
  mkdirSync(join(d, 'img', 'one'), { recursive: true });
  writeFileSync(join(d, 'img', 'one', 'a.png'), png());
  await writeSplitToTFRecord(inMemorySplit({ x: createColumn(Float32Array.of(1, 2), [2, 1]), y: createColumn(Int32Array.of(0, 1), [2]) }), join(d, 't.tfrecord'));
  return {
    mnist: { type: 'mnist', limit: { train: 10, test: 10 } },
    'fashion-mnist': { type: 'fashion-mnist', limit: { train: 10, test: 10 } },
    idx: { type: 'idx', train: { x: 'x.idx', y: 'y.idx' } },
    synthetic: { type: 'synthetic' },
    captcha: { type: 'captcha', samples: { train: 4 } },
    tfrecord: { type: 'tfrecord', train: ['t.tfrecord'], features: { x: { kind: 'float', shape: [1] }, y: { kind: 'int64', shape: [] } } },
    csv: { type: 'csv', train: 't.csv', features: ['a', 'b'], labels: ['label'], categorical: ['label'] },
    imageFolder: { type: 'imageFolder', train: 'img', shape: [2, 2, 1] },
    objective: { type: 'objective' },
  };
}

describe('dataset registry', () => {
  const registry = createDatasetRegistry();

  it('holds every dataset under its YAML name', () => {
    expect(registry.names().sort()).toEqual(['captcha', 'csv', 'fashion-mnist', 'idx', 'imageFolder', 'mnist', 'objective', 'synthetic', 'tfrecord']);
    expect(() => registry.get('mnits')).toThrow(/did you mean 'mnist'/);
  });

  it('every entry: documented parameters, a schema strict ajv accepts, a config that validates and loads with x and y', async () => {
    const configs = await smallConfigs();
    expect(Object.keys(configs).sort()).toEqual(registry.names().sort());
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    for (const entry of registry.list()) {
      expect(entry.description.length, entry.name).toBeGreaterThan(40);
      for (const [key, spec] of Object.entries(entry.params as Record<string, ParamSpec<unknown>>)) {
        expect((spec.schema['description'] as string | undefined)?.length ?? 0, `${entry.name}.${key}`).toBeGreaterThan(5);
        if (spec.default !== undefined) expect(spec.schema['default']).toEqual(spec.default);
      }
      const validate = ajv.compile(entrySchema(entry.name, entry.description, entry.params));
      const written = configs[entry.name]!;
      expect(validate(written), `${entry.name}: ${JSON.stringify(validate.errors)}`).toBe(true);
      const { type: _type, ...params } = written;
      const filled = fillDefaults(entry.params, params, () => undefined);
      expect(validate({ type: entry.name, ...filled }), `${entry.name} with defaults: ${JSON.stringify(validate.errors)}`).toBe(true);
      expect(validate({ ...written, unknownKey: 1 })).toBe(false);
      const data = await entry.create(filled, { seed: 1, resolvePath: (p: string) => (p.startsWith('/') ? p : join(tmp.dir, p)) });
      expect(data.description.length).toBeGreaterThan(10);
      const train = data.splits.train!;
      const features = Object.keys(splitFeatures(train));
      // The objective dataset holds no data: its model's loss is a function of its variables.
      if (entry.name === 'objective') continue;
      expect(features[0], entry.name).toBe('x');
      expect(features.some((f) => /^y\d*$/.test(f)), entry.name).toBe(true);
    }
  });
});
