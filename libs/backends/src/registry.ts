import * as tf from '@tensorflow/tfjs';
import { ConfigError, Registry, UnknownNameError } from '@dlexp/core';
import { cpuBackend } from './entries/cpu';
import { cudaBackend } from './entries/cuda';
import { nativeBackend } from './entries/native';
import { tensorflowBackend } from './entries/tensorflow';
import { wasmBackend } from './entries/wasm';
import { webgpuBackend } from './entries/webgpu';
import type { BackendEntry } from './entries/shared';
import { defaultImporter } from './load';
import type { ActiveBackend, Backend, BackendContext, BackendProbe, ModuleImporter, RequestMode, UsableBackend } from './types';

export type BackendRegistry = Registry<BackendContext, Backend>;

/** The value of `backend:` that tries every entry in order. */
export const AUTO = 'auto';

/**
 * Every backend, in the order `auto` tries them: fastest first. Adding a backend is one file in
 * entries/ and one line here; the schema's enum, `runner list`, `auto` and preflight all read it.
 */
export const BACKEND_ENTRIES: readonly BackendEntry[] = [cudaBackend, tensorflowBackend, webgpuBackend, nativeBackend, wasmBackend, cpuBackend];

/** What `backend:` accepts: auto or a registry name. */
export function backendChoices(registry: BackendRegistry = createBackendRegistry()): string[] {
  return [AUTO, ...registry.names()];
}

/** A fresh registry of the backends, in the order `auto` tries them. */
export function createBackendRegistry(): BackendRegistry {
  const registry: BackendRegistry = new Registry('backend', 'backends');
  for (const entry of BACKEND_ENTRIES) registry.register(entry);
  return registry;
}

export interface ActivateOptions {
  log: (line: string) => void;
  /** Replaces dynamic import(); tests use it to stand in for packages that cannot install here. */
  importModule?: ModuleImporter;
  registry?: BackendRegistry;
  /** Threads for CPU backends (`threads:` / `--threads`); undefined: each backend's default. */
  threads?: number;
  /** See BackendContext.probeWebgpuAdapter. */
  probeWebgpuAdapter?: BackendContext['probeWebgpuAdapter'];
}

/**
 * Loads and switches TF.js to a backend. `auto` takes the first usable one of the registry's
 * order and logs why it passed over the others; a named backend that cannot run throws a
 * ConfigError saying what is missing and how to install it (never a silent fallback).
 */
export async function activateBackend(requested: string, options: ActivateOptions): Promise<ActiveBackend> {
  const registry = options.registry ?? createBackendRegistry();
  const context: BackendContext = { importModule: options.importModule ?? defaultImporter, log: options.log };
  if (options.threads !== undefined) context.threads = options.threads;
  if (options.probeWebgpuAdapter !== undefined) context.probeWebgpuAdapter = options.probeWebgpuAdapter;
  if (requested !== AUTO && !registry.has(requested)) {
    throw new ConfigError(new UnknownNameError('backend', requested, [AUTO, ...registry.names()]).message);
  }
  if (requested !== AUTO) {
    const backend = registry.get(requested).create({}, context);
    const probe = await tryBackend(backend, 'explicit');
    if (!probe.usable) {
      throw new ConfigError(`backend '${requested}' cannot be used: ${probe.reason}. To fix: ${probe.fix}.`);
    }
    return report(backend, probe, [], options.log, 'named');
  }
  const skipped: { name: string; reason: string }[] = [];
  for (const entry of registry.list()) {
    const backend = entry.create({}, context);
    const probe = await tryBackend(backend, 'auto');
    if (probe.usable) return report(backend, probe, skipped, options.log, 'auto');
    skipped.push({ name: backend.name, reason: probe.reason });
  }
  // cpu is always usable; reaching here means the registry was built without it.
  throw new ConfigError(`no backend is usable: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

async function tryBackend(backend: Backend, mode: RequestMode): Promise<BackendProbe> {
  const prepared = await backend.prepare(mode);
  if (!prepared.usable) return prepared;
  // setBackend answers false (after a console warning) when the backend's factory throws.
  const switched = await tf.setBackend(backend.tfBackend).catch(() => false);
  if (!switched) {
    return { usable: false, reason: `the TF.js backend '${backend.tfBackend}' failed to initialise`, fix: 'see the warning above' };
  }
  await tf.ready();
  if (backend.confirm === undefined) return prepared;
  const confirmed = await backend.confirm(mode);
  return confirmed.usable ? { ...prepared, ...confirmed, versions: { ...prepared.versions, ...confirmed.versions } } : confirmed;
}

function report(
  backend: Backend,
  probe: UsableBackend,
  skipped: { name: string; reason: string }[],
  log: (line: string) => void,
  how: 'auto' | 'named',
): ActiveBackend {
  const where = [probe.adapter, probe.device].filter((p) => p !== undefined).join('; ');
  log(`backend: ${backend.name} (${how === 'auto' ? 'picked by auto' : 'named'}${where === '' ? '' : `; ${where}`})`);
  for (const s of skipped) log(`backend: skipped ${s.name}: ${s.reason}`);
  if (probe.note !== undefined) log(`backend: note: ${probe.note}`);
  const active: ActiveBackend = { name: backend.name, tfBackend: backend.tfBackend, versions: probe.versions, skipped };
  if (probe.adapter !== undefined) active.adapter = probe.adapter;
  if (probe.device !== undefined) active.device = probe.device;
  if (probe.threads !== undefined) active.threads = probe.threads;
  return active;
}
