/**
 * The `native` TF.js backend: the wasm backend with the hot kernels replaced by the addon's.
 *
 * It is a second BackendWasm over the same wasm module (and heap) as the 'wasm' backend. Every
 * kernel registered for 'wasm' is registered for 'native' too, so whatever the wasm backend can
 * run, native runs the same way; the addon's kernels then replace the hot ones, reading their
 * inputs from the heap and writing their outputs into it, with no copies either way.
 *
 * Why one module for both: a wasm kernel binds its wasm function once per module (its setupFunc
 * stores it in a variable shared by every backend that uses the kernel), so two modules would
 * overwrite each other's bindings. The two backends keep separate tensor tables; the ids native
 * gives its tensors start at 2^30 so they never meet the wasm backend's in the module's table.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { ConfigError, RunError } from '@dlexp/core';
import { loadAddon, type NativeAddon, type NativeMemoryStats } from './addon';
import { DeferredProducts } from './deferred';
import { Fuser, FusingStorage, type FusingBackend } from './fusion';
import { nativeKernelConfig, type HeapBackend, type NativeKernelContext } from './kernels/kernel-context';
import { NATIVE_KERNEL_LIST } from './kernels/register-all';

/** The TF.js backend name. */
export const NATIVE_BACKEND = 'native';
/** The kernels the addon implements; every other kernel is the wasm backend's. */
export const NATIVE_KERNELS: readonly string[] = NATIVE_KERNEL_LIST.map((k) => k.kernelName);

/** Above the wasm backend (2), below tfjs-node (3): only used when registered, and then preferred to wasm. */
const NATIVE_PRIORITY = 2.5;
/** The first tensor id of the native backend; the wasm backend counts from 1. */
const NATIVE_ID_BASE = 2 ** 30;
/** Sized for the kernel with the most arguments. */
const ARG_BLOCK_LENGTH = 64;

export interface NativeBackendOptions {
  /** Threads for the addon's kernels (oneDNN's OpenMP pool). Default: the core count. */
  threads?: number;
  /**
   * Hold back elementwise kernels on large tensors and evaluate each chain of them in one pass
   * (see fusion.ts). Default true; false runs every kernel as it is called (for comparisons).
   */
  fuseElementwise?: boolean;
  /**
   * Compute matrix products when first read, so that one disposed unread is never computed
   * (see deferred.ts). Default true; false computes each when called (for comparisons).
   */
  deferProducts?: boolean;
}

export interface NativeBackendRegistration {
  /** The TF.js backend name to pass to tf.setBackend. */
  backendName: string;
  threads: number;
  /** The kernels the addon runs (the rest are the wasm backend's). */
  kernels: string[];
  /** The wasm kernels registered under native as they are. */
  inheritedKernels: number;
}

/** The core count, the default thread count. */
export function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

function requireAddon(): NativeAddon {
  const load = loadAddon();
  if (!load.ok) throw new RunError(`the native backend is unavailable: ${load.reason}. Fix: ${load.fix}`);
  return load.addon;
}

function checkThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new ConfigError(`native backend threads must be a whole number from 1 to 1024, got ${threads}`);
  }
  return threads;
}

/** Initialises the 'wasm' backend if needed, without leaving it active. */
async function ensureWasmBackend(): Promise<KernelBackend> {
  const engine = tf.engine();
  const existing = engine.registry['wasm'];
  if (existing !== undefined) return existing;
  if (tf.findBackendFactory('wasm') === null) {
    throw new RunError("the native backend builds on the wasm backend: import '@tensorflow/tfjs-backend-wasm' (and set its wasm paths) first");
  }
  // Undefined (or null after a backend was removed) when no backend has been set yet.
  const previous = engine.backendName as string | null | undefined;
  const ok = await tf.setBackend('wasm');
  if (!ok || engine.registry['wasm'] === undefined) throw new RunError('the wasm backend failed to initialise, so the native backend cannot start');
  if (typeof previous === 'string' && previous !== 'wasm') await tf.setBackend(previous);
  return engine.registry['wasm']!;
}

