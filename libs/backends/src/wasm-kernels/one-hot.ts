import type { KernelFunc } from '@tensorflow/tfjs';
import { callKernel, single, withScratch, type DisposingBackend } from './kernel-utils';

/**
 * OneHot with a float dtype: the stock kernel writes int32 bit patterns whatever dtype it is asked
 * for, so float32 one-hot labels come out as 1.4e-45 instead of 1. Build the int32 0/1 mask with it
 * and form `mask * on + (1 - mask) * off` in float32, which gives exactly `on` and `off`.
 */
export function fixedOneHot(original: KernelFunc): KernelFunc {
  return (args) => {
    const attrs = (args.attrs ?? {}) as { dtype?: string; depth: number; onValue?: number; offValue?: number };
    if (attrs.dtype === undefined || attrs.dtype === 'int32') return original(args);
    const backend = args.backend as DisposingBackend;
    const onValue = attrs.onValue ?? 1;
    const offValue = attrs.offValue ?? 0;
    return withScratch(backend, (keep) => {
      const ints = keep(single(original({ ...args, attrs: { ...attrs, dtype: 'int32', onValue: 1, offValue: 0 } }), 'OneHot'));
      const mask = keep(callKernel('Cast', backend, { x: ints }, { dtype: 'float32' }));
      // The returned tensor is never freed by withScratch, kept or not.
      if (onValue === 1 && offValue === 0) return mask;
      const scalar = (value: number) => keep(callKernel('Fill', backend, {}, { shape: [], value, dtype: 'float32' }));
      const on = keep(callKernel('Multiply', backend, { a: mask, b: scalar(onValue) }));
      const inverse = keep(callKernel('Sub', backend, { a: scalar(1), b: mask }));
      const off = keep(callKernel('Multiply', backend, { a: inverse, b: scalar(offValue) }));
      return callKernel('Add', backend, { a: on, b: off });
    });
  };
}
