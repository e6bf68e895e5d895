export { createBackendRegistry, activateBackend, AUTO } from './registry';
export type { BackendRegistry, ActivateOptions } from './registry';
export { findMissingKernels, collectStepKernels, assertKernelsAvailable } from './kernels';
export { registerWasmTrainingKernels, restoreStockWasmKernels, wasmFastPathsActive } from './wasm-kernels';
export type { WasmKernelOptions } from './wasm-kernels';
export { isSoftwareAdapter, adapterName } from './entries';
export type { ActiveBackend, Backend, BackendContext, BackendProbe, ModuleImporter, RequestMode } from './types';