/** The native backend instance: a BackendWasm with a fusing tensor table and deferred products. */
export interface NativeInstance extends KernelBackend {
  fuser: Fuser | undefined;
  products: DeferredProducts | undefined;
}

/**
 * A BackendWasm sharing `wasmBackend`'s module, built without its constructor: the constructor
 * re-initialises the module's thread pool, which belongs to the wasm backend.
 */
function createNativeInstance(wasmBackend: KernelBackend, addon: NativeAddon, fuse: boolean, deferProducts: boolean): NativeInstance {
  const shared = wasmBackend as unknown as HeapBackend;
  const prototype = Object.getPrototypeOf(wasmBackend) as KernelBackend;
  const instance = Object.create(prototype) as NativeInstance & Record<string, unknown>;
  const storage = new FusingStorage(instance, tf.engine());
  instance['wasm'] = shared.wasm;
  instance['dataIdNextNumber'] = NATIVE_ID_BASE;
  instance['dataIdMap'] = storage;
  const wasm = shared.wasm as unknown as FusingBackend['wasm'];
  const disposeStock = prototype.disposeData.bind(instance);
  instance.fuser = new Fuser(addon, instance as unknown as FusingBackend, storage);
  instance.fuser.enabled = fuse;
  // Reference counting reads the table without evaluating pending work (a Reshape of a pending
  // tensor shares it; that is no reason to compute it yet).
  instance.incRef = (dataId: object) => {
    const data = storage.peek(dataId);
    if (data !== undefined) data.refCount++;
  };
  instance.refCount = (dataId: object) => storage.peek(dataId)?.refCount ?? 0;
  instance.disposeData = (dataId: object, force = false) => {
    const data = storage.peek(dataId);
    const fuser = instance.fuser;
    const products = instance.products;
    const pending = fuser?.isPending(dataId) === true;
    const held = fuser?.isHeld(dataId) === true;
    const deferred = products?.isPending(dataId) === true;
    if (data === undefined || (!pending && !held && !deferred)) return disposeStock(dataId, force);
    data.refCount--;
    if (!force && data.refCount > 0) return false;
    storage.delete(dataId);
    if (deferred || pending) {
      // Pending and now unreachable, so its memory can go now. A product nobody read is never
      // computed (fused chains and other products compute it before they take it as an
      // operand); a fused operation's values are never written (operations that use it compute
      // it on the way).
      if (deferred) products!.drop(dataId);
      else fuser!.markDead(dataId);
      wasm._free(data.memoryOffset);
      wasm.tfjs.disposeData(data.id);
    } else {
      // A pending operation still reads it.
      fuser!.freeLater(data.memoryOffset, data.id);
    }
    return true;
  };
  instance.products = new DeferredProducts(instance, (dataId) => tf.engine().removeDataId(dataId, instance));
  instance.products.enabled = deferProducts;
  storage.products = instance.products;
  storage.fuser = instance.fuser;
  // The module is the wasm backend's to dispose; this instance only drops its own references.
  instance.dispose = () => undefined;
  return instance;
}

let context: NativeKernelContext | undefined;
/** Whether instances created from now on fuse elementwise chains (fixed per instance). */
let fuseElementwise = true;
/** Whether instances created from now on defer matrix products. */
let deferProducts = true;
/** The wasm kernels as they were when native registered, to fall back to. */
const wasmKernels = new Map<string, KernelConfig>();

function kernelContext(addon: NativeAddon): NativeKernelContext {
  context ??= {
    addon,
    args: new Float64Array(ARG_BLOCK_LENGTH),
    fallback(name: string): KernelFunc {
      return (call) => {
        const config = wasmKernels.get(name);
        if (config === undefined) {
          throw new RunError(`kernel ${name} on the native backend needs the wasm kernel ${name} for this case, and the wasm backend has none`);
        }
        return config.kernelFunc(call);
      };
    },
  };
  return context;
}

