import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ConfigError } from '@dlexp/core';
import { encodeGraphDef } from './graph-def-binary';
import { dtypeName, shapeJson } from './graph-def';
import { layersModelToGraph, type GraphSignatureEntry } from './layers-to-graph';
import { loadLayersModelFile } from './load-model';
import { assertWritable, locateModel, PREPROCESSING_FILE, writeFileAtomic, writeGraphModel, type GraphModelSignature } from './model-files';
import { readPreprocessing, writePreprocessing } from './preprocessing';

export type ExportFormat = 'graph-model' | 'frozen-pb';

export interface ExportResult {
  format: ExportFormat;
  /** Every file written, model first. */
  files: string[];
  inputs: GraphSignatureEntry[];
  outputs: GraphSignatureEntry[];
  /** Op name → number of nodes, for a one-line summary. */
  ops: Record<string, number>;
}

function signatureOf(entries: readonly GraphSignatureEntry[]): GraphModelSignature['inputs'] {
  return Object.fromEntries(entries.map((e) => [e.key, { name: e.tensor, dtype: dtypeName(e.dtype), tensorShape: shapeJson(e.shape) }]));
}

/**
 * Writes the trained Layers model of a run (`runModelDir`: the run directory, its `model/` folder
 * or a Layers model.json) to `outDir` as an inference graph of TF ops with its weights as
 * constants: `graph-model` is model.json (format graph-model) with weight shards, for TF.js;
 * `frozen-pb` is model.pb, a binary GraphDef with the values inlined, for TensorFlow.
 * preprocessing.json is copied along when the model has one. Existing model files are not
 * replaced.
 */
export async function exportModel(runModelDir: string, outDir: string, options: { format: ExportFormat }): Promise<ExportResult> {
  const format = options.format;
  if (format !== 'graph-model' && format !== 'frozen-pb') throw new ConfigError(`format: '${String(format)}' is not one of graph-model, frozen-pb`);
  const location = locateModel(runModelDir);
  if (location.format !== 'layers-model') {
    throw new ConfigError(`${location.file}: is a ${location.format}; export takes a Layers model (a run directory or its model/ folder)`);
  }
  const preprocessing = readPreprocessing(location.dir);
  const target = format === 'graph-model' ? join(outDir, 'model.json') : join(outDir, 'model.pb');
  assertWritable([target, ...(preprocessing === undefined ? [] : [join(outDir, PREPROCESSING_FILE)])]);
  const model = await loadLayersModelFile(location.file);
  let exported;
  try {
    exported = layersModelToGraph(model);
  } finally {
    model.dispose();
  }
  const ops: Record<string, number> = {};
  for (const node of exported.frozen.graph.node) ops[node.op] = (ops[node.op] ?? 0) + 1;
  mkdirSync(outDir, { recursive: true });
  let files: string[];
  if (format === 'graph-model') {
    files = writeGraphModel(exported.frozen, outDir, {
      signature: { inputs: signatureOf(exported.inputs), outputs: signatureOf(exported.outputs) },
      generatedBy: `dlexp export of ${location.file}`,
    });
  } else {
    writeFileAtomic(target, encodeGraphDef(exported.frozen));
    files = [target];
  }
  // The graph keeps the layer names for its inputs and outputs, so the recorded names still hold.
  if (preprocessing !== undefined) files.push(writePreprocessing(outDir, preprocessing));
  return { format, files, inputs: exported.inputs, outputs: exported.outputs, ops };
}
