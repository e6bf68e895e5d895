/**
 * Elementwise kernels on large tensors are held back and run together, in one pass.
 *
 * An optimizer update is a dozen elementwise kernels per weight tensor (Adam: two moments, their
 * bias corrections, a square root, a division...), each a full pass over memory, and on a large
 * layer those passes cost more than the layer's matrix products. So an elementwise kernel whose
 * output is large does not compute it: it allocates the output as usual and records what to
 * compute ("pending"). The first time anything asks for a pending tensor's memory (another
 * kernel, a read), every pending operation is evaluated together, block by block
 * (addon/fusion.cc): inputs are read once, and only results still alive are written; values that
 * were only intermediates (disposed by a tidy before anyone read them) never reach memory.
 *
 * The hook is the backend's tensor table: every wasm kernel and every read goes through
 * `dataIdMap.get`, which flushes first when the tensor is pending. A buffer a pending operation
 * reads may be disposed before the operation runs: the tensor goes away as usual (the engine is
 * told it is freed), its memory is freed after the next evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataType, TensorInfo } from '@tensorflow/tfjs';
import type { NativeAddon } from './addon';
import type { DeferredProducts } from './deferred';

/** Below this many elements an elementwise kernel runs at once: its passes stay in cache anyway. */
export const FUSE_MIN_ELEMENTS = 1 << 16;
/** Per evaluation (addon/simd/loops.h: kMaxFusedNodes, kMaxFusedInputs), with a margin. */
const MAX_NODES = 60;
const MAX_INPUTS = 60;

/** The record BackendWasm keeps per tensor. */
export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

type Operand = { kind: 'buffer'; dataId: object; offset: number; scalar: boolean } | { kind: 'node'; node: PendingNode };

interface PendingNode {
  dataId: object;
  offset: number;
  size: number;
  unary: boolean;
  op: number;
  a: Operand;
  b: Operand | undefined;
  alpha: number;
  beta: number;
  /** Its tensor still exists, so its values must be written. */
  alive: boolean;
}

/** What the fuser needs of the backend instance it serves. */
export interface FusingBackend {
  wasm: { HEAPU8: Uint8Array; _free(offset: number): void; tfjs: { disposeData(id: number): void } };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
}

/**
 * The backend's tensor table: reading a pending tensor's record evaluates the pending work first
 * (fused elementwise chains here, deferred matrix products: deferred.ts).
 */
export class FusingStorage extends tf.DataStorage<WasmTensorData> {
  fuser: Fuser | undefined;
  products: DeferredProducts | undefined;

  override get(dataId: object): WasmTensorData {
    if (this.products?.isPending(dataId) === true) this.products.run(dataId);
    if (this.fuser?.isPending(dataId) === true) this.fuser.flush();
    return super.get(dataId);
  }

  /** The record without evaluating anything; undefined when this backend has no such tensor. */
  peek(dataId: object): WasmTensorData | undefined {
    return this.has(dataId) ? super.get(dataId) : undefined;
  }
}

export class Fuser {
  /** Off: every elementwise kernel runs when called (to compare against, and to rule fusion out). */
  enabled = true;
  private pending = new Map<object, PendingNode>();
  private nodes: PendingNode[] = [];
  /** Buffers pending operations read (their tensors may be disposed meanwhile). */
  private held = new Set<object>();
  /** Memory of held buffers whose tensors were disposed: freed after the next evaluation. */
  private freeAfterFlush: { offset: number; id: number }[] = [];
  private readonly program = new Float64Array(3 + 2 * 64 + 7 * 64);

  constructor(
    private readonly addon: NativeAddon,
    private readonly backend: FusingBackend,
    private readonly storage: FusingStorage,
  ) {}

  isPending(dataId: object): boolean {
    return this.pending.has(dataId);
  }

  /** Whether a pending operation reads this buffer. */
  isHeld(dataId: object): boolean {
    return this.held.has(dataId);
  }

  /** A held buffer's tensor is gone: free its memory once the operations reading it have run. */
  freeLater(offset: number, id: number): void {
    this.freeAfterFlush.push({ offset, id });
  }

  get pendingCount(): number {
    return this.nodes.length;
  }

