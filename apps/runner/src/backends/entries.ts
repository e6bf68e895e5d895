/**
 * The five backend entries. Each loads its own packages (dynamically, so a missing optional
 * package is an answer, not a crash), says whether it is usable here and why not, and how to fix it.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { RegistryEntry } from '@dlexp/core';
import { defaultImporter, exported, packageMainDir, packageMainFile, packageVersion, tryImport } from './load';
import type { Backend, BackendContext, BackendProbe, RequestMode, UnusableBackend, UsableBackend } from './types';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { initThreadedWasm } from './wasm-threads';

export type BackendEntry = RegistryEntry<Record<string, never>, BackendContext, Backend>;

const NO_PARAMS = {} as const;

/** Kernel lookups go to the TF.js backend an entry runs as. */
function missingOn(tfBackend: string): (kernelNames: string[]) => string[] {
  return (kernelNames) => [...new Set(kernelNames)].filter((name) => tf.getKernel(name, tfBackend) === undefined).sort();
}

function unusable(reason: string, fix: string): UnusableBackend {
  return { usable: false, reason, fix };
}

function coreVersions(): Record<string, string> {
  return { 'tfjs-core': tf.version_core, node: process.versions.node };
}

function cpuName(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  return `${model} (${cpus.length} cores)`;
}

