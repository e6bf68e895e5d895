import * as tf from '@tensorflow/tfjs';
import type { OpDefinition, OpRegistry } from './ops';
import { createOpRegistry } from './ops';
import { UnknownNameError, didYouMean } from '@dlexp/core';
import { GraphDefBuilder, dtypeAttr, shapeAttr, type GraphDef } from './graph-def';
import { NameScopes } from './name-scopes';

export type NodeKind = 'placeholder' | 'variable' | 'constant' | 'op' | 'assign';

/** A node of a Graph. Nodes are created by the Graph's methods, never directly. */
export interface GraphNode {
  readonly name: string;
  readonly kind: NodeKind;
  readonly inputs: readonly GraphNode[];
  /** Op name for `op` nodes; the kind otherwise. */
  readonly op: string;
  /** Static shape where known; `null` entries are sizes known only when fed (the batch). */
  readonly shape: readonly (number | null)[] | undefined;
  readonly dtype: tf.DataType;
  /** Variables: whether optimizers update it. */
  readonly trainable: boolean;
}

interface NodeRecord extends GraphNode {
  readonly definition?: OpDefinition;
  readonly value?: tf.Tensor;
  readonly initialValue?: () => tf.Tensor;
}

export type TensorInput = tf.Tensor | number | number[] | number[][] | Float32Array;

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

/**
 * A TF1-style dataflow graph: placeholders, variables, constants and ops, named hierarchically by
 * name scopes. Building a graph computes nothing; a Session runs it.
 */
export class Graph {
  private readonly nodeMap = new Map<string, NodeRecord>();
  private readonly scopes = new NameScopes();
  private readonly unique = new Map<string, number>();
  /** Names the user will give nodes later: generated names never take them. */
  private readonly reserved = new Set<string>();
  readonly ops: OpRegistry;

  constructor(ops: OpRegistry = createOpRegistry()) {
    this.ops = ops;
  }

  /** Keeps names for nodes created later, so that a generated name (`multiply_1`) cannot take them. */
  reserveNames(names: Iterable<string>): void {
    for (const name of names) this.reserved.add(this.scopes.qualify(name));
  }

  /** Runs `build` with every node it creates named under `scope/`. */
  nameScope<T>(scope: string, build: () => T): T {
    return this.scopes.within(scope, build);
  }

  /** A value fed per run; `shape` (when given) is checked against what is fed. */
  placeholder(name: string, options: { shape?: (number | null)[]; dtype?: tf.DataType } = {}): GraphNode {
    return this.addNode({ name: this.scoped(name, true), kind: 'placeholder', op: 'placeholder', inputs: [], shape: options.shape, dtype: options.dtype ?? 'float32', trainable: false });
  }

  /**
   * A variable holding state across runs. Its initial value is computed by `initialValue` when a
   * session initializes variables (not at graph-building time).
   */
  variable(name: string, initialValue: TensorInput | (() => tf.Tensor), options: { trainable?: boolean } = {}): GraphNode {
    const make = typeof initialValue === 'function' ? initialValue : () => toTensor(initialValue);
    const probe = tf.tidy(make);
    const shape = probe.shape;
    const dtype = probe.dtype;
    probe.dispose();
    return this.addNode({ name: this.scoped(name, true), kind: 'variable', op: 'variable', inputs: [], shape, dtype, trainable: options.trainable ?? true, initialValue: make });
  }

  constant(value: TensorInput, name = 'Const'): GraphNode {
    const tensor = tf.keep(toTensor(value));
    return this.addNode({ name: this.scoped(name, false), kind: 'constant', op: 'constant', inputs: [], shape: tensor.shape, dtype: tensor.dtype, trainable: false, value: tensor });
  }

  /** Adds an op node by its registry name: `graph.op('matmul', [x, w])`. */
  op(opName: string, inputs: (GraphNode | number)[], name?: string): GraphNode {
    let definition: OpDefinition;
    try {
      definition = this.ops.get(opName).create({}, undefined);
    } catch (error) {
      if (error instanceof UnknownNameError) throw new GraphError(error.message);
      throw error;
    }
    const nodes = inputs.map((input) => (typeof input === 'number' ? this.constant(input) : this.own(input)));
    if (definition.arity === 'variadic' ? nodes.length === 0 : nodes.length !== definition.arity) {
      throw new GraphError(`${opName} takes ${definition.arity} input(s), got ${nodes.length}`);
    }
    return this.addNode({ name: this.scoped(name ?? opName, name !== undefined), kind: 'op', op: opName, inputs: nodes, shape: undefined, dtype: 'float32', trainable: false, definition });
  }

