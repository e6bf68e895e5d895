import * as tf from '@tensorflow/tfjs';
import { exported, packageMainDir, packageMainFile, packageVersion, tryImport } from '../load';
import type { Backend, BackendContext, BackendProbe, UsableBackend } from '../types';
import { registerWasmTrainingKernels } from '../wasm-kernels/register-all';
import { initThreadedWasm } from '../wasm-threads';
import { NO_PARAMS, coreVersions, cpuName, missingOn, unusable, type BackendEntry } from './shared';

/**
 * One thread unless asked for more: the multi-threaded build speeds up only large convolutions,
 * and only while the other cores are idle (see bench/README.md for the measurements).
 */
export const DEFAULT_WASM_THREADS = 1;

function createWasm(context: BackendContext): Backend {
  return {
    name: 'wasm',
    tfBackend: 'wasm',
    missingKernels: missingOn('wasm'),
    async prepare(): Promise<BackendProbe> {
      const specifier = '@tensorflow/tfjs-backend-wasm';
      const loaded = await tryImport(context.importModule, specifier);
      if (!loaded.ok) {
        return loaded.absent
          ? unusable(`${specifier} is not installed`, `install it: npm install ${specifier}@${tf.version_core}`)
          : unusable(`${specifier} failed to load: ${loaded.message}`, `reinstall it: npm install ${specifier}@${tf.version_core}`);
      }
      // In Node the .wasm binaries are read from disk: point the loader at the package's dist/.
      // Once the backend is initialised the paths are fixed (and setting them again throws).
      const setWasmPaths = exported(loaded.module, 'setWasmPaths') as ((prefix: string) => void) | undefined;
      if (setWasmPaths !== undefined && tf.engine().registry['wasm'] === undefined) {
        try {
          setWasmPaths(`${packageMainDir(specifier)}/`);
        } catch (error) {
          if (!(error instanceof Error && /already initialized/i.test(error.message))) throw error;
        }
      }
      registerWasmTrainingKernels();
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      const wanted = context.threads ?? DEFAULT_WASM_THREADS;
      let note: string | undefined;
      if (wanted > 1) {
        if (tf.engine().registry['wasm'] === undefined) {
          const started = await initThreadedWasm(loaded.module, packageMainFile(specifier), wanted);
          if (started.threads < wanted) note = `asked for ${wanted} wasm threads, XNNPACK runs ${started.threads}`;
        } else {
          note = `wasm threads: the backend is already running single-threaded in this process; ${wanted} threads need a fresh process`;
        }
      }
      const getThreadsCount = exported(loaded.module, 'getThreadsCount') as (() => number) | undefined;
      const threads = tf.engine().registry['wasm'] !== undefined && getThreadsCount !== undefined ? getThreadsCount() : 1;
      const probe: UsableBackend = {
        usable: true,
        threads,
        device: `${cpuName()}, ${simd === true ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}`,
        versions: { ...coreVersions(), 'tfjs-backend-wasm': String(exported(loaded.module, 'version_wasm') ?? packageVersion(specifier) ?? 'unknown') },
      };
      if (note !== undefined) probe.note = note;
      return probe;
    },
  };
}

export const wasmBackend: BackendEntry = {
  name: 'wasm',
  description: 'WebAssembly with XNNPACK and SIMD (@tensorflow/tfjs-backend-wasm), plus training kernels it lacks',
  params: NO_PARAMS,
  create: (_params, context) => createWasm(context),
};
