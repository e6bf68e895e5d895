/**
 * The native CPU backend: an N-API addon over oneDNN running the hot training kernels
 * (convolutions and their gradients, matrix products, pooling) on top of TF.js's wasm backend.
 *
 *   const probe = probeNativeAddon();            // built and loadable here? if not: why, and the fix
 *   await registerNativeBackend({ threads: 2 }); // after the wasm backend and its training kernels
 *   await tf.setBackend('native');
 */
export { probeNativeAddon } from './probe';
export type { NativeProbe, NativeAvailable, NativeUnavailable } from './probe';
export {
  registerNativeBackend,
  setNativeThreads,
  releaseNativeMemory,
  nativeMemory,
  measurePeakGflops,
  defaultThreads,
  NATIVE_BACKEND,
  NATIVE_KERNELS,
} from './native-backend';
export type { NativeBackendOptions, NativeBackendRegistration } from './native-backend';
export { BUILD_PACKAGES, BUILD_COMMAND } from './addon';
export type { NativeMemoryStats } from './addon';
