import { packageVersion } from '../load';
import type { Backend, BackendContext, BackendProbe } from '../types';
import { CUDA_REQUIREMENTS, NODE_GPU, loadLibtensorflow, usesCudaDevice } from './libtensorflow';
import { NO_PARAMS, coreVersions, missingOn, reportedVersions, unusable, type BackendEntry } from './shared';

function createCuda(context: BackendContext): Backend {
  let versions: Record<string, string> = {};
  return {
    name: 'cuda',
    tfBackend: 'tensorflow',
    missingKernels: missingOn('tensorflow'),
    async prepare(): Promise<BackendProbe> {
      const loaded = await loadLibtensorflow(context, NODE_GPU);
      if ('usable' in loaded) {
        return { ...loaded, fix: `${loaded.fix} (needs ${CUDA_REQUIREMENTS})` };
      }
      versions = { ...coreVersions(), ...reportedVersions(loaded.module), [NODE_GPU]: packageVersion(NODE_GPU) ?? 'unknown' };
      return { usable: true, device: 'CUDA GPU', versions };
    },
    async confirm(): Promise<BackendProbe> {
      // tfjs-node-gpu falls back to the CPU silently when it finds no CUDA device or libraries.
      if (!usesCudaDevice()) {
        return unusable(
          `${NODE_GPU} loaded, but libtensorflow found no usable CUDA GPU and would run on the CPU`,
          `check nvidia-smi and ${CUDA_REQUIREMENTS}; or use backend: tensorflow for libtensorflow on the CPU`,
        );
      }
      return { usable: true, device: 'CUDA GPU', versions };
    },
  };
}

export const cudaBackend: BackendEntry = {
  name: 'cuda',
  description: 'libtensorflow on an NVIDIA GPU (@tensorflow/tfjs-node-gpu); auto picks it only when a CUDA device is really used',
  params: NO_PARAMS,
  create: (_params, context) => createCuda(context),
};
