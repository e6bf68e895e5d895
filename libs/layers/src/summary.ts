import type * as tf from '@tensorflow/tfjs';
import type { BuiltModel } from './model';

export interface SummaryRow {
  name: string;
  /** The registry type (`conv2d`) when known, else tfjs' class name (`InputLayer`). */
  type: string;
  /** Without the batch axis, which is always first and of any size. */
  outputShape: number[] | number[][];
  params: number;
  trainable: boolean;
}

export interface ModelSummary {
  rows: SummaryRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
}

const size = (shape: tf.Shape) => shape.reduce<number>((a, b) => a * (b ?? 1), 1);

function withoutBatch(shape: tf.Shape | tf.Shape[]): number[] | number[][] {
  const strip = (s: tf.Shape) => s.slice(1).map((d) => d ?? -1);
  return Array.isArray(shape[0]) ? (shape as tf.Shape[]).map(strip) : strip(shape as tf.Shape);
}

/** One row per layer (name, type, output shape, parameter count) and the totals. */
export function modelSummary(built: BuiltModel | tf.LayersModel): ModelSummary {
  const model = 'model' in built ? built.model : built;
  const types = 'model' in built ? built.layerTypes : {};
  const rows: SummaryRow[] = [];
  let trainableParams = 0;
  let totalParams = 0;
  for (const layer of model.layers) {
    const params = layer.countParams();
    const trainable = layer.trainableWeights.reduce((n, w) => n + size(w.shape), 0);
    totalParams += params;
    trainableParams += trainable;
    rows.push({
      name: layer.name,
      type: types[layer.name] ?? layer.getClassName(),
      outputShape: withoutBatch(layer.outputShape),
      params,
      trainable: layer.trainable,
    });
  }
  return { rows, totalParams, trainableParams, nonTrainableParams: totalParams - trainableParams };
}

/** The summary as a plain-text table, for a log or the console. */
export function formatModelSummary(summary: ModelSummary): string {
  const shapeText = (s: number[] | number[][]) =>
    Array.isArray(s[0]) ? (s as number[][]).map((x) => `[${x.join(', ')}]`).join(' ') : `[${(s as number[]).join(', ')}]`;
  const table = [
    ['Layer', 'Type', 'Output shape', 'Params'],
    // Only layers with weights can be frozen; an input layer is never "frozen".
    ...summary.rows.map((r) => [r.trainable || r.params === 0 ? r.name : `${r.name} (frozen)`, r.type, shapeText(r.outputShape), r.params.toLocaleString('en-US')]),
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === row.length - 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  const rule = '-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  return [
    line(table[0]!),
    rule,
    ...table.slice(1).map(line),
    rule,
    `Total params: ${summary.totalParams.toLocaleString('en-US')}`,
    `Trainable params: ${summary.trainableParams.toLocaleString('en-US')}`,
    `Non-trainable params: ${summary.nonTrainableParams.toLocaleString('en-US')}`,
  ].join('\n');
}
