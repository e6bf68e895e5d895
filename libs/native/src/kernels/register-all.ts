/** Every kernel the addon provides, in one list (the model: tfjs-backend-wasm's register_all_kernels). */
import { conv2D, conv2DBackpropFilter, conv2DBackpropInput, fusedConv2D } from './conv2d';
import { concat, slice, splitV, unpack } from './data-movement';
import { binaryKernels, cast, identity, select, sum, unaryKernels } from './elementwise';
import type { NativeKernel } from './kernel-context';
import { adam } from './adam';
import { lstm, lstmGrad } from './lstm';
import { batchMatMul, fusedMatMul } from './mat-mul';
import { avgPool, avgPoolGrad, maxPool, maxPoolGrad } from './pool';

export const NATIVE_KERNEL_LIST: readonly NativeKernel[] = [
  conv2D,
  fusedConv2D,
  conv2DBackpropInput,
  conv2DBackpropFilter,
  batchMatMul,
  fusedMatMul,
  maxPool,
  maxPoolGrad,
  avgPool,
  avgPoolGrad,
  ...binaryKernels,
  ...unaryKernels,
  sum,
  select,
  identity,
  cast,
  slice,
  splitV,
  unpack,
  concat,
  lstm,
  lstmGrad,
  adam,
];
