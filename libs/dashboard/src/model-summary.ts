import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSummary, ModelSummaryRow } from './api';

/**
 * A model's layers and parameters, read from what a run writes: graph.json (at the start, for
 * every kind of model: one name scope per layer, each variable with its shape, each layer's output
 * shape) and, once the run has finished, model/model.json (each layer's settings). Files that are
 * missing or unreadable give no summary rather than an error: the summary is a convenience.
 */

interface GraphNode {
  name: string;
  op: string;
  attr: Record<string, unknown>;
}

const VARIABLE_OPS = new Set(['VariableV2', 'VarHandleOp', 'Variable']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** A TensorFlow shape attribute (`{shape: {dim: [{size: "-1"}, ...]}}`) as numbers, -1 as null. */
function shapeOf(attribute: unknown): (number | null)[] | undefined {
  if (!isRecord(attribute) || !isRecord(attribute['shape'])) return undefined;
  const dims = attribute['shape']['dim'];
  if (dims === undefined) return [];
  if (!Array.isArray(dims)) return undefined;
  return dims.map((d) => {
    const size = Number(isRecord(d) ? d['size'] : NaN);
    return Number.isFinite(size) && size >= 0 ? size : null;
  });
}

function graphNodes(dir: string): GraphNode[] {
  const graph = readJson(join(dir, 'graph.json'));
  if (!isRecord(graph) || !Array.isArray(graph['node'])) return [];
  return graph['node'].flatMap((node) =>
    isRecord(node) && typeof node['name'] === 'string' && typeof node['op'] === 'string' ? [{ name: node['name'], op: node['op'], attr: isRecord(node['attr']) ? node['attr'] : {} }] : [],
  );
}

/** Each layer's config in model/model.json, by layer name. */
function layerConfigs(dir: string): Map<string, { className: string; config: Record<string, unknown> }> {
  const model = readJson(join(dir, 'model', 'model.json'));
  const layers = isRecord(model) && isRecord(model['modelTopology']) && isRecord(model['modelTopology']['config']) ? model['modelTopology']['config']['layers'] : undefined;
  const found = new Map<string, { className: string; config: Record<string, unknown> }>();
  if (!Array.isArray(layers)) return found;
  for (const layer of layers) {
    if (!isRecord(layer) || typeof layer['class_name'] !== 'string' || !isRecord(layer['config'])) continue;
    const name = typeof layer['name'] === 'string' ? layer['name'] : String(layer['config']['name'] ?? '');
    found.set(name, { className: layer['class_name'], config: layer['config'] });
  }
  return found;
}

const DETAIL_KEYS: [string, string][] = [
  ['units', 'units'],
  ['filters', 'filters'],
  ['kernel_size', 'kernel'],
  ['pool_size', 'pool'],
  ['strides', 'strides'],
  ['padding', 'padding'],
  ['activation', 'activation'],
  ['rate', 'rate'],
  ['return_sequences', 'sequences'],
];

function detailsOf(config: Record<string, unknown>): string {
  return DETAIL_KEYS.flatMap(([key, label]) => {
    const value = config[key];
    if (value === undefined || value === null || (key === 'activation' && value === 'linear')) return [];
    return [`${label} ${Array.isArray(value) ? value.join('×') : String(value)}`];
  }).join(', ');
}

const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The summary of the model of the run in `dir`, or undefined when it has no graph.json yet. */
export function readModelSummary(dir: string): ModelSummary | undefined {
  const nodes = graphNodes(dir);
  if (nodes.length === 0) return undefined;
  const configs = layerConfigs(dir);
  const scopeOf = (name: string) => (name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : undefined);
  const layered = nodes.some((n) => !VARIABLE_OPS.has(n.op) && scopeOf(n.name) !== undefined);
  const rows: ModelSummaryRow[] = [];

  if (layered) {
    // A layer model: a row per input and per name scope (one per layer), in graph order.
    const byScope = new Map<string, ModelSummaryRow>();
    for (const node of nodes) {
      if (node.op === 'Placeholder') {
        rows.push({ name: node.name, type: 'Input', details: '', shapes: [], params: 0, ...outputShape(shapeOf(node.attr['shape'])) });
        continue;
      }
      const scope = scopeOf(node.name);
      if (scope === undefined) continue;
      let row = byScope.get(scope);
      if (row === undefined) {
        const config = configs.get(scope);
        row = { name: scope, type: config?.className ?? '', details: config === undefined ? '' : detailsOf(config.config), shapes: [], params: 0 };
        byScope.set(scope, row);
        rows.push(row);
      }
      if (VARIABLE_OPS.has(node.op)) {
        const shape = (shapeOf(node.attr['shape']) ?? []).map((d) => d ?? 0);
        row.shapes.push(shape);
        row.params += product(shape);
      } else {
        if (row.type === '') row.type = node.op;
        const shown = shapeOf(node.attr['_output_shapes']);
        if (shown !== undefined) row.outputShape = shown;
      }
    }
  } else {
    // An ops model: its placeholders and variables are what there is to summarize.
    for (const node of nodes) {
      const shape = shapeOf(node.attr['shape']);
      if (node.op === 'Placeholder') rows.push({ name: node.name, type: 'placeholder', details: '', shapes: [], params: 0, ...outputShape(shape) });
      else if (VARIABLE_OPS.has(node.op)) {
        const dims = (shape ?? []).map((d) => d ?? 0);
        rows.push({ name: node.name, type: 'variable', details: '', shapes: [dims], params: product(dims) });
      }
    }
  }
  return {
    source: configs.size > 0 ? 'graph.json, model/model.json' : 'graph.json',
    rows,
    totalParams: rows.reduce((sum, row) => sum + row.params, 0),
  };
}

function outputShape(shape: (number | null)[] | undefined): { outputShape?: (number | null)[] } {
  return shape === undefined ? {} : { outputShape: shape };
}
