import type * as tf from '@tensorflow/tfjs';
import { Graph, GraphError, type GraphNode } from './graph';
import { ExpressionError, buildExpression, parseExpression, referencedNames } from './expression';

/** A graph written as data: what the `ops` model of an experiment describes. */
export interface OpGraphSpec {
  placeholders: Record<string, { shape?: (number | null)[]; dtype?: tf.DataType }>;
  variables: Record<string, { initialValue: () => tf.Tensor; trainable: boolean }>;
  /** Named nodes, each an expression over placeholders, variables and earlier nodes, in order. */
  nodes: Record<string, string>;
}

/** One problem in an OpGraphSpec: where (a path inside the spec, and an offset in an expression) and what. */
export interface OpGraphProblem {
  path: (string | number)[];
  /** Offset into the expression string, for problems inside an expression. */
  offset?: number;
  message: string;
}

export class OpGraphError extends Error {
  constructor(readonly problems: OpGraphProblem[]) {
    super(problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n'));
    this.name = 'OpGraphError';
  }
}

/**
 * Builds a Graph from its data description, collecting every problem (unknown names, unknown
 * functions, syntax errors, references to nodes defined later) before throwing.
 */
export function buildOpGraph(spec: OpGraphSpec, graph = new Graph()): Graph {
  const problems: OpGraphProblem[] = [];
  const named = new Map<string, GraphNode>();
  graph.reserveNames([...Object.keys(spec.placeholders), ...Object.keys(spec.variables), ...Object.keys(spec.nodes)]);
  for (const [name, p] of Object.entries(spec.placeholders)) {
    const options: { shape?: (number | null)[]; dtype?: tf.DataType } = {};
    if (p.shape !== undefined) options.shape = p.shape;
    if (p.dtype !== undefined) options.dtype = p.dtype;
    named.set(name, graph.placeholder(name, options));
  }
  for (const [name, v] of Object.entries(spec.variables)) {
    if (named.has(name)) {
      problems.push({ path: ['variables', name], message: `'${name}' is already a placeholder` });
      continue;
    }
    named.set(name, graph.variable(name, v.initialValue, { trainable: v.trainable }));
  }
  const nodeNames = Object.keys(spec.nodes);
  // Nodes that failed to build: what uses them is not reported again.
  const failed = new Set<string>();
  for (const [name, text] of Object.entries(spec.nodes)) {
    const path = ['nodes', name];
    if (named.has(name)) {
      problems.push({ path, message: `'${name}' is already defined as a placeholder or variable` });
      failed.add(name);
      continue;
    }
    try {
      const expression = parseExpression(text);
      if (referencedNames(expression).some((ref) => failed.has(ref.name))) {
        failed.add(name);
        continue;
      }
      const later = referencedNames(expression).find((ref) => !named.has(ref.name) && nodeNames.includes(ref.name));
      if (later !== undefined) {
        throw new ExpressionError(later.offset, `'${later.name}' is defined later; nodes may only use the nodes written before them`);
      }
      const built = buildExpression(graph, expression, (n) => named.get(n), () => [...named.keys()], name);
      named.set(name, typeof built === 'number' ? graph.constant(built, name) : built.name === name ? built : graph.op('identity', [built], name));
    } catch (error) {
      failed.add(name);
      if (error instanceof ExpressionError) problems.push({ path, offset: error.offset, message: error.reason });
      else if (error instanceof GraphError) problems.push({ path, message: error.message });
      else throw error;
    }
  }
  if (problems.length > 0) {
    graph.dispose();
    throw new OpGraphError(problems);
  }
  return graph;
}
