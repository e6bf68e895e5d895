import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { activateBackend, adapterName, createBackendRegistry, findMissingKernels, isSoftwareAdapter } from './index';
import { defaultImporter } from './load';
import type { ModuleImporter } from './types';

const GPU_PKG = '@tensorflow/tfjs-node-gpu';
const CPU_PKG = '@tensorflow/tfjs-node';

/** What a stand-in for a libtensorflow package does when "imported". */
type StandIn =
  | { kind: 'absent' }
  | { kind: 'broken'; message: string }
  | { kind: 'present'; usesGpu: boolean; kernels?: string[] };

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}' imported from /work/main/apps/runner/src`), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
}

/**
 * An importer with stand-ins for the two libtensorflow packages (neither installs here) and, when
 * asked, for the npm `webgpu` package. A present stand-in does what the real package does on
 * import: registers a 'tensorflow' TF.js backend (here a cpu backend carrying tfjs-node's
 * isUsingGpuDevice flag) and, optionally, some kernels for it.
 */
/** A stand-in for the npm `webgpu` package whose Dawn finds the given adapter (or none). */
function dawnWith(adapter: { info: Record<string, unknown> } | null): Record<string, unknown> {
  return { create: () => ({ requestAdapter: async () => adapter }), globals: {} };
}

function importerWith(
  standIns: Record<string, StandIn>,
  options: { webgpuAbsent?: boolean; dawn?: Record<string, unknown>; nativeAbsent?: boolean } = {},
): { importer: ModuleImporter; imported: string[] } {
  const imported: string[] = [];
  const importer: ModuleImporter = async (specifier) => {
    imported.push(specifier);
    if (specifier === 'webgpu' && options.webgpuAbsent === true) throw notFound(specifier);
    // The native addon is built on this machine; auto's fall-through to wasm is tested without it.
    if (specifier === '@dlexp/native' && options.nativeAbsent !== false) throw notFound(specifier);
    if (specifier === 'webgpu' && options.dawn !== undefined) return options.dawn;
    const standIn = standIns[specifier];
    if (standIn === undefined) {
      if (specifier === GPU_PKG || specifier === CPU_PKG) throw notFound(specifier);
      return defaultImporter(specifier);
    }
    if (standIn.kind === 'absent') throw notFound(specifier);
    if (standIn.kind === 'broken') throw new Error(standIn.message);
    if (tf.findBackendFactory('tensorflow') === null) {
      tf.registerBackend('tensorflow', () => {
        const cpu = tf.findBackendFactory('cpu')() as tf.KernelBackend;
        return Object.assign(cpu, { isUsingGpuDevice: standIn.usesGpu });
      });
      for (const name of standIn.kernels ?? []) {
        const cpuKernel = tf.getKernel(name, 'cpu')!;
        tf.registerKernel({ ...cpuKernel, backendName: 'tensorflow' });
      }
    }
    return { version: { 'tfjs-node': '4.22.0', tensorflow: '2.9.1' } };
  };
  return { importer, imported };
}

function cleanUpTensorflowBackend(): void {
  if (tf.findBackendFactory('tensorflow') !== null) tf.removeBackend('tensorflow');
  for (const name of ['Add', 'Conv2D']) if (tf.getKernel(name, 'tensorflow') !== undefined) tf.unregisterKernel(name, 'tensorflow');
}

async function expectConfigError(promise: Promise<unknown>, ...fragments: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  for (const f of fragments) expect((error as Error).message).toContain(f);
}

let tensorsBefore = 0;
const lines: string[] = [];
const log = (line: string) => lines.push(line);

beforeEach(async () => {
  await tf.setBackend('cpu');
  lines.length = 0;
  tensorsBefore = tf.memory().numTensors;
});

