import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@dlexp/core';
import { BACKEND_ENTRIES } from './registry';
import { defaultImporter } from './load';

/**
 * The kernels of `kernelNames` that the backend has no implementation for. `backendName` is a
 * registry name (cuda, wasm, ...) or a TF.js backend name. Ask after activateBackend: kernels are
 * registered when a backend's package loads (and the wasm training kernels when wasm activates).
 */
export function findMissingKernels(kernelNames: string[], backendName: string): string[] {
  const entry = BACKEND_ENTRIES.find((e) => e.name === backendName);
  // The entry knows which TF.js backend it runs as (cuda runs as 'tensorflow'); creating it loads nothing.
  const tfBackend = entry?.create({}, { importModule: defaultImporter, log: () => undefined }).tfBackend ?? backendName;
  return [...new Set(kernelNames)].filter((name) => tf.getKernel(name, tfBackend) === undefined).sort();
}

/**
 * The kernels one training step runs, found by running it once under tf.profile on the cpu
 * backend (the reference backend: it has every kernel). Pass a step on a tiny batch. If the step
 * applies an optimizer, give it a throwaway model and optimizer: the step really runs.
 * Names the profiler reports that are not kernels (custom-gradient wrappers) are left out.
 * Weights created on another backend are moved to cpu when the step reads them; from webgpu
 * that needs a synchronous read Dawn for Node lacks, so there build the model inside `step` (or
 * collect before activating webgpu).
 */
export async function collectStepKernels(step: () => tf.TensorContainer | void | Promise<tf.TensorContainer | void>): Promise<string[]> {
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const info = await tf.profile(async () => {
      const out = await step();
      return out ?? [];
    });
    tf.dispose(info.result);
    const names = new Set<string>();
    for (const k of info.kernels) if (tf.getKernel(k.name, 'cpu') !== undefined) names.add(k.name);
    return [...names].sort();
  } finally {
    if (previous !== undefined && previous !== 'cpu') await tf.setBackend(previous);
  }
}

/** Throws one ConfigError listing every kernel the step needs that the backend lacks. */
export function assertKernelsAvailable(kernelNames: string[], backendName: string): void {
  const missing = findMissingKernels(kernelNames, backendName);
  if (missing.length === 0) return;
  throw new ConfigError(
    `backend '${backendName}' lacks ${missing.length} kernel${missing.length === 1 ? '' : 's'} this model needs for training: ` +
      `${missing.join(', ')}. Choose another backend (backend: cpu has every kernel).`,
  );
}
