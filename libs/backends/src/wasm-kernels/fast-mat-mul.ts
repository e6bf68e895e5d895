import type { KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { callKernel, single, withScratch, type DisposingBackend } from './kernel-utils';

/** Optional kernel inputs arrive as undefined or null depending on the op that built them. */
function present(t: TensorInfo | null | undefined): t is TensorInfo {
  return t !== undefined && t !== null;
}

function swapLastTwo(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return perm;
}

/**
 * Whether (B^T A^T)^T moves less data than A B for an (m x k)(k x n) product: count the elements
 * each way transposes and XNNPACK packs (its right operand, on every call since weights change
 * every step). Backward matmuls such as dX = dY W^T (m = batch, n = fan-in) gain the most.
 */
function swappedIsCheaper(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean): boolean {
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + k * n;
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + m * n + k * m;
  return swapped < direct;
}

/** Below this many multiply-adds per batch entry, one XNNPACK call per entry costs more than the naive loop saves. */
const MIN_WORK_PER_BATCH_ENTRY = 1 << 15;

/**
 * Wraps a matmul kernel (BatchMatMul or _FusedMatMul) so it reaches XNNPACK, which the stock
 * kernel uses only for an untransposed matmul of one batch entry:
 * - transposed operands are transposed up front (a cheap copy next to the matmul), or the product
 *   is computed transposed when that moves less data;
 * - a batch of `a` against one `b` is folded into the rows of one matmul;
 * - a batch against a batch runs one matmul per entry. The stock kernel also adds a fused bias
 *   wrongly when both operands are batched, so that case always goes this way.
 */
export function fastMatMul(original: KernelFunc, name: string): KernelFunc {
  return (args) => {
    const backend = args.backend as DisposingBackend;
    const inputs = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo | null; preluActivationWeights?: TensorInfo | null };
    const { a, b } = inputs;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const unusual =
      a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2 || present(inputs.preluActivationWeights);
    if (unusual) return original(args);
    const batchA = a.shape.slice(0, -2).reduce((p, s) => p * s, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, s) => p * s, 1);
    const m = a.shape[a.shape.length - (transposeA ? 1 : 2)]!;
    const k = a.shape[a.shape.length - (transposeA ? 2 : 1)]!;
    const n = b.shape[b.shape.length - (transposeB ? 2 : 1)]!;
    const bothBatched = batchA > 1 && batchB > 1;
    if (bothBatched && (batchA !== batchB || (!present(inputs.bias) && m * k * n < MIN_WORK_PER_BATCH_ENTRY))) return original(args);
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return original(args);
    const outShape = [...(batchA >= batchB ? a.shape : b.shape).slice(0, -2), m, n];
    const untransposed = { ...attrs, transposeA: false, transposeB: false };
    const activation = (attrs as { activation?: string }).activation;
    const plain = !present(inputs.bias) && (activation === undefined || activation === 'linear');
    if (plain && batchA === 1 && batchB === 1 && swappedIsCheaper(m, k, n, transposeA, transposeB)) {
      return withScratch(backend, (keep) => {
        // C = A B computed as (B^T A^T)^T: XNNPACK packs its right operand on every call, and here
        // that is A^T (k x m) instead of B (k x n), with smaller transposes around it.
        const bt = transposeB ? b : keep(callKernel('Transpose', backend, { x: b }, { perm: swapLastTwo(b.shape.length) }));
        const at = transposeA ? a : keep(callKernel('Transpose', backend, { x: a }, { perm: swapLastTwo(a.shape.length) }));
        const left = keep(callKernel('Reshape', backend, { x: bt }, { shape: [1, n, k] }));
        const right = keep(callKernel('Reshape', backend, { x: at }, { shape: [1, k, m] }));
        const outT = keep(single(original({ inputs: { a: left, b: right }, backend, attrs: untransposed }), name));
        const out = keep(callKernel('Transpose', backend, { x: outT }, { perm: [0, 2, 1] }));
        return callKernel('Reshape', backend, { x: out }, { shape: outShape });
      });
    }
    return withScratch(backend, (keep) => {
      // As [batch, rows, cols] with the transposes done, so each entry is a plain matmul.
      const asBatchOf = (t: TensorInfo, batch: number, transpose: boolean, rows: number, cols: number): TensorInfo => {
        const three = keep(callKernel('Reshape', backend, { x: t }, { shape: transpose ? [batch, cols, rows] : [batch, rows, cols] }));
        return transpose ? keep(callKernel('Transpose', backend, { x: three }, { perm: [0, 2, 1] })) : three;
      };
      const left = asBatchOf(a, batchA, transposeA, m, k);
      const right = asBatchOf(b, batchB, transposeB, k, n);
      let out: TensorInfo;
      if (!bothBatched) {
        // One b for every entry of a: stack a's entries as rows of a single matmul.
        const rows = keep(callKernel('Reshape', backend, { x: left }, { shape: [1, batchA * m, k] }));
        out = keep(single(original({ inputs: { ...args.inputs, a: rows, b: right }, backend, attrs: untransposed }), name));
      } else {
        const parts: TensorInfo[] = [];
        for (let i = 0; i < batchA; i++) {
          const ai = keep(callKernel('Slice', backend, { x: left }, { begin: [i, 0, 0], size: [1, m, k] }));
          const bi = keep(callKernel('Slice', backend, { x: right }, { begin: [i, 0, 0], size: [1, k, n] }));
          parts.push(keep(single(original({ inputs: { ...args.inputs, a: ai, b: bi }, backend, attrs: untransposed }), name)));
        }
        out = keep(callKernel('Concat', backend, parts as unknown as NamedTensorInfoMap, { axis: 0 }));
      }
      return callKernel('Reshape', backend, { x: out }, { shape: outShape });
    });
  };
}