afterEach(async () => {
  await tf.setBackend('cpu');
  cleanUpTensorflowBackend();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('backend registry', () => {
  it('lists the backends in the order auto tries them, each without parameters', () => {
    const registry = createBackendRegistry();
    expect(registry.names()).toEqual(['cuda', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu']);
    for (const entry of registry.list()) {
      expect(entry.params).toEqual({});
      expect(entry.description.length).toBeGreaterThan(10);
      const backend = entry.create({}, { importModule: defaultImporter, log });
      expect(backend.name).toBe(entry.name);
      expect(backend.tfBackend).toBe(entry.name === 'cuda' ? 'tensorflow' : entry.name);
      expect(backend.missingKernels(['NoSuchKernel', 'NoSuchKernel'])).toEqual(['NoSuchKernel']);
    }
    // cpu has every kernel from the start.
    expect(registry.get('cpu').create({}, { importModule: defaultImporter, log }).missingKernels(['Conv2D', 'MaxPoolGrad'])).toEqual([]);
  });

  it('rejects an unknown name with a suggestion, as a ConfigError', async () => {
    await expectConfigError(activateBackend('wsam', { log }), "unknown backend 'wsam'", "did you mean 'wasm'", 'auto');
  });

  it('activates cpu when named', async () => {
    const active = await activateBackend('cpu', { log });
    expect(active).toMatchObject({ name: 'cpu', tfBackend: 'cpu', skipped: [] });
    expect(active.versions['tfjs-core']).toBe(tf.version_core);
    expect(tf.getBackend()).toBe('cpu');
    expect(lines[0]).toMatch(/^backend: cpu \(named/);
  });
});

describe('cuda and tensorflow with stand-in packages', () => {
  it('cuda named but not installed: ConfigError with the install command', async () => {
    const { importer } = importerWith({ [GPU_PKG]: { kind: 'absent' } });
    await expectConfigError(
      activateBackend('cuda', { log, importModule: importer }),
      "backend 'cuda' cannot be used",
      `${GPU_PKG} is not installed`,
      `npm install ${GPU_PKG}`,
      'CUDA',
    );
    expect(tf.getBackend()).toBe('cpu');
  });

  it('cuda named but failing to load: ConfigError with the loader message', async () => {
    const message = 'libcudart.so.11.0: cannot open shared object file: No such file or directory';
    const { importer } = importerWith({ [GPU_PKG]: { kind: 'broken', message } });
    await expectConfigError(activateBackend('cuda', { log, importModule: importer }), 'failed to load', message, 'npm rebuild');
  });

  it('a missing native addon inside an installed package counts as broken, not absent', async () => {
    const importer: ModuleImporter = async () => {
      throw Object.assign(new Error(`Cannot find module '/x/node_modules/${GPU_PKG}/lib/napi-v8/tfjs_binding.node'`), { code: 'MODULE_NOT_FOUND' });
    };
    await expectConfigError(activateBackend('cuda', { log, importModule: importer }), 'installed but failed to load');
  });

  it('cuda named, loaded, with a CUDA device: active, versions recorded', async () => {
    const { importer } = importerWith({ [GPU_PKG]: { kind: 'present', usesGpu: true } });
    const active = await activateBackend('cuda', { log, importModule: importer });
    expect(active).toMatchObject({ name: 'cuda', tfBackend: 'tensorflow', device: 'CUDA GPU' });
    expect(active.versions).toMatchObject({ tensorflow: '2.9.1', 'tfjs-node': '4.22.0' });
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('cuda named, loaded, but libtensorflow runs on the CPU: ConfigError, no silent fallback', async () => {
    const { importer } = importerWith({ [GPU_PKG]: { kind: 'present', usesGpu: false } });
    await expectConfigError(activateBackend('cuda', { log, importModule: importer }), 'no usable CUDA GPU', 'nvidia-smi');
  });

  it('auto takes cuda only when a CUDA device is really used', async () => {
    const { importer } = importerWith({ [GPU_PKG]: { kind: 'present', usesGpu: true } });
    const active = await activateBackend('auto', { log, importModule: importer });
    expect(active.name).toBe('cuda');
    expect(active.skipped).toEqual([]);
    expect(lines[0]).toMatch(/^backend: cuda \(picked by auto/);
  });

  it('auto passes over cuda on the CPU and uses the same libtensorflow as tensorflow', async () => {
    const { importer, imported } = importerWith({ [GPU_PKG]: { kind: 'present', usesGpu: false } });
    const active = await activateBackend('auto', { log, importModule: importer });
    expect(active.name).toBe('tensorflow');
    expect(active.skipped).toEqual([{ name: 'cuda', reason: expect.stringContaining('no usable CUDA GPU') }]);
    expect(imported).toEqual([GPU_PKG, CPU_PKG, GPU_PKG]);
    expect(lines.join('\n')).toContain('backend: skipped cuda');
  });

  it('tensorflow named with @tensorflow/tfjs-node present', async () => {
    const { importer } = importerWith({ [CPU_PKG]: { kind: 'present', usesGpu: false, kernels: ['Add'] } });
    const active = await activateBackend('tensorflow', { log, importModule: importer });
    expect(active).toMatchObject({ name: 'tensorflow', tfBackend: 'tensorflow' });
    expect(active.device).toContain('libtensorflow');
    // Kernels are looked up on the TF.js backend the entry runs as.
    expect(findMissingKernels(['Add', 'Conv2D', 'Add'], 'tensorflow')).toEqual(['Conv2D']);
    expect(findMissingKernels(['Add'], 'cuda')).toEqual([]);
  });

  it('tensorflow named with neither package: ConfigError naming the package', async () => {
    const { importer } = importerWith({});
    await expectConfigError(activateBackend('tensorflow', { log, importModule: importer }), `${CPU_PKG} is not installed`, `npm install ${CPU_PKG}`);
  });

  it('auto with no libtensorflow and no webgpu package falls through to wasm, saying why', async () => {
    const { importer } = importerWith({}, { webgpuAbsent: true });
    const active = await activateBackend('auto', { log, importModule: importer });
    expect(active.name).toBe('wasm');
    expect(active.skipped.map((s) => s.name)).toEqual(['cuda', 'tensorflow', 'webgpu', 'native']);
    expect(active.skipped[3]!.reason).toContain('the native backend library failed to load');
    expect(active.skipped[2]!.reason).toContain("'webgpu' (Dawn for Node) is not installed");
    expect(tf.getBackend()).toBe('wasm');
  });

  it('auto passes over a software WebGPU adapter, naming it', async () => {
    const llvmpipe = { info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7' } };
    const { importer, imported } = importerWith({}, { dawn: dawnWith(llvmpipe) });
    const active = await activateBackend('auto', { log, importModule: importer });
    expect(active.name).toBe('wasm');
    expect(active.skipped[2]).toEqual({ name: 'webgpu', reason: expect.stringContaining('only a software adapter (llvmpipe: Mesa 25.0.7)') });
    // Judged before TF.js's WebGPU backend is even loaded.
    expect(imported).not.toContain('@tensorflow/tfjs-backend-webgpu');
  });

  it('webgpu with no adapter at all: auto says why, naming it is a ConfigError pointing at the driver install', async () => {
    const { importer } = importerWith({}, { dawn: dawnWith(null) });
    const active = await activateBackend('auto', { log, importModule: importer });
    expect(active.skipped[2]!.reason).toContain('Dawn found no WebGPU adapter');
    await expectConfigError(activateBackend('webgpu', { log, importModule: importer }), 'no usable Vulkan driver', '.ci/install-webgpu.sh');
  });

  it('webgpu named without the webgpu package: ConfigError with the install command', async () => {
    const { importer } = importerWith({}, { webgpuAbsent: true });
    await expectConfigError(activateBackend('webgpu', { log, importModule: importer }), 'npm install webgpu');
  });
});

describe('adapter classification', () => {
  it.each([
    [{ info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7' } }, true],
    [{ info: { vendor: 'google', device: 'SwiftShader Device (Subzero)', description: '' } }, true],
    [{ info: { vendor: 'mesa', description: 'lavapipe' } }, true],
    [{ info: { vendor: 'nvidia', architecture: '', description: 'NVIDIA H100 80GB HBM3' } }, false],
    [{ info: { vendor: 'nvidia', description: 'NVIDIA H100' }, isFallbackAdapter: true }, true],
    [{ info: { vendor: 'nvidia', description: 'NVIDIA H100', isFallbackAdapter: true } }, true],
  ])('%j is software: %s', (adapter, software) => {
    expect(isSoftwareAdapter(adapter)).toBe(software);
  });

  it('names an adapter by its description, else vendor and device', () => {
    expect(adapterName({ info: { description: 'NVIDIA H100' } })).toBe('NVIDIA H100');
    expect(adapterName({ info: { vendor: 'nvidia', device: 'h100' } })).toBe('nvidia h100');
    expect(adapterName({})).toBe('unnamed adapter');
  });
});

describe('native', () => {
  it('runs when its addon is built (required in CI), else says which packages to install', async () => {
    const required = process.env['DLEXP_REQUIRE_NATIVE'] === '1';
    const attempt = await activateBackend('native', { log, threads: 1 }).catch((error: unknown) => error);
    if (attempt instanceof ConfigError) {
      expect(required).toBe(false);
      expect(attempt.message).toMatch(/apt-get install .*libdnnl-dev/);
      return;
    }
    const active = attempt as Awaited<ReturnType<typeof activateBackend>>;
    expect(active).toMatchObject({ name: 'native', tfBackend: 'native', threads: 1 });
    expect(active.device).toMatch(/oneDNN/);
    expect(tf.getBackend()).toBe('native');
    // Every kernel the course CNN trains with is there: the wasm backend's, the training kernels, the native ones.
    expect(findMissingKernels(['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', '_FusedMatMul', 'OneHot'], 'native')).toEqual([]);
  });
});