/** Versions a libtensorflow package reports about itself (`version: {'tfjs-node': ..., tensorflow: ...}`). */
function reportedVersions(module: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const version = exported(module, 'version');
  if (typeof version === 'object' && version !== null) {
    for (const [key, value] of Object.entries(version)) if (typeof value === 'string') out[key] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// libtensorflow: cuda and tensorflow

const NODE_GPU = '@tensorflow/tfjs-node-gpu';
const NODE_CPU = '@tensorflow/tfjs-node';
/** TF.js 4.22's libtensorflow is TensorFlow 2.9, built against these CUDA libraries. */
const CUDA_REQUIREMENTS = 'Linux x64 with an NVIDIA driver and the CUDA 11.2 + cuDNN 8.1 libraries on LD_LIBRARY_PATH';

async function loadLibtensorflow(context: BackendContext, specifier: string): Promise<{ module: Record<string, unknown> } | UnusableBackend> {
  const loaded = await tryImport(context.importModule, specifier);
  if (!loaded.ok) {
    return loaded.absent
      ? unusable(`${specifier} is not installed`, `install it: npm install ${specifier}`)
      : unusable(
          `${specifier} is installed but failed to load: ${loaded.message}`,
          `its install step downloads libtensorflow; rerun it with network access (npm rebuild ${specifier})`,
        );
  }
  // Importing the package registers the 'tensorflow' TF.js backend as a side effect.
  if (tf.findBackendFactory('tensorflow') === null) {
    return unusable(`${specifier} loaded but registered no 'tensorflow' backend`, `reinstall ${specifier} ${tf.version_core}`);
  }
  return { module: loaded.module };
}

/** Whether libtensorflow placed its ops on a CUDA device: tfjs-node's backend says so itself. */
function usesCudaDevice(): boolean {
  const active = tf.findBackend('tensorflow') as unknown as { isUsingGpuDevice?: unknown } | null;
  return active?.isUsingGpuDevice === true;
}

function createCuda(context: BackendContext): Backend {
  let versions: Record<string, string> = {};
  return {
    name: 'cuda',
    tfBackend: 'tensorflow',
    missingKernels: missingOn('tensorflow'),
    async prepare(): Promise<BackendProbe> {
      const loaded = await loadLibtensorflow(context, NODE_GPU);
      if ('usable' in loaded) {
        return { ...loaded, fix: `${loaded.fix} (needs ${CUDA_REQUIREMENTS})` };
      }
      versions = { ...coreVersions(), ...reportedVersions(loaded.module), [NODE_GPU]: packageVersion(NODE_GPU) ?? 'unknown' };
      return { usable: true, device: 'CUDA GPU', versions };
    },
    async confirm(): Promise<BackendProbe> {
      // tfjs-node-gpu falls back to the CPU silently when it finds no CUDA device or libraries.
      if (!usesCudaDevice()) {
        return unusable(
          `${NODE_GPU} loaded, but libtensorflow found no usable CUDA GPU and would run on the CPU`,
          `check nvidia-smi and ${CUDA_REQUIREMENTS}; or use backend: tensorflow for libtensorflow on the CPU`,
        );
      }
      return { usable: true, device: 'CUDA GPU', versions };
    },
  };
}

function createTensorflow(context: BackendContext): Backend {
  let versions: Record<string, string> = {};
  return {
    name: 'tensorflow',
    tfBackend: 'tensorflow',
    missingKernels: missingOn('tensorflow'),
    async prepare(): Promise<BackendProbe> {
      const cpu = await loadLibtensorflow(context, NODE_CPU);
      if (!('usable' in cpu)) {
        versions = { ...coreVersions(), ...reportedVersions(cpu.module), [NODE_CPU]: packageVersion(NODE_CPU) ?? 'unknown' };
        return { usable: true, device: `CPU (libtensorflow): ${cpuName()}`, versions };
      }
      // The GPU build of libtensorflow runs on the CPU just as well when it has no GPU; if the
      // cuda probe (or the user) installed only that one, use it rather than give up.
      const gpuBuild = await loadLibtensorflow(context, NODE_GPU);
      if (!('usable' in gpuBuild)) {
        versions = { ...coreVersions(), ...reportedVersions(gpuBuild.module), [NODE_GPU]: packageVersion(NODE_GPU) ?? 'unknown' };
        return { usable: true, device: `libtensorflow from ${NODE_GPU}`, versions, note: `${NODE_CPU} is absent; using ${NODE_GPU}` };
      }
      return unusable(cpu.reason, `${cpu.fix} (prebuilt libtensorflow for Linux x64, macOS and Windows)`);
    },
    async confirm(): Promise<BackendProbe> {
      const device = usesCudaDevice() ? 'CUDA GPU (libtensorflow)' : `CPU (libtensorflow): ${cpuName()}`;
      return { usable: true, device, versions };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// webgpu: Dawn through the npm package `webgpu`

const WEBGPU_FIX_NO_ADAPTER =
  'install a Vulkan driver: the GPU vendor driver, or Mesa >= 25 lavapipe for a software adapter (see .ci/install-webgpu.sh)';

/** The parts of GPUAdapter / GPUAdapterInfo read here (Dawn for Node implements both). */
interface AdapterLike {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
}
interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

/** Software rasterizers that expose Vulkan: they run WebGPU on the CPU, slower than wasm. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|basic render/i;

export function isSoftwareAdapter(adapter: AdapterLike): boolean {
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter === true || info.isFallbackAdapter === true) return true;
  if (info.architecture === 'software') return true;
  return SOFTWARE_ADAPTER.test(`${info.description ?? ''} ${info.device ?? ''} ${info.vendor ?? ''}`);
}

export function adapterName(adapter: AdapterLike): string {
  const info = adapter.info ?? {};
  const description = info.description?.trim() ?? '';
  if (description !== '') return description;
  const parts = [info.vendor, info.architecture, info.device].filter((p): p is string => p !== undefined && p !== '');
  return parts.length > 0 ? parts.join(' ') : 'unnamed adapter';
}

/** One GPU object per `create` function: Dawn's instance is made once per process. */
const gpuByCreate = new WeakMap<object, GpuLike>();

/**
 * Gives Node the browser globals TF.js's WebGPU backend expects: the GPU* constants (the
 * package's `globals`) and navigator.gpu. Must happen before @tensorflow/tfjs-backend-webgpu is
 * first imported, because that import registers the backend only if navigator.gpu exists.
 */
function installNavigatorGpu(module: Record<string, unknown>): GpuLike {
  const create = exported(module, 'create') as ((flags: string[]) => GpuLike) | undefined;
  const globals = exported(module, 'globals') as Record<string, unknown> | undefined;
  if (typeof create !== 'function' || globals === undefined) {
    throw new Error("the package 'webgpu' has no create()/globals exports");
  }
  const known = gpuByCreate.get(create);
  if (known !== undefined) return known;
  const scope = globalThis as Record<string, unknown>;
  for (const [key, value] of Object.entries(globals)) if (!(key in scope)) scope[key] = value;
  const gpu = create([]);
  const navigator = scope['navigator'] as Record<string, unknown> | undefined;
  // navigator.gpu always becomes this module's GPU: TF.js asks navigator.gpu for its adapter, and
  // one left by an earlier, different module (another Dawn build, a test's stand-in) would hand it
  // adapters this module's device code cannot use.
  if (navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
  gpuByCreate.set(create, gpu);
  return gpu;
}

/**
 * The adapter Dawn offers, asked for in a short-lived child process whose output is kept from the
 * user. Null when there is none; undefined when the child could not tell (then the caller asks
 * in-process, as it would anyway).
 */
function adapterSeenByChildProcess(): AdapterLike | null | undefined {
  let modulePath: string;
  try {
    modulePath = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return undefined;
  }
  const script = `const { create } = require(${JSON.stringify(modulePath)});
create([]).requestAdapter({ powerPreference: 'high-performance' }).then((a) => {
  const info = a ? { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description, isFallbackAdapter: a.info.isFallbackAdapter } : null;
  process.stdout.write(JSON.stringify(a ? { info, isFallbackAdapter: a.isFallbackAdapter } : null));
  process.exit(0);
}, () => process.exit(3));`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] });
  if (child.status !== 0 || child.stdout === '') return undefined;
  try {
    return JSON.parse(child.stdout) as AdapterLike | null;
  } catch {
    return undefined;
  }
}

function createWebgpu(context: BackendContext): Backend {
  return {
    name: 'webgpu',
    tfBackend: 'webgpu',
    missingKernels: missingOn('webgpu'),
    async prepare(mode: RequestMode): Promise<BackendProbe> {
      const dawn = await tryImport(context.importModule, 'webgpu');
      if (!dawn.ok) {
        return dawn.absent
          ? unusable("the package 'webgpu' (Dawn for Node) is not installed", 'install it: npm install webgpu')
          : unusable(`the package 'webgpu' failed to load: ${dawn.message}`, 'reinstall it: npm install webgpu');
      }
      if (mode === 'auto' && context.importModule === defaultImporter) {
        // Asked in a child process first: Dawn prints warnings to stderr while it enumerates a
        // software (Mesa) adapter, and `auto` passes over software adapters anyway, so on most
        // machines without a GPU nothing of Dawn needs to load here at all.
        const seen = adapterSeenByChildProcess();
        if (seen === null) return unusable('Dawn found no WebGPU adapter (no usable Vulkan driver)', WEBGPU_FIX_NO_ADAPTER);
        if (seen !== undefined && isSoftwareAdapter(seen)) {
          return unusable(
            `only a software adapter (${adapterName(seen)}), which runs on the CPU and is slower than wasm`,
            'name it (backend: webgpu) to use it anyway, or install a GPU driver',
          );
        }
      }
      let adapter: AdapterLike | null;
      try {
        // Same request TF.js's backend makes, so the adapter judged here is the one it gets.
        adapter = await installNavigatorGpu(dawn.module).requestAdapter({ powerPreference: 'high-performance' });
      } catch (error) {
        return unusable(`Dawn could not look for an adapter: ${error instanceof Error ? error.message : String(error)}`, WEBGPU_FIX_NO_ADAPTER);
      }
      if (adapter === null) return unusable('Dawn found no WebGPU adapter (no usable Vulkan driver)', WEBGPU_FIX_NO_ADAPTER);
      const name = adapterName(adapter);
      const software = isSoftwareAdapter(adapter);
      if (software && mode === 'auto') {
        return unusable(
          `only a software adapter (${name}), which runs on the CPU and is slower than wasm`,
          'name it (backend: webgpu) to use it anyway, or install a GPU driver',
        );
      }
      const tfWebgpu = await tryImport(context.importModule, '@tensorflow/tfjs-backend-webgpu');
      if (!tfWebgpu.ok) {
        return unusable(
          `@tensorflow/tfjs-backend-webgpu ${tfWebgpu.absent ? 'is not installed' : `failed to load: ${tfWebgpu.message}`}`,
          `install it: npm install @tensorflow/tfjs-backend-webgpu@${tf.version_core}`,
        );
      }
      if (tf.findBackendFactory('webgpu') === null) {
        return unusable(
          '@tensorflow/tfjs-backend-webgpu did not register its backend (it was imported before navigator.gpu existed)',
          'import @tensorflow/tfjs-backend-webgpu only through the runner',
        );
      }
      const versions: Record<string, string> = {
        ...coreVersions(),
        'tfjs-backend-webgpu': String(exported(tfWebgpu.module, 'version_webgpu') ?? packageVersion('@tensorflow/tfjs-backend-webgpu') ?? 'unknown'),
        webgpu: packageVersion('webgpu') ?? 'unknown',
      };
      const info = adapter.info ?? {};
      const device = [info.vendor, info.architecture, info.device].filter((p) => p !== undefined && p !== '').join(' ');
      const probe: UsableBackend = { usable: true, adapter: name, versions };
      if (device !== '') probe.device = device;
      if (software) probe.note = `software adapter ${name}: runs on the CPU; used because it was named`;
      return probe;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// wasm and cpu

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
      const wanted = context.wasmThreads ?? 1;
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
        device: `${cpuName()}, ${simd === true ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}`,
        versions: { ...coreVersions(), 'tfjs-backend-wasm': String(exported(loaded.module, 'version_wasm') ?? packageVersion(specifier) ?? 'unknown') },
      };
      if (note !== undefined) probe.note = note;
      return probe;
    },
  };
}

function createCpu(): Backend {
  return {
    name: 'cpu',
    tfBackend: 'cpu',
    missingKernels: missingOn('cpu'),
    async prepare(): Promise<BackendProbe> {
      return { usable: true, device: `${cpuName()} (pure JS)`, versions: { ...coreVersions(), 'tfjs-backend-cpu': tf.version['tfjs-backend-cpu'] } };
    },
  };
}

/** In the order `auto` tries them: fastest first. */
export const BACKEND_ENTRIES: BackendEntry[] = [
  {
    name: 'cuda',
    description: 'libtensorflow on an NVIDIA GPU (@tensorflow/tfjs-node-gpu); auto picks it only when a CUDA device is really used',
    params: NO_PARAMS,
    create: (_params, context) => createCuda(context),
  },
  {
    name: 'tensorflow',
    description: 'libtensorflow on the CPU (@tensorflow/tfjs-node)',
    params: NO_PARAMS,
    create: (_params, context) => createTensorflow(context),
  },
  {
    name: 'webgpu',
    description:
      'WebGPU through Dawn (the npm package webgpu) and @tensorflow/tfjs-backend-webgpu; auto picks it only with a hardware adapter, naming it allows a software one',
    params: NO_PARAMS,
    create: (_params, context) => createWebgpu(context),
  },
  {
    name: 'wasm',
    description: 'WebAssembly with XNNPACK and SIMD (@tensorflow/tfjs-backend-wasm), plus training kernels it lacks',
    params: NO_PARAMS,
    create: (_params, context) => createWasm(context),
  },
  {
    name: 'cpu',
    description: 'pure JavaScript kernels: always available, slowest',
    params: NO_PARAMS,
    create: () => createCpu(),
  },
];
