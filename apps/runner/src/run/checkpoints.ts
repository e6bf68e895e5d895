import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@dlexp/core';
import type { BatchIteratorState } from '@dlexp/data';

/** Everything the loop needs besides tensors to continue exactly where it stopped. */
export interface LoopState {
  step: number;
  /** Running sums (loss × examples, examples) for the train.loss of the next logged row. */
  lossSum: number;
  lossCount: number;
  lastFiniteLoss: number | null;
  /** Training time already spent, so timeMs continues instead of restarting. */
  elapsedMs: number;
  /** metrics.jsonl rows written up to this step (a resumed run drops rows after it). */
  loggedRows: number;
  /** Early stopping: the best value seen and the epochs since it. */
  bestMonitored: number | null;
  epochsWithoutImprovement: number;
  /** The data pipeline's position (its BatchIteratorState): the next batch to train on. */
  pipeline: BatchIteratorState | null;
}

interface TensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

const PREFIX = 'step-';

/** Writes named tensors as one little-endian binary file plus a JSON manifest. */
export async function writeTensors(folder: string, tensors: Map<string, tf.Tensor>): Promise<void> {
  const entries: TensorEntry[] = [];
  const buffers: Buffer[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const values = await tensor.data();
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    entries.push({ name, shape: tensor.shape, dtype: tensor.dtype === 'int32' ? 'int32' : 'float32', offset, length: values.length });
    buffers.push(Buffer.from(bytes));
    offset += bytes.length;
  }
  writeFileSync(join(folder, 'tensors.bin'), Buffer.concat(buffers));
  writeFileSync(join(folder, 'tensors.json'), `${JSON.stringify(entries)}\n`);
}

export function readTensors(folder: string): Map<string, tf.Tensor> {
  const manifestFile = join(folder, 'tensors.json');
  const binaryFile = join(folder, 'tensors.bin');
  let entries: TensorEntry[];
  let data: Buffer;
  try {
    entries = JSON.parse(readFileSync(manifestFile, 'utf8')) as TensorEntry[];
    data = readFileSync(binaryFile);
  } catch (error) {
    throw new DataError(`${folder}: cannot read the saved tensors: ${(error as Error).message}`);
  }
  const out = new Map<string, tf.Tensor>();
  for (const entry of entries) {
    const end = entry.offset + entry.length * 4;
    if (end > data.length) throw new DataError(`${binaryFile}: truncated at byte ${data.length}; '${entry.name}' needs bytes ${entry.offset} to ${end}`);
    const copy = data.buffer.slice(data.byteOffset + entry.offset, data.byteOffset + end);
    const values = entry.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    out.set(entry.name, tf.tensor(values, entry.shape, entry.dtype));
  }
  return out;
}

/**
 * A run's checkpoints folder. Each checkpoint is written into a temporary folder and renamed into
 * place when complete, so a run killed mid-write leaves only complete checkpoints behind.
 */
export class Checkpoints {
  constructor(
    readonly folder: string,
    private readonly keep: number,
  ) {}

  async save(state: LoopState, tensors: Map<string, tf.Tensor>): Promise<void> {
    mkdirSync(this.folder, { recursive: true });
    const name = `${PREFIX}${String(state.step).padStart(8, '0')}`;
    const temporary = join(this.folder, `.tmp-${name}-${process.pid}`);
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary);
    await writeTensors(temporary, tensors);
    writeFileSync(join(temporary, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
    const final = join(this.folder, name);
    rmSync(final, { recursive: true, force: true });
    renameSync(temporary, final);
    for (const old of this.complete().slice(0, -this.keep)) rmSync(join(this.folder, old), { recursive: true, force: true });
  }

  /** Names of the complete checkpoints, oldest first. */
  complete(): string[] {
    if (!existsSync(this.folder)) return [];
    return readdirSync(this.folder)
      .filter((name) => name.startsWith(PREFIX) && existsSync(join(this.folder, name, 'state.json')))
      .sort();
  }

  /** The newest complete checkpoint, or undefined when there is none. */
  latest(): { state: LoopState; tensors: Map<string, tf.Tensor> } | undefined {
    const name = this.complete().at(-1);
    if (name === undefined) return undefined;
    const folder = join(this.folder, name);
    const state = JSON.parse(readFileSync(join(folder, 'state.json'), 'utf8')) as LoopState;
    return { state, tensors: readTensors(folder) };
  }
}
