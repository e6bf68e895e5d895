/**
 * The LSTM kernels of libs/core's EXTRA_KERNELS on the addon (addon/lstm.cc): a whole sequence
 * forward in one call and its gradient in another.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { EXTRA_KERNELS } from '@dlexp/core';
import { heapBackend, offsetOf, present, sizeOf, type KernelArgs, type NativeKernel } from './kernel-context';

interface LstmShape {
  batch: number;
  steps: number;
  features: number;
  units: number;
}

function lstmShape(kernelName: string, x: TensorInfo, kernel: TensorInfo, recurrentKernel: TensorInfo, bias: TensorInfo | undefined): LstmShape {
  const tensors = [x, kernel, recurrentKernel, ...(bias === undefined ? [] : [bias])];
  if (tensors.some((t) => t.dtype !== 'float32')) throw new Error(`${kernelName}: every input must be float32`);
  const [batch, steps, features] = x.shape as number[];
  const units = recurrentKernel.shape[0]!;
  const ok =
    x.shape.length === 3 &&
    batch! > 0 &&
    steps! > 0 &&
    features! > 0 &&
    units > 0 &&
    kernel.shape.length === 2 &&
    kernel.shape[0] === features &&
    kernel.shape[1] === 4 * units &&
    recurrentKernel.shape.length === 2 &&
    recurrentKernel.shape[1] === 4 * units &&
    (bias === undefined || (bias.shape.length === 1 && bias.shape[0] === 4 * units));
  if (!ok) {
    const shapes = tensors.map((t) => `[${t.shape.join(', ')}]`).join(', ');
    throw new Error(`${kernelName}: expected x [batch, steps, features], kernel [features, 4u], recurrent kernel [u, 4u] and bias [4u], got ${shapes}`);
  }
  return { batch: batch!, steps: steps!, features: features!, units };
}

/** The length of the state the forward kernel saves for the gradient (addon/lstm.cc). */
function stateLength(s: LstmShape): number {
  return s.batch * (6 * s.steps + 1) * s.units;
}

export const lstm: NativeKernel = {
  kernelName: EXTRA_KERNELS.lstm,
  requires: 'lstmForward',
  create: (context) => (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { x, kernel, recurrentKernel, bias } = inputs as { x: TensorInfo; kernel: TensorInfo; recurrentKernel: TensorInfo; bias?: TensorInfo | null };
    const withBias = present(bias) ? bias : undefined;
    const s = lstmShape(EXTRA_KERNELS.lstm, x, kernel, recurrentKernel, withBias);
    const returnSequences = attrs?.['returnSequences'] === true;
    const backend = heapBackend(call.backend);
    const y = backend.makeOutput(returnSequences ? [s.batch, s.steps, s.units] : [s.batch, s.units], 'float32');
    const state = backend.makeOutput([stateLength(s)], 'float32');
    const args = context.args;
    args[0] = offsetOf(backend, x);
    args[1] = offsetOf(backend, kernel);
    args[2] = offsetOf(backend, recurrentKernel);
    args[3] = withBias === undefined ? -1 : offsetOf(backend, withBias);
    args[4] = offsetOf(backend, y);
    args[5] = offsetOf(backend, state);
    args[6] = s.batch;
    args[7] = s.steps;
    args[8] = s.features;
    args[9] = s.units;
    args[10] = returnSequences ? 1 : 0;
    context.addon.lstmForward(backend.wasm.HEAPU8, args);
    return [y, state];
  },
};

export const lstmGrad: NativeKernel = {
  kernelName: EXTRA_KERNELS.lstmGrad,
  requires: 'lstmBackward',
  create: (context) => (call) => {
    const { inputs, attrs } = call as KernelArgs;
    const { dy, x, kernel, recurrentKernel, state } = inputs as Record<'dy' | 'x' | 'kernel' | 'recurrentKernel' | 'state', TensorInfo>;
    const s = lstmShape(EXTRA_KERNELS.lstmGrad, x, kernel, recurrentKernel, undefined);
    const returnSequences = attrs?.['returnSequences'] === true;
    const hasBias = attrs?.['hasBias'] === true;
    const yShape = returnSequences ? [s.batch, s.steps, s.units] : [s.batch, s.units];
    if (dy.dtype !== 'float32' || dy.shape.join() !== yShape.join() || sizeOf(state.shape) !== stateLength(s)) {
      throw new Error(`${EXTRA_KERNELS.lstmGrad}: dy must be [${yShape.join(', ')}] and the state the forward kernel's`);
    }
    const backend = heapBackend(call.backend);
    const dx = backend.makeOutput([...x.shape], 'float32');
    const dkernel = backend.makeOutput([...kernel.shape], 'float32');
    const drecurrent = backend.makeOutput([...recurrentKernel.shape], 'float32');
    const dbias = hasBias ? backend.makeOutput([4 * s.units], 'float32') : undefined;
    const args = context.args;
    args[0] = offsetOf(backend, dy);
    args[1] = offsetOf(backend, x);
    args[2] = offsetOf(backend, kernel);
    args[3] = offsetOf(backend, recurrentKernel);
    args[4] = offsetOf(backend, state);
    args[5] = offsetOf(backend, dx);
    args[6] = offsetOf(backend, dkernel);
    args[7] = offsetOf(backend, drecurrent);
    args[8] = dbias === undefined ? -1 : offsetOf(backend, dbias);
    args[9] = s.batch;
    args[10] = s.steps;
    args[11] = s.features;
    args[12] = s.units;
    args[13] = returnSequences ? 1 : 0;
    context.addon.lstmBackward(backend.wasm.HEAPU8, args);
    return dbias === undefined ? [dx, dkernel, drecurrent] : [dx, dkernel, drecurrent, dbias];
  },
};
