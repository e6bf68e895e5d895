import * as tf from '@tensorflow/tfjs';
import { defaultImporter, exported, packageVersion, tryImport } from '../load';
import type { Backend, BackendContext, BackendProbe, RequestMode, UsableBackend } from '../types';
import { NO_PARAMS, coreVersions, missingOn, unusable, type BackendEntry } from './shared';

const WEBGPU_FIX_NO_ADAPTER =
  'install a Vulkan driver: the GPU vendor driver, or Mesa >= 25 lavapipe for a software adapter (see .ci/install-webgpu.sh)';

/** The parts of GPUAdapter / GPUAdapterInfo read here (Dawn for Node implements both). */
export interface AdapterLike {
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
      if (mode === 'auto' && context.importModule === defaultImporter && context.probeWebgpuAdapter !== undefined) {
        // Asked in a child process first (the host provides it): Dawn prints warnings to stderr
        // while it enumerates a software (Mesa) adapter, and `auto` passes over software adapters
        // anyway, so on most machines without a GPU nothing of Dawn needs to load here at all.
        const seen = context.probeWebgpuAdapter();
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

export const webgpuBackend: BackendEntry = {
  name: 'webgpu',
  description: 'WebGPU through Dawn (the npm package webgpu) and @tensorflow/tfjs-backend-webgpu; auto picks it only with a hardware adapter, naming it allows a software one',
  params: NO_PARAMS,
  create: (_params, context) => createWebgpu(context),
};