  add(a: GraphNode | number, b: GraphNode | number, name?: string): GraphNode {
    return this.op('add', [a, b], name);
  }
  subtract(a: GraphNode | number, b: GraphNode | number, name?: string): GraphNode {
    return this.op('subtract', [a, b], name);
  }
  multiply(a: GraphNode | number, b: GraphNode | number, name?: string): GraphNode {
    return this.op('multiply', [a, b], name);
  }
  divide(a: GraphNode | number, b: GraphNode | number, name?: string): GraphNode {
    return this.op('divide', [a, b], name);
  }
  matmul(a: GraphNode, b: GraphNode, name?: string): GraphNode {
    return this.op('matmul', [a, b], name);
  }
  square(x: GraphNode, name?: string): GraphNode {
    return this.op('square', [x], name);
  }
  tanh(x: GraphNode, name?: string): GraphNode {
    return this.op('tanh', [x], name);
  }
  reduceMean(x: GraphNode, name?: string): GraphNode {
    return this.op('reduceMean', [x], name);
  }

  /** A node that, when run, stores `value` into `variable` and yields the new value. */
  assign(variable: GraphNode, value: GraphNode | number, name?: string): GraphNode {
    const target = this.own(variable);
    if (target.kind !== 'variable') throw new GraphError(`assign needs a variable, '${target.name}' is a ${target.kind}`);
    const source = typeof value === 'number' ? this.constant(value) : this.own(value);
    return this.addNode({ name: this.scoped(name ?? 'Assign', name !== undefined), kind: 'assign', op: 'assign', inputs: [target, source], shape: target.shape, dtype: target.dtype, trainable: false });
  }

  node(name: string): GraphNode {
    const node = this.nodeMap.get(name);
    if (node === undefined) {
      throw new GraphError(`the graph has no node '${name}'${didYouMean(name, this.nodeMap.keys())}`);
    }
    return node;
  }

  hasNode(name: string): boolean {
    return this.nodeMap.has(name);
  }

  nodes(): GraphNode[] {
    return [...this.nodeMap.values()];
  }

  variables(): GraphNode[] {
    return this.nodes().filter((n) => n.kind === 'variable');
  }

  /** @internal used by Session */
  record(node: GraphNode): NodeRecord {
    return this.own(node);
  }

  /** The graph as a TensorFlow GraphDef (JSON form), for TensorBoard's graph view. */
  toGraphDef(): GraphDef {
    const builder = new GraphDefBuilder();
    const tfOps: Record<string, string> = { placeholder: 'Placeholder', variable: 'VariableV2', constant: 'Const', assign: 'Assign' };
    for (const node of this.nodeMap.values()) {
      const attr = { dtype: dtypeAttr(node.dtype), ...(node.kind === 'op' ? {} : { shape: shapeAttr(node.shape) }) };
      builder.add(node.name, node.kind === 'op' ? node.definition!.tfOp : tfOps[node.kind]!, node.inputs.map((i) => i.name), attr);
    }
    return builder.build();
  }

  /** Frees the constants' tensors. */
  dispose(): void {
    for (const node of this.nodeMap.values()) node.value?.dispose();
  }

  private own(node: GraphNode): NodeRecord {
    const record = this.nodeMap.get(node.name);
    if (record !== node) throw new GraphError(`node '${node.name}' belongs to another graph`);
    return record;
  }

  private scoped(name: string, exact: boolean): string {
    const full = this.scopes.qualify(name);
    if (exact) {
      if (this.nodeMap.has(full)) throw new GraphError(`a node named '${full}' already exists`);
      return full;
    }
    // Generated names get a numeric suffix, like TensorFlow's `add`, `add_1`, ...
    let candidate = full;
    let count = this.unique.get(full) ?? 0;
    while (this.nodeMap.has(candidate) || this.reserved.has(candidate)) candidate = `${full}_${++count}`;
    this.unique.set(full, count);
    return candidate;
  }

  private addNode(record: NodeRecord): GraphNode {
    this.nodeMap.set(record.name, record);
    return record;
  }
}

export function toTensor(value: TensorInput): tf.Tensor {
  if (value instanceof tf.Tensor) return tf.clone(value);
  if (typeof value === 'number') return tf.scalar(value);
  if (value instanceof Float32Array) return tf.tensor1d(value);
  return tf.tensor(value);
}
