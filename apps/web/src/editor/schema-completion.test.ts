import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '@dlexp/core';
import { completeAt } from './schema-completion';

// The committed schema: the same one the CLI validates against (a test elsewhere keeps it current).
const schema = JSON.parse(readFileSync(new URL('../../../../schema/experiment.schema.json', import.meta.url), 'utf8')) as JsonSchema;

/** Completions where `|` stands in the text. */
function at(textWithCursor: string) {
  const offset = textWithCursor.indexOf('|');
  const result = completeAt(textWithCursor.replace('|', ''), offset, schema);
  return { from: result?.from, labels: result?.options.map((o) => o.label) ?? [], options: result?.options ?? [] };
}

describe('completion from the experiment schema', () => {
  it('offers the top-level keys not written yet, with their descriptions', () => {
    const { labels, options } = at('name: x\nse|');
    expect(labels).toContain('seed');
    expect(labels).toContain('train');
    expect(labels).not.toContain('name');
    expect(options.find((o) => o.label === 'seed')).toMatchObject({ apply: 'seed: ', kind: 'property' });
    expect(options.find((o) => o.label === 'seed')!.info).toMatch(/random/i);
  });

  it('offers the registry names at a type, and an entry\'s own parameters once its type is known', () => {
    expect(at('train:\n  optimizer:\n    type: |\n').labels).toEqual(expect.arrayContaining(['sgd', 'adam', 'momentum']));
    const adam = at('train:\n  optimizer:\n    type: adam\n    |\n').labels;
    expect(adam).toEqual(expect.arrayContaining(['learningRate', 'beta1', 'beta2']));
    expect(adam).not.toContain('type');
    expect(at('train:\n  optimizer:\n    type: sgd\n    |\n').labels).not.toContain('beta1');
  });

  it('completes inside flow mappings of a layer list', () => {
    const text = 'model:\n  type: sequential\n  layers:\n    - {type: conv2d, fil|}\n';
    const { labels, from } = at(text);
    expect(labels).toEqual(expect.arrayContaining(['filters', 'kernelSize', 'padding']));
    expect(from).toBe(text.indexOf('fil'));
    expect(at('model:\n  type: sequential\n  layers:\n    - {type: |}\n').labels).toEqual(expect.arrayContaining(['dense', 'conv2d', 'maxPool', 'dropout']));
    expect(at('model:\n  type: sequential\n  layers:\n    - |\n').labels[0]).toBe('type');
  });

  it('offers enum values and booleans, and nothing in comments or expressions', () => {
    // Exactly the schema's own enum, in its order (the backend registry feeds it).
    const backends = (schema['properties'] as Record<string, JsonSchema>)['backend']!['enum'];
    expect(backends).toEqual(expect.arrayContaining(['auto', 'native', 'wasm', 'cpu']));
    expect(at('backend: |').labels).toEqual(backends);
    expect(at('train:\n  shuffle: |\n').labels).toEqual(['true', 'false']);
    expect(at('# a comment se|').labels).toEqual([]);
    expect(at('model:\n  type: ops\n  nodes:\n    loss: reduceMean(squ|)\n').labels).toEqual([]);
  });

  it('offers the dataset names and a dataset\'s parameters', () => {
    expect(at('data: {type: |}').labels).toEqual(expect.arrayContaining(['mnist', 'synthetic', 'csv', 'fashion-mnist']));
    expect(at('data:\n  type: mnist\n  |\n').labels).toEqual(expect.arrayContaining(['flatten', 'oneHot', 'limit', 'normalize']));
  });
});
