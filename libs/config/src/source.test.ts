import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatDiagnostic, param, Registry } from '@dlexp/core';
import type { ConfigCatalog } from './catalog';
import { loadExperiment } from './experiment';
import { ExperimentSource } from './source';

const folder = mkdtempSync(join(tmpdir(), 'config-source-'));

function write(name: string, text: string): string {
  const file = join(folder, name);
  writeFileSync(file, text);
  return file;
}

/** The problems a ConfigError carries, formatted as the CLI prints them. */
function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  return [];
}

/** A catalog with one entry per kind: enough for the schema of a whole experiment. */
function tinyCatalog(): ConfigCatalog {
  const entry = (name: string, params = {}) => ({ name, description: `the ${name}`, params, create: () => undefined });
  const registry = (kind: string, ...entries: ReturnType<typeof entry>[]) => {
    const r = new Registry<unknown, unknown>(kind, `${kind}s`);
    for (const e of entries) r.register(e);
    return r;
  };
  return {
    unions: [
      { kind: 'dataset', registry: registry('dataset', entry('synthetic', { samples: param.integer({ description: 'examples', default: 10, minimum: 1 }) })) },
      {
        kind: 'model',
        registry: registry(
          'model',
          entry('sequential', {
            layers: param.custom({ type: 'array', items: { type: 'object' } }, { description: 'the layers', required: true }),
          }),
        ),
      },
      { kind: 'optimizer', registry: registry('optimizer', entry('sgd', { learningRate: param.number({ description: 'step size', default: 0.01, exclusiveMinimum: 0 }) })) },
      { kind: 'schedule', registry: registry('schedule', entry('constant')) },
    ],
    backends: ['auto', 'cpu'],
    sweepMethods: ['grid'],
  };
}

const BASE = `name: base
data: {type: synthetic, samples: 20}
model:
  type: sequential
  layers:
    - {type: dense, units: 8, name: hidden}
    - {type: dropout, rate: 0.3, name: drop}
    - {type: dense, units: 1}
train:
  optimizer: {type: sgd, learningRate: 0.1}
  steps: 10
quick:
  set:
    train.steps: 2
`;

describe('extends', () => {
  it('merges mappings key by key and replaces lists and values', () => {
    write('base.yaml', BASE);
    const file = write('child.yaml', 'extends: base.yaml\nname: child\ntrain:\n  steps: 30\n');
    const data = ExperimentSource.read(file, 'child.yaml').toData();
    expect(data['name']).toBe('child');
    expect(data['extends']).toBeUndefined();
    expect(data['train']).toEqual({ optimizer: { type: 'sgd', learningRate: 0.1 }, steps: 30 });
    expect((data['model'] as { layers: unknown[] }).layers).toHaveLength(3);
    expect((data['data'] as Record<string, unknown>)['samples']).toBe(20);
  });

  it('reports a problem in a value that came from the base at its line and column in the base file', () => {
    write('bad-base.yaml', BASE.replace('learningRate: 0.1', 'learningRate: -1'));
    const file = write('bad-child.yaml', 'extends: bad-base.yaml\nname: child\n');
    const found = problems(() => loadExperiment(file, tinyCatalog(), { displayName: join('exp', 'bad-child.yaml') }));
    expect(found).toEqual([`${join('exp', 'bad-base.yaml')}:10:40: train.optimizer.learningRate: -1 is out of range: must be greater than 0`]);
  });

  it('chains bases, and a cycle is a config error at the extends that closes it', () => {
    write('a.yaml', 'extends: b.yaml\nname: a\n');
    write('b.yaml', 'extends: a.yaml\nname: b\n');
    const found = problems(() => ExperimentSource.read(join(folder, 'a.yaml'), 'a.yaml'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^b\.yaml:1:10: extends: extends makes a cycle: a\.yaml → b\.yaml → a\.yaml$/);
  });

  it('a missing base is an error where it is named', () => {
    const file = write('orphan.yaml', 'name: x\nextends: nowhere.yaml\n');
    expect(problems(() => ExperimentSource.read(file, 'orphan.yaml'))).toEqual(['orphan.yaml:2:10: extends: cannot read the base experiment nowhere.yaml: no such file']);
  });

  it("a quick.set path under a mapping both files write changes only that key", () => {
    write('base.yaml', BASE);
    const file = write('both-write-train.yaml', 'extends: base.yaml\nname: child\ntrain:\n  batchSize: 5\n');
    const experiment = loadExperiment(file, tinyCatalog(), { quick: true });
    expect(experiment.resolved.train).toMatchObject({ optimizer: { type: 'sgd', learningRate: 0.1 }, steps: 2, batchSize: 5 });
  });

  it("applies the base's quick block, positioned in the base", () => {
    write('base.yaml', BASE);
    const file = write('quick-child.yaml', 'extends: base.yaml\nname: child\n');
    const experiment = loadExperiment(file, tinyCatalog(), { quick: true });
    expect(experiment.resolved.train.steps).toBe(2);
  });
});

describe('list items addressed by name', () => {
  it('--set model.layers[drop].rate sets the item named drop', () => {
    write('base.yaml', BASE);
    const source = ExperimentSource.read(join(folder, 'base.yaml'), 'base.yaml');
    source.applySetArguments(['model.layers[drop].rate=0.5', 'model.layers.hidden.units=16']);
    const layers = (source.toData()['model'] as { layers: Record<string, unknown>[] }).layers;
    expect(layers[1]!['rate']).toBe(0.5);
    expect(layers[0]!['units']).toBe(16);
    expect(source.resolvePath(['model', 'layers', 'drop', 'rate'])).toEqual(['model', 'layers', 1, 'rate']);
  });

  it('a name that matches no item is a config error with "did you mean"', () => {
    const source = ExperimentSource.parse(BASE, 'base.yaml');
    expect(problems(() => source.applySetArguments(['model.layers[dorp].rate=0.5']))).toEqual([
      "--set:1:1: model.layers[dorp].rate: model.layers has no item named 'dorp'; did you mean 'drop'? (named items: hidden, drop)",
    ]);
  });

  it('a quick.set key with an unknown name is reported at the key', () => {
    const file = write('quick-name.yaml', `${BASE}    model.layers[hiden].units: 4\n`);
    const found = problems(() => loadExperiment(file, tinyCatalog(), { quick: true, displayName: 'quick-name.yaml' }));
    expect(found).toEqual(["quick-name.yaml:15:5: quick.set[model.layers[hiden].units]: model.layers has no item named 'hiden'; did you mean 'hidden'? (named items: hidden, drop)"]);
  });

  it('a problem in a value set by name is reported at the override, with the index path', () => {
    const file = write('named.yaml', BASE);
    const found = problems(() => loadExperiment(file, tinyCatalog(), { set: ['train.optimizer.learningRate=0'], displayName: 'named.yaml' }));
    expect(found).toEqual(['--set:1:30: train.optimizer.learningRate: 0 is out of range: must be greater than 0']);
  });

  it('keeps brackets on a mapping meaning a key with dots', () => {
    const source = ExperimentSource.parse(`${BASE}expect:\n  test.accuracy: {min: 0.5}\n`, 'x.yaml');
    source.applySetArguments(['expect[test.accuracy].min=0.9']);
    expect((source.toData()['expect'] as Record<string, { min: number }>)['test.accuracy']!.min).toBe(0.9);
  });
});
