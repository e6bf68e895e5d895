import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TensorBoardConfig } from '@dlexp/config';
import type { LoggedRow, RunSink } from '@dlexp/train';
import { createEventWriter, type EventWriter } from './event-writer';
import type { GraphDefJson } from './graph-def';
import type { HParamValue } from './hparams';
import { writeProjector } from './projector';

/** Where a run's TensorBoard files go: `<run-dir>/tensorboard/`, so `tensorboard --logdir runs/` finds every run. */
export const TENSORBOARD_FOLDER = 'tensorboard';

export interface TensorBoardSinkOptions {
  /** Sweep trials: the values the sweep set, shown in the HParams tab. */
  hparams?: Record<string, HParamValue>;
}

/**
 * Scalar tags: `<metric>/<split>` (loss/train, accuracy/validation, char0.accuracy/test), so each
 * metric's splits sit side by side; values that belong to no split keep their name (k, b,
 * learning rate).
 */
export function scalarTags(row: LoggedRow): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key === 'step' || key === 'epoch' || key === 'timeMs') continue;
    const split = /^(train|validation|test)\.(.+)$/.exec(key);
    out[split === null ? (key === 'learningRate' ? 'learning_rate' : key) : `${split[2]}/${split[1]}`] = value;
  }
  return out;
}

/**
 * The TensorBoard sink of a run: the graph and the resolved config (Text tab) at the start, scalars at every logged row, the
 * per-variable summaries (mean, stddev, min, max, histogram) of every weight and the histogram of
 * every gradient at the configured cadence, hparams for sweep trials, and the projector at the end.
 * A resumed run opens a new event file starting at its checkpoint's step.
 */
export function createTensorBoardSink(config: TensorBoardConfig, options: TensorBoardSinkOptions = {}): RunSink {
  let writer: EventWriter | undefined;
  let folder = '';
  const every = config.histogramsEvery ?? 'epoch';
  return {
    start: (run) => {
      folder = join(run.runDirectory, TENSORBOARD_FOLDER);
      writer = createEventWriter({ logdir: folder, firstStep: run.firstStep });
      writer.addGraph(run.graphDef as GraphDefJson);
      // The Text tab shows what produced the curves, beside them (markdown: a YAML code block).
      if (run.firstStep === 0) writer.addText('config', `\`\`\`yaml\n${stringify(run.experiment.resolved)}\`\`\``, 0);
      if (options.hparams !== undefined && run.firstStep === 0) writer.addHParamsSessionStart({ hparams: options.hparams });
    },
    row: (row) => writer?.addScalars(scalarTags(row), row['step'] ?? 0),
    wantsTensors: (step, epochEnd) => (every === 'epoch' ? epochEnd : step % every === 0),
    tensors: (snapshot) => {
      if (writer === undefined) return;
      for (const [name, { values }] of snapshot.weights) writer.addVariableSummaries(name, values, snapshot.step);
      for (const [name, { values }] of snapshot.gradients) writer.addHistogram(`${name}/gradient`, values, snapshot.step);
    },
    checkpoint: () => writer?.flush(),
    end: (end) => {
      if (writer === undefined) return;
      try {
        if (options.hparams !== undefined) writer.addHParamsSessionEnd({ status: end.summary.status === 'completed' ? 'success' : end.summary.status === 'interrupted' ? 'running' : 'failure' });
      } finally {
        writer.close();
      }
      if (end.embedding !== undefined) {
        const e = end.embedding;
        writeProjector(folder, [{ name: e.layer, values: e.values, rows: e.rows, dims: e.dims, labels: e.labels, ...(e.images !== undefined ? { images: e.images } : {}) }]);
      }
    },
  };
}
