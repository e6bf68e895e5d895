import * as tf from '@tensorflow/tfjs';
import { Graph, GraphError, toTensor, type GraphNode, type TensorInput } from './graph';

export type Fetch = GraphNode | string;
export type Feeds = Map<GraphNode | string, TensorInput> | Record<string, TensorInput>;

/** A fetched value as plain data, like the arrays TF1's `session.run` returns. */
export type FetchedValue = number | FetchedValue[];

/**
 * Runs a Graph: holds the variables' values between runs, evaluates only what the fetches need,
 * and feeds placeholders per run.
 */
export class Session {
  private readonly values = new Map<string, tf.Variable>();
  private readonly scalarLosses = new Set<string>();

  constructor(readonly graph: Graph) {}

  /** Sets every variable to its initial value (the course's `global_variables_initializer`). */
  initializeVariables(): void {
    for (const node of this.graph.variables()) {
      const record = this.graph.record(node);
      const initial = tf.tidy(() => record.initialValue!());
      const existing = this.values.get(node.name);
      if (existing !== undefined) {
        existing.assign(initial);
        initial.dispose();
      } else {
        this.values.set(node.name, tf.variable(initial, node.trainable, sanitize(node.name)));
        initial.dispose();
      }
    }
  }

  /** The live variables by node name (for optimizers and checkpoints). */
  variables(options: { trainableOnly?: boolean } = {}): Map<string, tf.Variable> {
    this.requireInitialized();
    const out = new Map<string, tf.Variable>();
    for (const node of this.graph.variables()) {
      if (options.trainableOnly === true && !node.trainable) continue;
      out.set(node.name, this.values.get(node.name)!);
    }
    return out;
  }

  /** Runs the graph and returns the fetched values as plain numbers and arrays. */
  run(fetch: Fetch, feeds?: Feeds): FetchedValue;
  run(fetches: Fetch[], feeds?: Feeds): FetchedValue[];
  run(fetches: Fetch | Fetch[], feeds?: Feeds): FetchedValue | FetchedValue[] {
    const list = Array.isArray(fetches) ? fetches : [fetches];
    const tensors = this.runTensors(list, feeds);
    try {
      const values = tensors.map((t) => t.arraySync() as FetchedValue);
      return Array.isArray(fetches) ? values : values[0]!;
    } finally {
      tf.dispose(tensors);
    }
  }

  /**
   * `run` for backends that cannot read tensors back synchronously (WebGPU in Node): the same
   * fetches and feeds, the values read asynchronously.
   */
  async runAsync(fetches: Fetch[], feeds?: Feeds): Promise<FetchedValue[]> {
    const tensors = this.runTensors(fetches, feeds);
    try {
      return (await Promise.all(tensors.map((t) => t.array()))) as FetchedValue[];
    } finally {
      tf.dispose(tensors);
    }
  }

  /** Like `run` but returns tensors, which the caller must dispose. */
  runTensors(fetches: Fetch[], feeds?: Feeds): tf.Tensor[] {
    const fed = this.prepareFeeds(feeds);
    try {
      return tf.tidy(() => {
        const cache = new Map<string, tf.Tensor>();
        return fetches.map((f) => tf.clone(this.evaluate(this.resolve(f), fed, cache)));
      });
    } finally {
      tf.dispose([...fed.values()]);
    }
  }

