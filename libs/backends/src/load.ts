import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ModuleImporter } from './types';

export type ImportResult =
  | { ok: true; module: Record<string, unknown> }
  | { ok: false; absent: boolean; message: string };

/**
 * Imports an optional package and tells "not installed" apart from "installed but broken".
 * Only a missing package named exactly `specifier` counts as absent: a native addon or a
 * dependency of it that is missing means the package is there but cannot load.
 */
export async function tryImport(importModule: ModuleImporter, specifier: string): Promise<ImportResult> {
  try {
    const loaded = await importModule(specifier);
    const module = (typeof loaded === 'object' && loaded !== null ? loaded : {}) as Record<string, unknown>;
    return { ok: true, module };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: unknown } | null)?.code;
    const notFound = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    const absent = notFound && message.includes(`'${specifier}'`);
    return { ok: false, absent, message: firstLine(message) };
  }
}

/**
 * A named export of an imported module. A CommonJS package imported from ESM, or through a
 * bundler, may carry its exports on `default` instead of the namespace itself.
 */
export function exported(module: Record<string, unknown>, name: string): unknown {
  if (module[name] !== undefined) return module[name];
  const fallback = module['default'];
  return typeof fallback === 'object' && fallback !== null ? (fallback as Record<string, unknown>)[name] : undefined;
}

export function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * The default importer. Specifiers the runner always ships with are written out literally so a
 * bundler can see and bundle them; the optional libtensorflow packages stay dynamic (they are
 * never bundled and are often absent).
 */
export const defaultImporter: ModuleImporter = (specifier) => {
  switch (specifier) {
    case '@tensorflow/tfjs-backend-wasm':
      return import('@tensorflow/tfjs-backend-wasm');
    case '@tensorflow/tfjs-backend-webgpu':
      return import('@tensorflow/tfjs-backend-webgpu');
    case 'webgpu':
      return import('webgpu');
    case '@dlexp/native':
      return import('@dlexp/native');
    default:
      return import(specifier);
  }
};

const localRequire = createRequire(import.meta.url);

/** The installed version of a package, read from its package.json; undefined when unknown. */
export function packageVersion(name: string): string | undefined {
  try {
    const file = localRequire.resolve(`${name}/package.json`);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : undefined;
  } catch {
    return undefined;
  }
}

/** A package's main file (for wasm: its Node bundle). */
export function packageMainFile(name: string): string {
  return localRequire.resolve(name);
}

/** The folder of a package's main file (the wasm binaries sit beside it in dist/). */
export function packageMainDir(name: string): string {
  return path.dirname(localRequire.resolve(name));
}
