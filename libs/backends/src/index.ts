/**
 * Backends: where tensors are computed. One registry of entries (cuda, tensorflow, webgpu, wasm,
 * cpu), each loading its own packages and saying whether it is usable here and why not;
 * `activateBackend` picks one (`auto` takes the first usable in registry order); the kernel
 * preflight names every kernel a model's training step needs that the backend lacks; and the wasm
 * backend gets the training kernels TF.js does not ship (wasm-kernels/, one kernel per file).
 */
export { createBackendRegistry, activateBackend, backendChoices, BACKEND_ENTRIES, AUTO } from './registry';
export type { BackendRegistry, ActivateOptions } from './registry';
export type { BackendEntry } from './entries/shared';
export { findMissingKernels, collectStepKernels, assertKernelsAvailable } from './preflight';
export { registerWasmTrainingKernels, restoreStockWasmKernels, wasmFastPathsActive, ADDED_WASM_KERNELS, FIXED_WASM_KERNELS, REPLACED_WASM_KERNELS } from './wasm-kernels/register-all';
export type { WasmKernelOptions } from './wasm-kernels/register-all';
export { isSoftwareAdapter, adapterName } from './entries/webgpu';
export { DEFAULT_WASM_THREADS } from './entries/wasm';
export { trainParityModel } from './parity-model';
export type { ActiveBackend, Backend, BackendContext, BackendProbe, ModuleImporter, RequestMode, UsableBackend, UnusableBackend, WebgpuAdapterSummary } from './types';
