/** Loading libtensorflow through @tensorflow/tfjs-node(-gpu): shared by the cuda and tensorflow entries. */
import * as tf from '@tensorflow/tfjs';
import { tryImport } from '../load';
import type { BackendContext, UnusableBackend } from '../types';
import { unusable } from './shared';

export const NODE_GPU = '@tensorflow/tfjs-node-gpu';
export const NODE_CPU = '@tensorflow/tfjs-node';
/** TF.js 4.22's libtensorflow is TensorFlow 2.9, built against these CUDA libraries. */
export const CUDA_REQUIREMENTS = 'Linux x64 with an NVIDIA driver and the CUDA 11.2 + cuDNN 8.1 libraries on LD_LIBRARY_PATH';

export async function loadLibtensorflow(context: BackendContext, specifier: string): Promise<{ module: Record<string, unknown> } | UnusableBackend> {
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
export function usesCudaDevice(): boolean {
  const active = tf.findBackend('tensorflow') as unknown as { isUsingGpuDevice?: unknown } | null;
  return active?.isUsingGpuDevice === true;
}
