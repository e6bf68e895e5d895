import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ParamSpec } from '@dlexp/core';
import { SCHEMA_FILE, schemaFor } from '@dlexp/config';
import { catalogOf, listedRegistries, loadPlugins, writeFileAtomic, type Registries } from '@dlexp/train';
import { EXIT, userPath, type Command } from '../cli/context';
import { EXPERIMENT_OPTIONS, flag, listOption, stringOption, type OptionValues } from '../cli/options';

/** The repository root (where the committed schema lives). */
const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function describeParam(name: string, spec: ParamSpec<unknown>): string {
  const schema = spec.schema;
  const type = spec.union !== undefined ? `a ${spec.union}` : schema['enum'] !== undefined ? (schema['enum'] as string[]).join(' | ') : String(schema['type'] ?? 'value');
  const bounds = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum']
    .filter((k) => schema[k] !== undefined)
    .map((k) => `${{ minimum: '≥', exclusiveMinimum: '>', maximum: '≤', exclusiveMaximum: '<' }[k]} ${String(schema[k])}`)
    .join(', ');
  const fallback = spec.required === true ? 'required' : spec.default !== undefined ? `default ${JSON.stringify(spec.default)}` : 'optional';
  return `    ${name} (${type}${bounds ? `, ${bounds}` : ''}; ${fallback}): ${String(schema['description'] ?? '')}`;
}

async function loadCommandLinePlugins(values: OptionValues, registries: Registries): Promise<void> {
  const plugins = listOption(values, 'plugin');
  if (plugins.length === 0) return;
  await loadPlugins(plugins.map((written) => ({ file: userPath(written), written, at: { file: '--plugin', line: 1, col: 1, path: '' } })), registries);
}

export const listCommand: Command = {
  name: 'list',
  usage: [
    ['list [kind]', 'show the registries: datasets, models, layers, activations, losses, metrics, initializers, regularizers, optimizers, schedules, ops, backends, sweeps'],
  ],
  options: { plugin: EXPERIMENT_OPTIONS['plugin']! },
  async run(kinds, values, { io, registries }) {
    await loadCommandLinePlugins(values, registries);
    const all = listedRegistries(registries);
    const wanted = kinds.length === 0 ? all : kinds.map((k) => {
      const registry = all.find((r) => r.plural === k || r.kind === k);
      if (registry === undefined) throw new ConfigError(`unknown kind '${k}' (known: ${all.map((r) => r.plural).join(', ')})`);
      return registry;
    });
    for (const registry of wanted) {
      io.out(`${registry.plural}:`);
      for (const entry of registry.list()) {
        io.out(`  ${entry.name}: ${entry.description}`);
        for (const [name, spec] of Object.entries(entry.params as Record<string, ParamSpec<unknown>>)) io.out(describeParam(name, spec));
      }
      io.out('');
    }
    return EXIT.ok;
  },
};

export const schemaCommand: Command = {
  name: 'schema',
  usage: [['schema [--check | --write] [--plugin FILE --out FILE]', 'print, check or write the experiment JSON Schema']],
  options: {
    check: { type: 'boolean', help: 'fail if the committed schema differs from the generated one' },
    write: { type: 'boolean', help: 'write the generated schema file' },
    out: { type: 'string', arg: 'FILE', help: 'where --write writes (needed with --plugin: the committed schema has no plugins)' },
    plugin: EXPERIMENT_OPTIONS['plugin']!,
  },
  async run(_rest, values, { io, registries }) {
    await loadCommandLinePlugins(values, registries);
    const text = `${JSON.stringify(schemaFor(catalogOf(registries)), null, 2)}\n`;
    const out = stringOption(values, 'out');
    if (listOption(values, 'plugin').length > 0 && flag(values, 'write') && out === undefined) {
      throw new ConfigError('schema --write with --plugin needs --out FILE (the committed schema has no plugins)');
    }
    const file = out !== undefined ? userPath(out) : join(REPOSITORY_ROOT, SCHEMA_FILE);
    if (flag(values, 'write')) {
      writeFileAtomic(file, text);
      io.out(`wrote ${out ?? SCHEMA_FILE}`);
    } else if (flag(values, 'check')) {
      const committed = existsSync(file) ? readFileSync(file, 'utf8') : '';
      if (committed !== text) {
        io.err(`${out ?? SCHEMA_FILE} is out of date with the registries; run: npx runner schema --write`);
        return EXIT.failed;
      }
      io.out(`${out ?? SCHEMA_FILE} is up to date`);
    } else io.out(text.trimEnd());
    return EXIT.ok;
  },
};
