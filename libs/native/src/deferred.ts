/**
 * Matrix products computed when first read instead of when called.
 *
 * TF.js's fused matMul (behind every dense layer) computes its gradient with respect to both
 * operands at once. For a model's first layer one of them is the input data: nothing reads that
 * gradient, and it is disposed unread at the end of the backward pass. On the course MLP that
 * product (100x500 by 500x784) is an eighth of the training step. So a product here only records
 * what to compute; the first time anything asks for its memory (another kernel, a read: the
 * backend's tensor table, see FusingStorage) it is computed, and when its tensor is disposed
 * first it never is.
 *
 * The operands stay alive until then: their reference counts are raised when the product is
 * recorded and lowered once it is computed or dropped.
 */
import type { TensorInfo } from '@tensorflow/tfjs';

/** What the deferred products need of the backend that serves them. */
export interface DeferringBackend {
  incRef(dataId: object): void;
  /** Lowers the reference count; true when that freed the memory. */
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Fills its own argument block (never the kernels' shared one: it may run inside another kernel's call) and runs the product. */
type Compute = (args: Float64Array) => void;

interface Deferred {
  compute: Compute;
  /**
   * The operands' buffers at the time of the call: a variable's tensor object moves to another
   * buffer when it is assigned, the product still reads the old one.
   */
  operands: object[];
}

export class DeferredProducts {
  /** Off: products are computed when called (to compare against, and to rule deferral out). */
  enabled = true;
  private readonly pending = new Map<object, Deferred>();
  private readonly args = new Float64Array(64);

  /**
   * `forget` tells the engine a buffer is gone: when the engine disposed an operand's last tensor
   * while a product still held it, the backend answered "not freed", so the engine kept its record.
   */
  constructor(
    private readonly backend: DeferringBackend,
    private readonly forget: (dataId: object) => void,
  ) {}

  isPending(dataId: object): boolean {
    return this.pending.has(dataId);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Records `compute` as what fills `output`, or runs it now when deferral is off. Look the
   * operands' memory up before (that evaluates whatever is pending for them) and give `compute`
   * the offsets: the operands are held, so their memory stays where it is until it runs.
   */
  defer(output: TensorInfo, operands: TensorInfo[], compute: Compute): void {
    if (!this.enabled) {
      compute(this.args);
      return;
    }
    const buffers = operands.map((t) => t.dataId);
    for (const dataId of buffers) this.backend.incRef(dataId);
    this.pending.set(output.dataId, { compute, operands: buffers });
  }

  /** Computes the product that fills `dataId`, if one is pending. */
  run(dataId: object): void {
    const deferred = this.pending.get(dataId);
    if (deferred === undefined) return;
    this.pending.delete(dataId);
    try {
      deferred.compute(this.args);
    } finally {
      this.release(deferred);
    }
  }

  /** The product's tensor is gone before anyone read it: it is never computed. Returns false when nothing was pending. */
  drop(dataId: object): boolean {
    const deferred = this.pending.get(dataId);
    if (deferred === undefined) return false;
    this.pending.delete(dataId);
    this.release(deferred);
    return true;
  }

  /** Computes every pending product (before the backend goes away, or to compare timings). */
  runAll(): void {
    for (const dataId of [...this.pending.keys()]) this.run(dataId);
  }

  private release(deferred: Deferred): void {
    for (const dataId of deferred.operands) {
      if (this.backend.disposeData(dataId)) this.forget(dataId);
    }
  }
}
