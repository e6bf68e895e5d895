import { packageVersion } from '../load';
import type { Backend, BackendContext, BackendProbe } from '../types';
import { NODE_CPU, NODE_GPU, loadLibtensorflow, usesCudaDevice } from './libtensorflow';
import { NO_PARAMS, coreVersions, cpuName, missingOn, reportedVersions, unusable, type BackendEntry } from './shared';

function createTensorflow(context: BackendContext): Backend {
  let versions: Record<string, string> = {};
  return {
    name: 'tensorflow',
    tfBackend: 'tensorflow',
    missingKernels: missingOn('tensorflow'),
    async prepare(): Promise<BackendProbe> {
      const cpu = await loadLibtensorflow(context, NODE_CPU);
      if (!('usable' in cpu)) {
        versions = { ...coreVersions(), ...reportedVersions(cpu.module), [NODE_CPU]: packageVersion(NODE_CPU) ?? 'unknown' };
        return { usable: true, device: `CPU (libtensorflow): ${cpuName()}`, versions };
      }
      // The GPU build of libtensorflow runs on the CPU just as well when it has no GPU; if the
      // cuda probe (or the user) installed only that one, use it rather than give up.
      const gpuBuild = await loadLibtensorflow(context, NODE_GPU);
      if (!('usable' in gpuBuild)) {
        versions = { ...coreVersions(), ...reportedVersions(gpuBuild.module), [NODE_GPU]: packageVersion(NODE_GPU) ?? 'unknown' };
        return { usable: true, device: `libtensorflow from ${NODE_GPU}`, versions, note: `${NODE_CPU} is absent; using ${NODE_GPU}` };
      }
      return unusable(cpu.reason, `${cpu.fix} (prebuilt libtensorflow for Linux x64, macOS and Windows)`);
    },
    async confirm(): Promise<BackendProbe> {
      const device = usesCudaDevice() ? 'CUDA GPU (libtensorflow)' : `CPU (libtensorflow): ${cpuName()}`;
      return { usable: true, device, versions };
    },
  };
}

export const tensorflowBackend: BackendEntry = {
  name: 'tensorflow',
  description: 'libtensorflow on the CPU (@tensorflow/tfjs-node)',
  params: NO_PARAMS,
  create: (_params, context) => createTensorflow(context),
};