  /**
   * Records `a op b` (or `op a`) as pending and returns its output, or undefined when it cannot be
   * held back (small, or an operand broadcast other than as a single value): then run it now.
   */
  defer(unary: boolean, op: number, inputs: TensorInfo[], outShape: number[], alpha = 0, beta = 0): TensorInfo | undefined {
    const size = outShape.reduce((p, d) => p * d, 1);
    if (!this.enabled || size < FUSE_MIN_ELEMENTS) return undefined;
    for (const t of inputs) {
      if (t.dtype !== 'float32') return undefined;
      const n = t.shape.reduce((p, d) => p * d, 1);
      if (n !== size && n !== 1) return undefined;
      if (!this.pending.has(t.dataId) && this.storage.peek(t.dataId) === undefined) return undefined;
    }
    if (this.nodes.length >= MAX_NODES || this.held.size + inputs.length > MAX_INPUTS) this.flush();
    const operands = inputs.map((t) => this.operand(t));
    const out = this.backend.makeOutput(outShape, 'float32');
    const node: PendingNode = {
      dataId: out.dataId,
      offset: this.storage.peek(out.dataId)!.memoryOffset,
      size,
      unary,
      op,
      a: operands[0]!,
      b: operands[1],
      alpha,
      beta,
      alive: true,
    };
    this.nodes.push(node);
    this.pending.set(out.dataId, node);
    return out;
  }

  private operand(t: TensorInfo): Operand {
    const node = this.pending.get(t.dataId);
    if (node !== undefined) return { kind: 'node', node };
    // A read: a deferred product is computed here, since a chain only reads memory.
    const data = this.storage.get(t.dataId);
    this.held.add(t.dataId);
    return { kind: 'buffer', dataId: t.dataId, offset: data.memoryOffset, scalar: t.shape.reduce((p, d) => p * d, 1) === 1 };
  }

  /**
   * The tensor of a pending operation is gone (its last reference disposed): its values will
   * never be read, so it is not written; operations using it compute it on the way.
   * Returns false when `dataId` is not pending.
   */
  markDead(dataId: object): boolean {
    const node = this.pending.get(dataId);
    if (node === undefined) return false;
    node.alive = false;
    this.pending.delete(dataId);
    // Nothing pending is wanted any more (say, a model and its optimizer were disposed): drop
    // the work instead of leaving it, and the memory waiting on it, until some later read.
    if (this.pending.size === 0) this.flush();
    return true;
  }

  /** Evaluates every pending operation, writes the results still alive, frees what waited for it. */
  flush(): void {
    if (this.nodes.length === 0) return;
    const nodes = this.nodes;
    const toFree = this.freeAfterFlush;
    this.nodes = [];
    this.pending = new Map();
    this.held = new Set();
    this.freeAfterFlush = [];
    try {
      const bySize = new Map<number, PendingNode[]>();
      for (const node of nodes) {
        const group = bySize.get(node.size);
        if (group === undefined) bySize.set(node.size, [node]);
        else group.push(node);
      }
      for (const [size, group] of bySize) this.evaluate(size, group);
    } finally {
      for (const { offset, id } of toFree) {
        this.backend.wasm._free(offset);
        this.backend.wasm.tfjs.disposeData(id);
      }
    }
  }

  private evaluate(size: number, group: PendingNode[]): void {
    // Only what a live result depends on is computed.
    const needed = new Set<PendingNode>();
    for (let i = group.length - 1; i >= 0; i--) {
      const node = group[i]!;
      if (!node.alive && !needed.has(node)) continue;
      needed.add(node);
      for (const operand of [node.a, node.b]) if (operand?.kind === 'node') needed.add(operand.node);
    }
    const order = group.filter((n) => needed.has(n));
    if (order.length === 0) return;
    const index = new Map<PendingNode, number>(order.map((n, i) => [n, i]));
    const inputs = new Map<object, number>();
    const p = this.program;
    let at = 3;
    const inputRef = (operand: Operand): number => {
      if (operand.kind === 'node') return -(index.get(operand.node)! + 1);
      let i = inputs.get(operand.dataId);
      if (i === undefined) {
        i = inputs.size;
        inputs.set(operand.dataId, i);
        p[at++] = operand.offset;
        p[at++] = operand.scalar ? 1 : 0;
      }
      return i;
    };
    // Inputs first (their slots come before the nodes'), then the nodes.
    const refs = order.map((node) => [inputRef(node.a), node.b === undefined ? 0 : inputRef(node.b)] as const);
    for (let j = 0; j < order.length; j++) {
      const node = order[j]!;
      p[at++] = node.unary ? 1 : 0;
      p[at++] = node.op;
      p[at++] = refs[j]![0];
      p[at++] = refs[j]![1];
      p[at++] = node.alpha;
      p[at++] = node.beta;
      p[at++] = node.alive ? node.offset : -1;
    }
    p[0] = size;
    p[1] = inputs.size;
    p[2] = order.length;
    this.addon.fused(this.backend.wasm.HEAPU8, p);
  }
}
