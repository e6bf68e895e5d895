import * as tf from '@tensorflow/tfjs';
import type { Backend, BackendProbe } from '../types';
import { NO_PARAMS, coreVersions, cpuName, missingOn, type BackendEntry } from './shared';

function createCpu(): Backend {
  return {
    name: 'cpu',
    tfBackend: 'cpu',
    missingKernels: missingOn('cpu'),
    async prepare(): Promise<BackendProbe> {
      return { usable: true, threads: 1, device: `${cpuName()} (pure JS)`, versions: { ...coreVersions(), 'tfjs-backend-cpu': tf.version['tfjs-backend-cpu'] } };
    },
  };
}

export const cpuBackend: BackendEntry = {
  name: 'cpu',
  description: 'pure JavaScript kernels: always available, slowest',
  params: NO_PARAMS,
  create: () => createCpu(),
};
