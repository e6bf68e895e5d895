/**
 * BatchMatMul and _FusedMatMul on oneDNN's SGEMM (addon/matmul.cc): every transpose, batches
 * broadcast as on the cpu backend (entry i multiplies a[i % batchA] by b[i % batchB]), and the
 * fused bias and activation applied to each output row right after it is computed. A bias of any
 * shape that broadcasts as a suffix of the output runs here (the wasm kernel takes only rank 1).
 * BatchMatMul's products are computed when first read (deferred.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { ACTIVATION_CODES, heapBackend, offsetOf, present, sizeOf, type KernelArgs, type NativeKernel, type NativeKernelContext } from './kernel-context';

interface MatMulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: string;
  leakyreluAlpha?: number;
}

/**
 * A bias or prelu alphas the addon can apply: its shape, leading 1s dropped, is a suffix of the
 * output shape (one value, one per column, one per row and column...).
 */
function suffixOf(t: TensorInfo, outShape: number[]): boolean {
  if (t.dtype !== 'float32') return false;
  const shape = [...t.shape];
  while (shape.length > 0 && shape[0] === 1) shape.shift();
  if (shape.length > outShape.length) return false;
  const tail = outShape.slice(outShape.length - shape.length);
  return shape.every((d, i) => d === tail[i]);
}

function createMatMul(context: NativeKernelContext, name: 'BatchMatMul' | '_FusedMatMul'): KernelFunc {
  const wasm = context.fallback(name);
  return (call) => {
    const { inputs, attrs: rawAttrs } = call as KernelArgs;
    const { a, b, bias, preluActivationWeights } = inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo | null; preluActivationWeights?: TensorInfo | null };
    const attrs = (rawAttrs ?? {}) as MatMulAttrs;
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const activation = attrs.activation ?? 'linear';
    const code = ACTIVATION_CODES[activation];
    const rankA = a.shape.length;
    const rankB = b.shape.length;
    // An empty inner dimension is fine (the product is zeros); an empty output is left to wasm.
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || code === undefined || rankA < 2 || rankB < 2) return wasm(call);
    const m = transposeA ? a.shape[rankA - 1]! : a.shape[rankA - 2]!;
    const k = transposeA ? a.shape[rankA - 2]! : a.shape[rankA - 1]!;
    const kB = transposeB ? b.shape[rankB - 1]! : b.shape[rankB - 2]!;
    const n = transposeB ? b.shape[rankB - 2]! : b.shape[rankB - 1]!;
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const batchA = sizeOf(outerA);
    const batchB = sizeOf(outerB);
    if (k !== kB) return wasm(call);
    let outer: number[];
    try {
      outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    } catch {
      return wasm(call);
    }
    // Entry i of the output pairs a[i % batchA] with b[i % batchB]: true broadcasting only when
    // one side has a single entry or both have the same count.
    if (sizeOf(outer) !== Math.max(batchA, batchB)) return wasm(call);
    const outShape = [...outer, m, n];
    const hasBias = present(bias);
    const hasPrelu = activation === 'prelu';
    if (
      sizeOf(outShape) === 0 ||
      (hasBias && !suffixOf(bias, outShape)) ||
      (hasPrelu && (!present(preluActivationWeights) || !suffixOf(preluActivationWeights, outShape)))
    ) {
      return wasm(call);
    }
    const backend = heapBackend(call.backend);
    const out = backend.makeOutput(outShape, 'float32');
    // Every offset now: a lookup evaluates whatever is pending for the operand, and the operands
    // stay where they are while a deferred product holds them.
    const offsets = [
      offsetOf(backend, a),
      offsetOf(backend, b),
      offsetOf(backend, out),
      hasBias ? offsetOf(backend, bias) : -1,
      hasPrelu ? offsetOf(backend, preluActivationWeights!) : -1,
    ];
    const compute = (args: Float64Array) => {
      for (let i = 0; i < offsets.length; i++) args[i] = offsets[i]!;
      args[5] = batchA;
      args[6] = batchB;
      args[7] = m;
      args[8] = k;
      args[9] = n;
      args[10] = transposeA ? 1 : 0;
      args[11] = transposeB ? 1 : 0;
      args[12] = code;
      args[13] = attrs.leakyreluAlpha ?? 0.2;
      args[14] = hasBias ? sizeOf(bias.shape) : 0;
      args[15] = hasPrelu ? sizeOf(preluActivationWeights!.shape) : 0;
      context.addon.matMul(backend.wasm.HEAPU8, args);
    };
    // Plain products may be gradients nobody reads (deferred.ts); a fused one is a layer's output.
    if (name === 'BatchMatMul' && backend.products !== undefined) backend.products.defer(out, [a, b], compute);
    else compute(context.args);
    return out;
  };
}

export const batchMatMul: NativeKernel = { kernelName: 'BatchMatMul', create: (context) => createMatMul(context, 'BatchMatMul') };
export const fusedMatMul: NativeKernel = { kernelName: '_FusedMatMul', create: (context) => createMatMul(context, '_FusedMatMul') };
