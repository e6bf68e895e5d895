import { NameScopes } from './name-scopes';

/**
 * TensorFlow's GraphDef in its JSON form (the proto3 JSON mapping of tensorflow.GraphDef): what
 * TensorBoard's graph view and TensorFlow's tools read. Both kinds of model produce one: op graphs
 * from their nodes, layer models from their layers (each layer a name scope holding its weights).
 */
export interface AttrValue {
  type?: string;
  shape?: { dim?: { size: string }[]; unknownRank?: boolean };
  s?: string;
  i?: string;
  f?: number;
  list?: { i?: string[]; s?: string[] };
}

export interface GraphDefNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

export interface GraphDef {
  node: GraphDefNode[];
  versions: { producer: number };
}

/** TF's enum names for the dtypes used here. */
export function dtypeAttr(dtype: string): AttrValue {
  const names: Record<string, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING', complex64: 'DT_COMPLEX64' };
  return { type: names[dtype] ?? 'DT_FLOAT' };
}

/** A shape attribute; `null` sizes (known only at run time) become -1, as in TensorFlow. */
export function shapeAttr(shape: readonly (number | null)[] | undefined): AttrValue {
  if (shape === undefined) return { shape: { unknownRank: true } };
  return { shape: { dim: shape.map((size) => ({ size: String(size ?? -1) })) } };
}

/** Builds a GraphDef node by node, with TensorFlow-style name scopes (`conv1/kernel`). */
export class GraphDefBuilder {
  private readonly nodes: GraphDefNode[] = [];
  private readonly names = new Set<string>();
  private readonly scopes = new NameScopes();

  nameScope<T>(scope: string, build: () => T): T {
    return this.scopes.within(scope, build);
  }

  /** Adds a node under the current scope and returns its full name. */
  add(name: string, op: string, inputs: string[] = [], attr: Record<string, AttrValue> = {}): string {
    const qualified = this.scopes.qualify(name);
    let full = qualified;
    for (let i = 1; this.names.has(full); i++) full = `${qualified}_${i}`;
    this.names.add(full);
    const node: GraphDefNode = { name: full, op };
    if (inputs.length > 0) node.input = inputs;
    if (Object.keys(attr).length > 0) node.attr = attr;
    this.nodes.push(node);
    return full;
  }

  build(): GraphDef {
    // Producer 22 is the GraphDef version of TensorFlow 1.x, the course's TensorFlow.
    return { node: [...this.nodes], versions: { producer: 22 } };
  }
}
