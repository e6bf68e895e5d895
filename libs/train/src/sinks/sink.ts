import type { ActiveBackend } from '@dlexp/backends';
import type { LoadedExperiment } from '@dlexp/config';
import type { GraphDef } from '@dlexp/graph';
import type { ExpectationResult } from '../expectations';
import type { ModelFiles } from '../models/trainable-model';

/** One logged row: step, epoch, `<split>.<metric>` values, fetched values and timeMs. */
export type LoggedRow = Record<string, number>;

/** What a run tells its sinks before the first step. */
export interface RunStart {
  experiment: LoadedExperiment;
  configHash: string;
  /** Where the run's files go (the run directory), for sinks that write beside them. */
  runDirectory: string;
  backend: ActiveBackend;
  /** The dataset in a sentence (sizes of its splits). */
  dataset: string;
  graphDef: GraphDef;
  /** The step the run continues from (0 for a new run). */
  firstStep: number;
  /** Rows already logged before a resumed segment (metrics.jsonl keeps that many). */
  loggedRows: number;
  totalSteps: number | undefined;
  stepsPerEpoch: number | undefined;
}

/** Values of named tensors copied off the device, with their shapes. */
export type TensorValues = Map<string, { shape: number[]; values: Float32Array }>;

/** Weights and the gradients of one step, read back for sinks that asked for them. */
export interface TensorSnapshot {
  step: number;
  epoch: number;
  /** Every weight of the model by name (trainable or not). */
  weights: TensorValues;
  /** The gradient of every trainable variable at this step, by variable name. */
  gradients: TensorValues;
}

/** The summary.json of a run: what it was, how it ended, its final metrics and timings. */
export interface RunSummary {
  name: string;
  status: 'completed' | 'failed' | 'interrupted';
  seed: number;
  backend: { name: string; tfBackend: string; adapter?: string; device?: string; threads?: number };
  metrics: Record<string, number>;
  timing: Record<string, number | string>;
  configHash: string;
  versions: Record<string, string>;
  stoppedEarlyAtEpoch?: number;
  /** A stopWhen condition ended training: why, at which step, and the value that crossed. */
  stopped?: { reason: string; step: number; metric: string; value: number };
  /** With keepBest: the step of the best checkpoint and its metric value. */
  best?: { metric: string; value: number; step: number; restored: boolean };
  expectations?: ExpectationResult[];
  error?: string;
}

/** A layer's output on examples of a split, with their labels and images, for the projector. */
export interface Embedding {
  layer: string;
  split: string;
  values: Float32Array;
  rows: number;
  dims: number;
  /** The label of each example (class names where the dataset names them). */
  labels: string[];
  /** The examples as images, when they are images: [rows, height, width, channels] in [0, 1]. */
  images?: { height: number; width: number; channels: 1 | 3; pixels: Float32Array };
}

/** What a run tells its sinks at the end (after a failure too, with the error). */
export interface RunEnd {
  summary: RunSummary;
  /** The trained model's files (completed runs only). */
  model?: ModelFiles;
  /** Extra files the model asked to keep (predictions.csv), by name. */
  files: Map<string, string>;
  /** The embedding `tensorboard.projector` asks for (completed runs only). */
  embedding?: Embedding;
}

/**
 * Where a run sends what it produces. Every method is optional; the run awaits each call, so a
 * sink may write files. The run directory writer is one sink; TensorBoard, the console and a live
 * web view are others. Sinks never steer the run (the AbortSignal does).
 */
export interface RunSink {
  start?(run: RunStart): void | Promise<void>;
  /** A logged row (also each epoch end's evaluation). */
  row?(row: LoggedRow): void | Promise<void>;
  /** After every step: the loss is the last one read from the device (undefined before any). */
  progress?(step: number, totalSteps: number | undefined, lastLoss: number | undefined): void;
  /**
   * Whether this sink wants the weights and gradients after this step. Reading them is a device
   * sync, so sinks ask only at the cadence they need (for example every epoch end).
   */
  wantsTensors?(step: number, epochEnd: boolean): boolean;
  tensors?(snapshot: TensorSnapshot): void | Promise<void>;
  /** A checkpoint was saved after `step` (`best` for keepBest). */
  checkpoint?(step: number, kind: 'periodic' | 'best'): void | Promise<void>;
  /** A sentence for the person watching (resuming, early stopping, interruption). */
  message?(text: string): void;
  end?(end: RunEnd): void | Promise<void>;
}

/** One sink that forwards every event to several, in order. */
export function combineSinks(sinks: RunSink[]): Required<RunSink> {
  return {
    start: async (run) => {
      for (const s of sinks) await s.start?.(run);
    },
    row: async (row) => {
      for (const s of sinks) await s.row?.(row);
    },
    progress: (step, total, loss) => {
      for (const s of sinks) s.progress?.(step, total, loss);
    },
    wantsTensors: (step, epochEnd) => sinks.some((s) => s.wantsTensors?.(step, epochEnd) === true),
    tensors: async (snapshot) => {
      for (const s of sinks) if (s.tensors !== undefined) await s.tensors(snapshot);
    },
    checkpoint: async (step, kind) => {
      for (const s of sinks) await s.checkpoint?.(step, kind);
    },
    message: (text) => {
      for (const s of sinks) s.message?.(text);
    },
    end: async (end) => {
      for (const s of sinks) await s.end?.(end);
    },
  };
}
