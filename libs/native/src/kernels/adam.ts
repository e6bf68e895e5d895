/** The Adam kernel of libs/core's EXTRA_KERNELS on the addon: one pass per weight tensor. */
import type { TensorInfo } from '@tensorflow/tfjs';
import { EXTRA_KERNELS } from '@dlexp/core';
import { heapBackend, offsetOf, sizeOf, type KernelArgs, type NativeKernel } from './kernel-context';

export const adam: NativeKernel = {
  kernelName: EXTRA_KERNELS.adam,
  requires: 'adam',
  create: (context) => (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { gradient, m, v } = inputs as Record<'gradient' | 'm' | 'v', TensorInfo>;
    const shape = gradient.shape.join();
    if ([gradient, m, v].some((t) => t.dtype !== 'float32' || t.shape.join() !== shape)) {
      throw new Error(`${EXTRA_KERNELS.adam}: gradient, m and v must be float32 tensors of one shape, got [${gradient.shape}], [${m.shape}], [${v.shape}]`);
    }
    const number = (name: string) => {
      const value = attrs?.[name];
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${EXTRA_KERNELS.adam}: attribute ${name} must be a finite number`);
      return value;
    };
    const beta1 = number('beta1');
    const beta2 = number('beta2');
    const backend = heapBackend(call.backend);
    const outputs = [0, 1, 2].map(() => backend.makeOutput([...gradient.shape], 'float32'));
    const offsets = [gradient, m, v, ...outputs].map((t) => offsetOf(backend, t));
    const args = context.args;
    for (let i = 0; i < offsets.length; i++) args[i] = offsets[i]!;
    args[6] = sizeOf(gradient.shape);
    args[7] = beta1;
    args[8] = 1 - beta1;
    args[9] = beta2;
    args[10] = 1 - beta2;
    args[11] = number('scale');
    args[12] = number('epsilon');
    context.addon.adam(backend.wasm.HEAPU8, args);
    return outputs;
  },
};
