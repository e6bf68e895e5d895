import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, type Diagnostic } from '@dlexp/core';
import { ExperimentSource } from '@dlexp/config';
import { invalidateCatalog, type Registries } from './registries';

/** The registries a plugin may add entries to. */
export type PluginRegistries = Pick<Registries, 'datasets' | 'optimizers' | 'schedules'> & Registries['modelRegistries'];

/**
 * A plugin module exports `register` (or a default function) taking the registries; it adds
 * entries with `registries.layers.register({...})` and so on, exactly as the built-in ones are.
 */
export type PluginRegister = (registries: PluginRegistries) => void | Promise<void>;

/** A plugin to load, and where it was named (for errors). */
export interface PluginReference {
  /** Absolute path of the module. */
  file: string;
  /** How the user wrote it. */
  written: string;
  /** Where it was named: a YAML position, `--plugin`, or a package.json. */
  at: Omit<Diagnostic, 'message'>;
}

const loaded = new WeakMap<Registries, Set<string>>();

/** Loads plugins into the registries (each module once per registries object). */
export async function loadPlugins(plugins: PluginReference[], registries: Registries, importModule: (url: string) => Promise<unknown> = (url) => import(url)): Promise<void> {
  const done = loaded.get(registries) ?? new Set<string>();
  loaded.set(registries, done);
  const target: PluginRegistries = { datasets: registries.datasets, optimizers: registries.optimizers, schedules: registries.schedules, ...registries.modelRegistries };
  for (const plugin of plugins) {
    if (done.has(plugin.file)) continue;
    const fail = (what: string, error: unknown) =>
      new ConfigError([{ ...plugin.at, message: `plugin ${plugin.written} ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` }]);
    if (!existsSync(plugin.file)) throw new ConfigError([{ ...plugin.at, message: `plugin ${plugin.written}: no such file (${plugin.file})` }]);
    let module: Record<string, unknown>;
    try {
      module = (await importModule(pathToFileURL(plugin.file).href)) as Record<string, unknown>;
    } catch (error) {
      throw fail('failed to load', error);
    }
    const register = (module['register'] ?? module['default']) as PluginRegister | undefined;
    if (typeof register !== 'function') {
      throw new ConfigError([{ ...plugin.at, message: `plugin ${plugin.written} exports no register function (export function register(registries) { ... })` }]);
    }
    try {
      await register(target);
    } catch (error) {
      throw fail('failed while registering', error);
    }
    done.add(plugin.file);
    invalidateCatalog(registries);
  }
}

/** The `plugins:` an experiment (or a base it extends) names, resolved against the file that names them. */
export function pluginsOfExperiment(file: string, displayName: string): PluginReference[] {
  const source = ExperimentSource.read(file, displayName);
  const written = source.toData()['plugins'];
  if (!Array.isArray(written)) return [];
  return written.map((path, i) => {
    const where = source.diagnostic(['plugins', i], '');
    return { file: resolve(dirname(source.fileOf(['plugins', i])), String(path)), written: String(path), at: { file: where.file, line: where.line, col: where.col, path: where.path } };
  });
}

/**
 * Workspace plugins: `"dlexp": {"plugins": [...]}` in the nearest package.json at or above
 * `directory` (the workspace's own), paths relative to that package.json.
 */
export function workspacePlugins(directory: string): PluginReference[] {
  for (let dir = resolve(directory); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      let manifest: { dlexp?: { plugins?: unknown } };
      try {
        manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest;
      } catch {
        return [];
      }
      const list = manifest.dlexp?.plugins;
      if (!Array.isArray(list)) return [];
      return list.map((path, i) => ({ file: resolve(dir, String(path)), written: String(path), at: { file, line: 1, col: 1, path: `dlexp.plugins.${i}` } }));
    }
    if (dirname(dir) === dir) return [];
  }
}