/**
 * Registers the `native` TF.js backend (without switching to it) and sets the addon's thread
 * count. Call after the wasm backend's package is imported and its training kernels are
 * registered: native takes the wasm kernels as they are at this moment. Calling again updates
 * the thread count and picks up wasm kernels registered since.
 * Throws RunError when the addon is unavailable (ask probeNativeAddon first).
 */
export async function registerNativeBackend(options: NativeBackendOptions = {}): Promise<NativeBackendRegistration> {
  const addon = requireAddon();
  fuseElementwise = options.fuseElementwise ?? true;
  deferProducts = options.deferProducts ?? true;
  const threads = checkThreads(options.threads ?? defaultThreads());
  const wasmBackend = await ensureWasmBackend();
  addon.setThreads(threads);
  const shared = kernelContext(addon);
  const nativeNames = new Set(NATIVE_KERNELS);
  let inherited = 0;
  for (const config of tf.getKernelsForBackend('wasm')) {
    wasmKernels.set(config.kernelName, config);
    if (nativeNames.has(config.kernelName) || tf.getKernel(config.kernelName, NATIVE_BACKEND) !== undefined) continue;
    // The setup binds the kernel's wasm function, the same one for both backends (one module).
    const copy: KernelConfig = { kernelName: config.kernelName, backendName: NATIVE_BACKEND, kernelFunc: config.kernelFunc };
    if (config.setupFunc !== undefined) copy.setupFunc = config.setupFunc;
    tf.registerKernel(copy);
    inherited++;
  }
  for (const kernel of NATIVE_KERNEL_LIST) {
    if (kernel.requires !== undefined && typeof addon[kernel.requires] !== 'function') continue;
    if (tf.getKernel(kernel.kernelName, NATIVE_BACKEND) === undefined) tf.registerKernel(nativeKernelConfig(kernel, NATIVE_BACKEND, shared));
  }
  if (tf.findBackendFactory(NATIVE_BACKEND) === null) {
    tf.registerBackend(NATIVE_BACKEND, () => createNativeInstance(tf.engine().registry['wasm'] ?? wasmBackend, addon, fuseElementwise, deferProducts), NATIVE_PRIORITY);
  }
  const existing = tf.engine().registry[NATIVE_BACKEND] as NativeInstance | undefined;
  if (existing?.fuser !== undefined) {
    existing.fuser.flush();
    existing.fuser.enabled = fuseElementwise;
  }
  if (existing?.products !== undefined) {
    existing.products.runAll();
    existing.products.enabled = deferProducts;
  }
  const registered = tf.getKernelsForBackend(NATIVE_BACKEND).length - NATIVE_KERNELS.length;
  return { backendName: NATIVE_BACKEND, threads, kernels: [...NATIVE_KERNELS], inheritedKernels: Math.max(inherited, registered) };
}

/** Sets the addon's thread count (the backend must be registered or the addon available). */
export function setNativeThreads(threads: number): void {
  requireAddon().setThreads(checkThreads(threads));
}

/** Frees the addon's cached convolution plans and workspace (they are rebuilt on the next call). */
export function releaseNativeMemory(): void {
  const load = loadAddon();
  if (load.ok) load.addon.release();
}

/**
 * The processor's peak rate of float32 multiply-adds, measured over about a tenth of a second
 * per thread: GFLOP/s per thread, each timed by the processor time it got (so other processes
 * on a shared machine do not lower it). For reports that compare a kernel's rate with the peak.
 */
export function measurePeakGflops(threads = 1): number[] {
  return requireAddon().measurePeak(checkThreads(threads));
}

/** What the addon holds between calls: its workspace and the convolution plans it has built. */
export function nativeMemory(): NativeMemoryStats {
  return requireAddon().memoryStats();
}
