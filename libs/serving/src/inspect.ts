import { decodeGraphDef, encodeGraphDef } from './graph-def-binary';
import { elementCount, hostDtypeOf, shapeOf, type FrozenGraph, type GraphDefJson, type HostDtype } from './graph-def';
import { layersModelToGraph } from './layers-to-graph';
import { loadLayersModelFile } from './load-model';
import { locateModel, readBytes, readGraphModel, type ModelFormat } from './model-files';
import { placeholderNodes, rewriteLegacyOps, sinkNodes } from './subgraph';
import { isSupportedOp } from './tfjs-ops';

export interface GraphInspection {
  file: string;
  format: ModelFormat;
  nodeCount: number;
  /** Placeholders: tensor name, dtype, shape (-1 where unknown; undefined for an unknown rank). */
  inputs: { name: string; dtype: HostDtype | string; shape: number[] | undefined }[];
  /** Nodes no other node reads (constants and no-ops aside). */
  outputs: { name: string; op: string }[];
  /** Every op with its node count, most frequent first; `supported`: TF.js can run it. */
  ops: { op: string; count: number; supported: boolean }[];
  /** Ops TF.js cannot run, after rewriting the legacy ops it has replacements for. */
  unsupportedOps: string[];
  constants: { count: number; values: number };
  /** The graph in JSON form (constants without their values). */
  graphDef: GraphDefJson;
  /**
   * The graph as binary GraphDef bytes for TensorBoard's Graphs tab (an event's `graph_def`):
   * constants keep their dtype and shape but not their values.
   */
  tensorBoardGraph(): Uint8Array;
}

async function frozenGraphOf(file: string, format: ModelFormat): Promise<FrozenGraph> {
  if (format === 'frozen-pb') return decodeGraphDef(readBytes(file), file);
  if (format === 'graph-model') return readGraphModel(file).frozen;
  const model = await loadLayersModelFile(file);
  try {
    return layersModelToGraph(model).frozen;
  } finally {
    model.dispose();
  }
}

/**
 * Lists a graph's inputs, outputs and ops: a frozen `.pb`, a graph model, or a Layers model (a run
 * directory too), which is shown as the inference graph `exportModel` would write.
 */
export async function inspectGraph(path: string): Promise<GraphInspection> {
  const location = locateModel(path);
  const frozen = await frozenGraphOf(location.file, location.format);
  const nodes = frozen.graph.node;
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node.op, (counts.get(node.op) ?? 0) + 1);
  const ops = [...counts]
    .map(([op, count]) => ({ op, count, supported: isSupportedOp(op) }))
    .sort((a, b) => b.count - a.count || (a.op < b.op ? -1 : 1));
  const rewritten = new Set(rewriteLegacyOps(frozen).graph.node.map((n) => n.op));
  const unsupportedOps = [...rewritten].filter((op) => !isSupportedOp(op)).sort();
  let values = 0;
  for (const tensor of frozen.constants.values()) values += elementCount(tensor.shape);
  return {
    file: location.file,
    format: location.format,
    nodeCount: nodes.length,
    inputs: placeholderNodes(nodes).map((n) => {
      const type = n.attr?.['dtype']?.type;
      return { name: `${n.name}:0`, dtype: hostDtypeOf(type) ?? type ?? 'unknown', shape: shapeOf(n.attr?.['shape']?.shape) };
    }),
    outputs: sinkNodes(nodes).map((n) => ({ name: `${n.name}:0`, op: n.op })),
    ops,
    unsupportedOps,
    constants: { count: frozen.constants.size, values },
    graphDef: frozen.graph,
    tensorBoardGraph: () => encodeGraphDef(frozen, { constants: 'shapes-only' }),
  };
}