  /**
   * The value of `loss` and its gradients with respect to the trainable variables, for one feed.
   * The caller owns (and disposes) the returned tensors.
   */
  gradients(loss: Fetch, feeds?: Feeds, variables?: Map<string, tf.Variable>): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const target = this.resolve(loss);
    const vars = variables ?? this.variables({ trainableOnly: true });
    const fed = this.prepareFeeds(feeds);
    try {
      const byTfName = new Map([...vars].map(([name, v]) => [v.name, name]));
      // Checked once per loss with a plain forward pass: a throw inside variableGrads would leave
      // the gradient tape's tensors behind.
      if (!this.scalarLosses.has(target.name)) {
        const rank = tf.tidy(() => this.evaluate(target, fed, new Map()).shape);
        if (rank.length !== 0) throw new GraphError(`the loss '${target.name}' must be a scalar, its shape is [${rank.join(', ')}]`);
        this.scalarLosses.add(target.name);
      }
      const { value, grads } = tf.variableGrads(() => this.evaluate(target, fed, new Map()) as tf.Scalar, [...vars.values()]);
      const named = new Map<string, tf.Tensor>();
      for (const [tfName, grad] of Object.entries(grads)) named.set(byTfName.get(tfName) ?? tfName, grad);
      return { value, grads: named };
    } finally {
      tf.dispose([...fed.values()]);
    }
  }

  /** Frees the variables. */
  close(): void {
    for (const v of this.values.values()) v.dispose();
    this.values.clear();
  }

  private resolve(fetch: Fetch): GraphNode {
    return typeof fetch === 'string' ? this.graph.node(fetch) : this.graph.record(fetch);
  }

  private requireInitialized(): void {
    for (const node of this.graph.variables()) {
      if (!this.values.has(node.name)) {
        throw new GraphError(`variable '${node.name}' is not initialized; call initializeVariables() first`);
      }
    }
  }

  private prepareFeeds(feeds: Feeds | undefined): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    if (feeds === undefined) return out;
    const entries: [GraphNode | string, TensorInput][] = feeds instanceof Map ? [...feeds] : Object.entries(feeds);
    try {
      for (const [key, value] of entries) {
        const node = this.resolve(key);
        if (node.kind !== 'placeholder') throw new GraphError(`only placeholders can be fed; '${node.name}' is a ${node.kind}`);
        const tensor = toTensor(value);
        out.set(node.name, tensor);
        checkShape(node, tensor);
      }
    } catch (error) {
      tf.dispose([...out.values()]);
      throw error;
    }
    return out;
  }

  private evaluate(node: GraphNode, feeds: Map<string, tf.Tensor>, cache: Map<string, tf.Tensor>): tf.Tensor {
    const cached = cache.get(node.name);
    if (cached !== undefined) return cached;
    const record = this.graph.record(node);
    let result: tf.Tensor;
    switch (node.kind) {
      case 'placeholder': {
        const fed = feeds.get(node.name);
        if (fed === undefined) throw new GraphError(`placeholder '${node.name}' must be fed a value`);
        result = fed;
        break;
      }
      case 'variable': {
        const value = this.values.get(node.name);
        if (value === undefined) throw new GraphError(`variable '${node.name}' is not initialized; call initializeVariables() first`);
        result = value;
        break;
      }
      case 'constant':
        result = record.value!;
        break;
      case 'assign': {
        const [target, source] = node.inputs as [GraphNode, GraphNode];
        const value = this.evaluate(source, feeds, cache);
        this.values.get(target.name)!.assign(value);
        result = value;
        break;
      }
      case 'op': {
        const inputs = node.inputs.map((input) => this.evaluate(input, feeds, cache));
        try {
          result = record.definition!.apply(inputs);
        } catch (error) {
          const shapes = inputs.map((t) => `[${t.shape.join(', ')}]`).join(' and ');
          throw new GraphError(`op '${node.name}' (${node.op}) failed on inputs of shape ${shapes}: ${(error as Error).message}`);
        }
        break;
      }
    }
    cache.set(node.name, result);
    return result;
  }
}

function checkShape(node: GraphNode, tensor: tf.Tensor): void {
  if (node.shape === undefined) return;
  const expected = node.shape;
  const ok = expected.length === tensor.rank && expected.every((size, i) => size === null || size === tensor.shape[i]);
  if (!ok) {
    const show = (s: readonly (number | null)[]) => `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]`;
    throw new GraphError(`placeholder '${node.name}' expects shape ${show(expected)}, was fed ${show(tensor.shape)}`);
  }
}

/** TF.js variable names must be unique per process; prefix with a counter to allow many sessions. */
let sessionVariableCounter = 0;
function sanitize(name: string): string {
  return `graph_${++sessionVariableCounter}/${name}`;
}
