/**
 * Training kernels for the TF.js wasm backend.
 *
 * The wasm backend ships without Conv2DBackpropFilter, so a CNN cannot train on it at all; its
 * BatchMatMul and Conv2DBackpropInput run naive loops where XNNPACK would be 10-50x faster (only an
 * untransposed, unbatched matmul and Conv2D reach XNNPACK); and two stock kernels give wrong
 * results in cases (MaxPoolGrad, OneHot with a float dtype). Every kernel here is a composition of
 * the backend's own kernels, the heavy ones XNNPACK's, plus data movement (Transpose, Reverse,
 * Slice, Reshape, PadV2), called directly as kernel functions so nothing is recorded on the
 * gradient tape and every intermediate is freed before the kernel returns.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';
import { BACKEND } from './kernel-utils';
import { conv2DBackpropFilter } from './conv2d-backprop-filter';
import { conv2DBackpropInput } from './conv2d-backprop-input';
import { fastMatMul } from './fast-mat-mul';
import { maxPoolGrad } from './max-pool-grad';
import { fixedOneHot } from './one-hot';

/** Kernel functions defined here, to recognise our own registrations (registering is idempotent). */
const ours = new WeakSet<KernelFunc>();
/** The stock configs we replaced, to restore them. */
const replaced = new Map<string, KernelConfig>();

export interface WasmKernelOptions {
  /**
   * Also replace the stock kernels that take a naive path (BatchMatMul, _FusedMatMul,
   * Conv2DBackpropInput, MaxPoolGrad; the last also drops gradients in cases). Off only to
   * measure the stock kernels against these.
   */
  fastPaths?: boolean;
}

/**
 * Every kernel this folder provides, in one list:
 * - `added`: wasm has no such kernel;
 * - `fixed`: the stock kernel gives wrong results in cases, so it is always wrapped;
 * - `fastPath`: the stock kernel takes a naive path; replaced unless `fastPaths: false`.
 * `create` gets the stock kernel (undefined for an added one) and returns ours.
 */
const WASM_TRAINING_KERNELS: { kernelName: string; kind: 'added' | 'fixed' | 'fastPath'; create(stock: KernelFunc | undefined): KernelFunc }[] = [
  { kernelName: 'Conv2DBackpropFilter', kind: 'added', create: () => conv2DBackpropFilter as KernelFunc },
  { kernelName: 'OneHot', kind: 'fixed', create: (stock) => fixedOneHot(stock!) },
  { kernelName: 'BatchMatMul', kind: 'fastPath', create: (stock) => fastMatMul(stock!, 'BatchMatMul') },
  { kernelName: '_FusedMatMul', kind: 'fastPath', create: (stock) => fastMatMul(stock!, '_FusedMatMul') },
  { kernelName: 'Conv2DBackpropInput', kind: 'fastPath', create: () => conv2DBackpropInput as KernelFunc },
  { kernelName: 'MaxPoolGrad', kind: 'fastPath', create: (stock) => maxPoolGrad(stock!) },
];

const namesOf = (kind: string) => WASM_TRAINING_KERNELS.filter((k) => k.kind === kind).map((k) => k.kernelName);
/** The kernels added to wasm because the backend has none. */
export const ADDED_WASM_KERNELS = namesOf('added');
/** Stock wasm kernels with a wrong result that are wrapped (always, unlike the fast paths). */
export const FIXED_WASM_KERNELS = namesOf('fixed');
/** The stock wasm kernels replaced with XNNPACK-backed compositions. */
export const REPLACED_WASM_KERNELS = namesOf('fastPath');

function register(kernelName: string, kernelFunc: KernelFunc, base?: KernelConfig): void {
  ours.add(kernelFunc);
  const config: KernelConfig = { kernelName, backendName: BACKEND, kernelFunc };
  // The stock kernel's setup binds its wasm export; our wrapper calls that kernel, so keep it.
  if (base?.setupFunc !== undefined) config.setupFunc = base.setupFunc;
  if (base?.disposeFunc !== undefined) config.disposeFunc = base.disposeFunc;
  tf.registerKernel(config);
}

/**
 * Registers the training kernels on 'wasm'. Call after importing @tensorflow/tfjs-backend-wasm
 * (its import registers the stock kernels we wrap). Safe to call again.
 */
export function registerWasmTrainingKernels(options: WasmKernelOptions = {}): void {
  const fastPaths = options.fastPaths ?? true;
  if (tf.getKernel('Conv2D', BACKEND) === undefined) {
    throw new Error('the wasm backend is not loaded: import @tensorflow/tfjs-backend-wasm first');
  }
  if (!fastPaths) restoreStockWasmKernels();
  for (const kernel of WASM_TRAINING_KERNELS) {
    if (kernel.kind === 'fastPath' && !fastPaths) continue;
    const current = tf.getKernel(kernel.kernelName, BACKEND);
    if (current !== undefined && ours.has(current.kernelFunc)) continue;
    if (kernel.kind === 'added') {
      if (current === undefined) register(kernel.kernelName, kernel.create(undefined));
      continue;
    }
    if (current === undefined) continue;
    if (kernel.kind === 'fastPath') replaced.set(kernel.kernelName, current);
    // registerKernel refuses a name that is taken, so the stock kernel goes first.
    tf.unregisterKernel(kernel.kernelName, BACKEND);
    register(kernel.kernelName, kernel.create(current.kernelFunc), current);
  }
}

/** Puts back the stock kernels replaced by registerWasmTrainingKernels (added kernels stay). */
export function restoreStockWasmKernels(): void {
  for (const [name, config] of replaced) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && ours.has(current.kernelFunc)) tf.unregisterKernel(name, BACKEND);
    if (tf.getKernel(name, BACKEND) === undefined) tf.registerKernel(config);
  }
  replaced.clear();
}

/** Whether each replaced kernel is currently ours: lets tests and the bench say what they ran. */
export function wasmFastPathsActive(): boolean {
  return REPLACED_WASM_KERNELS.every((name) => {
    const k = tf.getKernel(name, BACKEND);
    return k !== undefined && ours.has(k.kernelFunc);
  });
}
