import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { registerWasmTrainingKernels } from '@dlexp/backends';

/**
 * The backends a page can train on, best first: WebGPU (the browser's own, when it has an
 * adapter), WebGL, wasm (XNNPACK with SIMD, plus the training kernels of @dlexp/backends) and
 * plain JavaScript. `auto` passes over software GPUs (SwiftShader, llvmpipe): on a CPU, wasm is faster.
 */
export const PAGE_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type PageBackendName = (typeof PAGE_BACKENDS)[number];
export type PageBackendChoice = 'experiment' | PageBackendName;

export interface PageBackend {
  name: PageBackendName;
  /** The adapter or renderer, and for wasm whether SIMD runs. */
  device: string;
  /** Better backends `auto` passed over, and why. */
  skipped: { name: string; reason: string }[];
}

// The wasm binaries are part of the bundle: the backend fetches them from this server, never a CDN.
setWasmPaths({ 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd });

const SOFTWARE_RENDERER = /swiftshader|llvmpipe|lavapipe|softpipe|basic render|software/i;

interface Probe {
  usable: boolean;
  reason?: string;
  device: string;
  software?: boolean;
}

async function probeWebgpu(): Promise<Probe> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<{ info?: Record<string, string | boolean>; isFallbackAdapter?: boolean } | null> } }).gpu;
  if (gpu === undefined) return { usable: false, reason: 'this browser has no WebGPU (navigator.gpu)', device: '' };
  if (tf.findBackendFactory('webgpu') === null) return { usable: false, reason: 'the WebGPU backend did not register', device: '' };
  const adapter = await gpu.requestAdapter();
  if (adapter === null) return { usable: false, reason: 'no WebGPU adapter', device: '' };
  const info = adapter.info ?? {};
  const device = [info['vendor'], info['architecture'], info['description']].filter((p) => typeof p === 'string' && p !== '').join(' ') || 'WebGPU adapter';
  const software = adapter.isFallbackAdapter === true || info['isFallbackAdapter'] === true || SOFTWARE_RENDERER.test(device);
  return { usable: true, device, software };
}

function probeWebgl(): Probe {
  const canvas = document.createElement('canvas');
  const gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
  if (gl === null) return { usable: false, reason: 'this browser gives no WebGL context', device: '' };
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const device = String(debug === null ? gl.getParameter(gl.RENDERER) : gl.getParameter(debug.UNMASKED_RENDERER_WEBGL));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return { usable: true, device: `WebGL${gl instanceof WebGL2RenderingContext ? ' 2' : ''}: ${device}`, software: SOFTWARE_RENDERER.test(device) };
}

async function probe(name: PageBackendName): Promise<Probe> {
  if (name === 'webgpu') return probeWebgpu();
  if (name === 'webgl') return probeWebgl();
  if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    return { usable: true, device: `WebAssembly, ${simd === true ? 'SIMD' : 'no SIMD'}` };
  }
  return { usable: true, device: 'plain JavaScript' };
}

/** Which backends this browser offers, with the reason for each one it does not. */
export async function pageBackendsHere(): Promise<{ name: PageBackendName; usable: boolean; device: string; reason?: string }[]> {
  return Promise.all(PAGE_BACKENDS.map(async (name) => ({ name, ...(await probe(name)) })));
}

async function switchTo(name: PageBackendName): Promise<void> {
  if (name === 'wasm') registerWasmTrainingKernels();
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend failed to start in this browser`);
  await tf.ready();
}

/**
 * Switches TF.js to a backend: the one named, or for `auto` the best this browser runs on real
 * hardware. An experiment's own `backend:` decides under the `experiment` choice (auto, or a
 * backend a page has; the native ones fall back to auto, with a note).
 */
export async function activatePageBackend(choice: PageBackendChoice, experimentBackend: string, log: (line: string) => void): Promise<PageBackend> {
  let wanted: 'auto' | PageBackendName = choice === 'experiment' ? 'auto' : choice;
  if (choice === 'experiment' && experimentBackend !== 'auto') {
    if ((PAGE_BACKENDS as readonly string[]).includes(experimentBackend)) wanted = experimentBackend as PageBackendName;
    else log(`backend: ${experimentBackend} runs only in Node; in the page, the best backend this browser has`);
  }
  if (wanted !== 'auto') {
    const found = await probe(wanted);
    if (!found.usable) throw new Error(`backend ${wanted}: ${found.reason}`);
    await switchTo(wanted);
    return { name: wanted, device: found.device, skipped: [] };
  }
  const skipped: PageBackend['skipped'] = [];
  for (const name of PAGE_BACKENDS) {
    const found = await probe(name);
    if (!found.usable) {
      skipped.push({ name, reason: found.reason ?? 'unusable' });
      continue;
    }
    if (found.software === true) {
      skipped.push({ name, reason: `software renderer (${found.device}), slower than wasm` });
      continue;
    }
    try {
      await switchTo(name);
    } catch (error) {
      skipped.push({ name, reason: (error as Error).message });
      continue;
    }
    for (const s of skipped) log(`passed over ${s.name}: ${s.reason}`);
    return { name, device: found.device, skipped };
  }
  throw new Error('no backend started in this browser');
}
