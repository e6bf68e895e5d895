import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSchema, SCHEMA_FILE } from '@dlexp/config';
import { createRunnerRegistries } from '@dlexp/runner';
import { BACKEND_ENTRIES } from '@dlexp/backends';
import { catalogOf, createRegistries } from '@dlexp/train';
import { ROOT, runner } from './helpers';

const experiments = readdirSync(join(ROOT, 'experiments')).filter((f) => f.endsWith('.yaml'));

describe('the committed JSON Schema', () => {
  it('matches the one generated from the registries (run `npx runner schema --write` after changing them)', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, SCHEMA_FILE), 'utf8'));
    expect(committed).toEqual(generateSchema(catalogOf(createRunnerRegistries())));
  });
  it('offers exactly the registered backends (plus auto) for backend:, as list and --help show them', async () => {
    const schema = generateSchema(catalogOf(createRegistries())) as { properties: { backend: { enum: string[] } } };
    const names = BACKEND_ENTRIES.map((e) => e.name);
    expect(schema.properties.backend.enum).toEqual(['auto', ...names]);
    expect(createRegistries().backends.names()).toEqual(names);
    const listed = (await runner(['list', 'backends'])).stdout;
    for (const name of names) expect(listed).toContain(`  ${name}: `);
  });
  it('documents every parameter', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (node === null || typeof node !== 'object') return;
      const properties = (node as { properties?: Record<string, Record<string, unknown>> }).properties;
      for (const [key, value] of Object.entries(properties ?? {})) {
        if (value['description'] === undefined && value['const'] === undefined && key !== 'type') missing.push(`${path}.${key}`);
      }
      for (const [key, value] of Object.entries(node)) walk(value, `${path}/${key}`);
    };
    walk(generateSchema(catalogOf(createRunnerRegistries())), '#');
    expect(missing).toEqual([]);
  });
});

describe.each(experiments)('experiments/%s', (file) => {
  it('points editors at the schema on its first line', () => {
    const firstLine = readFileSync(join(ROOT, 'experiments', file), 'utf8').split('\n')[0];
    expect(firstLine).toBe('# yaml-language-server: $schema=../schema/experiment.schema.json');
  });
  it('validates, in its full and its --quick form', async () => {
    const result = await runner(['validate', `experiments/${file}`]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(`experiments/${file}: ok`);
    expect(result.status).toBe(0);
  });
});
