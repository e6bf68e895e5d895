import { tryImport } from '../load';
import type { Backend, BackendContext, BackendProbe, UsableBackend } from '../types';
import { NO_PARAMS, coreVersions, cpuName, missingOn, unusable, type BackendEntry } from './shared';
import { wasmBackend } from './wasm';

/** The TF.js backend name the native library registers (kept here so naming it loads nothing). */
const NATIVE_TF_BACKEND = 'native';

/**
 * The wasm backend with native kernels for the hot paths (convolutions, matrix products, pooling,
 * elementwise chains): an N-API addon over oneDNN built on `npm ci` where a compiler and the
 * libraries exist. Where it did not build, it says which Debian packages to install and how to
 * build, and `auto` moves on to wasm.
 */
function createNative(context: BackendContext): Backend {
  return {
    name: 'native',
    tfBackend: NATIVE_TF_BACKEND,
    missingKernels: missingOn(NATIVE_TF_BACKEND),
    async prepare(mode): Promise<BackendProbe> {
      // Imported only when asked for: the library loads an addon, which hosts such as a browser page lack.
      const loaded = await tryImport(context.importModule, '@dlexp/native');
      if (!loaded.ok) return unusable(`the native backend library failed to load: ${loaded.message}`, 'reinstall the workspace: npm ci');
      const native = loaded.module as unknown as typeof import('@dlexp/native');
      const probe = native.probeNativeAddon();
      if (!probe.available) return unusable(probe.reason, probe.fix);
      // Native kernels sit on the wasm backend: load it (single-threaded; the addon has its own
      // threads) with its training kernels first, so they are inherited.
      const wasm = await wasmBackend.create({}, { ...context, threads: 1 }).prepare(mode);
      if (!wasm.usable) return unusable(`the wasm backend it builds on is unusable: ${wasm.reason}`, wasm.fix);
      const registration = await native.registerNativeBackend(context.threads !== undefined ? { threads: context.threads } : {});
      const usable: UsableBackend = {
        usable: true,
        threads: registration.threads,
        device: `${cpuName()}, ${probe.device}, ${registration.threads} thread${registration.threads === 1 ? '' : 's'}`,
        versions: { ...coreVersions(), ...wasm.versions, ...Object.fromEntries(Object.entries(probe.versions).map(([k, v]) => [`native.${k}`, v])) },
      };
      return usable;
    },
  };
}

export const nativeBackend: BackendEntry = {
  name: 'native',
  description:
    'native CPU kernels (an N-API addon over oneDNN and OpenBLAS, AVX-512 where the CPU has it) on top of the wasm backend; built on npm ci where g++, libdnnl-dev and libopenblas-dev are installed',
  params: NO_PARAMS,
  create: (_params, context) => createNative(context),
};
