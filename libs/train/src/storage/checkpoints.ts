import type * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@dlexp/core';
import type { LoopState } from '../loop/loop-state';
import { decodeTensors, encodeTensors } from '../tensor-files';
import { readFolder } from './files';

/** A checkpoint as read back: the loop's state and every saved tensor (the caller disposes them). */
export interface Checkpoint {
  state: LoopState;
  tensors: Map<string, tf.Tensor>;
}

/** Where the train loop keeps checkpoints: on disk for the CLI; elsewhere for other hosts. */
export interface CheckpointStore {
  /** Saves the newest checkpoint; only the last few are kept. */
  save(state: LoopState, tensors: Map<string, tf.Tensor>): Promise<void>;
  /** Saves the best checkpoint so far (replacing the previous best). */
  saveBest(state: LoopState, tensors: Map<string, tf.Tensor>): Promise<void>;
  latest(): Checkpoint | undefined;
  best(): Checkpoint | undefined;
}

const PREFIX = 'step-';
const BEST = 'best';

/**
 * A run's checkpoints folder: `step-<N>/` for the newest few and `best/` for keepBest. Each
 * checkpoint is written into a temporary folder and renamed into place when complete, so a run
 * killed mid-write leaves only complete checkpoints behind.
 */
export class CheckpointFolder implements CheckpointStore {
  constructor(
    readonly folder: string,
    private readonly keep: number,
  ) {}

  async save(state: LoopState, tensors: Map<string, tf.Tensor>): Promise<void> {
    await this.write(`${PREFIX}${String(state.step).padStart(8, '0')}`, state, tensors);
    for (const old of this.complete().slice(0, -this.keep)) rmSync(join(this.folder, old), { recursive: true, force: true });
  }

  async saveBest(state: LoopState, tensors: Map<string, tf.Tensor>): Promise<void> {
    await this.write(BEST, state, tensors);
  }

  /** Names of the complete step checkpoints, oldest first. */
  complete(): string[] {
    if (!existsSync(this.folder)) return [];
    return readdirSync(this.folder)
      .filter((name) => name.startsWith(PREFIX) && existsSync(join(this.folder, name, 'state.json')))
      .sort();
  }

  latest(): Checkpoint | undefined {
    const name = this.complete().at(-1);
    return name === undefined ? undefined : this.read(name);
  }

  best(): Checkpoint | undefined {
    return existsSync(join(this.folder, BEST, 'state.json')) ? this.read(BEST) : undefined;
  }

  private async write(name: string, state: LoopState, tensors: Map<string, tf.Tensor>): Promise<void> {
    mkdirSync(this.folder, { recursive: true });
    const temporary = join(this.folder, `.tmp-${name}`);
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary);
    for (const [file, bytes] of await encodeTensors(tensors)) writeFileSync(join(temporary, file), bytes);
    writeFileSync(join(temporary, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
    const final = join(this.folder, name);
    rmSync(final, { recursive: true, force: true });
    renameSync(temporary, final);
  }

  private read(name: string): Checkpoint {
    const folder = join(this.folder, name);
    let state: LoopState;
    try {
      state = JSON.parse(readFileSync(join(folder, 'state.json'), 'utf8')) as LoopState;
    } catch (error) {
      throw new DataError(`${folder}/state.json: cannot read the checkpoint: ${(error as Error).message}`);
    }
    return { state, tensors: decodeTensors(readFolder(folder, ['tensors.json', 'tensors.bin']), folder) };
  }
}
