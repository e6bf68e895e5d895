import * as tf from '@tensorflow/tfjs';
import { ConfigError, DataError, RandomStream, type RandomState } from '@dlexp/core';
import {
  elementCount,
  splitFeatures,
  type DataSplit,
  type FeatureInfo,
  type FeatureValues,
  type InMemorySplit,
  type StreamPosition,
  type StreamedExample,
  type StreamingSplit,
} from './dataset';

/** One batch: a tensor per feature, first dimension the batch. The consumer disposes them. */
export type Batch = Record<string, tf.Tensor>;

export interface BatchIteratorOptions {
  batchSize: number;
  /** Seed of the shuffling; each epoch's order derives from (seed, epoch). */
  seed: number;
  /** Shuffle the examples of each epoch (default true). */
  shuffle?: boolean;
  /** The last batch of an epoch when fewer than `batchSize` examples are left (default `keep`). */
  remainder?: 'keep' | 'drop';
  /** Epochs to run, counted from epoch 0 also when resuming; undefined repeats forever. */
  epochs?: number;
  /** Batches prepared ahead of the consumer (default 2; 0 prepares each on demand). */
  prefetch?: number;
  /** Examples held to shuffle a streamed split (default 1024); in-memory splits permute fully. */
  shuffleBuffer?: number;
  /** The features to batch (default all). */
  features?: string[];
}

/**
 * The position of an iterator: the batch it hands out next. Plain JSON; passing it back to
 * {@link createBatchIterator} continues with exactly the batches an uninterrupted run would get.
 * For a streamed split it also holds the shuffle generator, the reading position, and the
 * positions of the examples waiting in the shuffle buffer (re-read on resume).
 */
export interface BatchIteratorState {
  epoch: number;
  batch: number;
  stream?: {
    rng: RandomState;
    next: StreamPosition;
    /** Positions in the shuffle buffer as [file, offset] pairs, in buffer order. */
    buffer: [number, number][];
  };
}

/** Where the batch most recently handed out sits. */
export interface BatchInfo {
  epoch: number;
  /** Index of the batch within its epoch. */
  index: number;
  /** Number of examples (smaller than batchSize for a kept final batch). */
  size: number;
  /** The last batch of its epoch. */
  endsEpoch: boolean;
}

export interface BatchIterator extends AsyncIterableIterator<Batch> {
  /** The state to resume from: after the batch most recently handed out. */
  state(): BatchIteratorState;
  /** The batch most recently handed out; undefined before the first. */
  readonly last: BatchInfo | undefined;
  /** Stops reading ahead; pending prepared batches are dropped (they hold no tensors). */
  return(): Promise<IteratorResult<Batch>>;
}

/** A batch still in host memory: tensors are created only when it is handed out. */
interface HostBatch {
  values: Record<string, FeatureValues>;
  info: BatchInfo;
  after: BatchIteratorState;
}

interface ResolvedOptions {
  batchSize: number;
  seed: number;
  shuffle: boolean;
  drop: boolean;
  epochs: number;
  prefetch: number;
  shuffleBuffer: number;
  features: Record<string, FeatureInfo>;
}

function resolveOptions(split: DataSplit, options: BatchIteratorOptions): ResolvedOptions {
  const all = splitFeatures(split);
  const names = options.features ?? Object.keys(all);
  const features: Record<string, FeatureInfo> = {};
  for (const name of names) {
    const info = all[name];
    if (info === undefined) throw new ConfigError(`feature '${name}' is not in the data (it has ${Object.keys(all).join(', ')})`);
    features[name] = info;
  }
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new ConfigError(`batchSize must be a positive integer, got ${options.batchSize}`);
  const prefetch = options.prefetch ?? 2;
  const shuffleBuffer = options.shuffleBuffer ?? 1024;
  if (!Number.isInteger(prefetch) || prefetch < 0) throw new ConfigError(`prefetch must be a whole number, got ${prefetch}`);
  if (!Number.isInteger(shuffleBuffer) || shuffleBuffer < 1) throw new ConfigError(`shuffleBuffer must be a positive integer, got ${shuffleBuffer}`);
  return {
    batchSize: options.batchSize,
    seed: options.seed,
    shuffle: options.shuffle ?? true,
    drop: (options.remainder ?? 'keep') === 'drop',
    epochs: options.epochs ?? Number.POSITIVE_INFINITY,
    prefetch,
    shuffleBuffer,
    features,
  };
}

/** Lets pending I/O callbacks and the consumer's awaits run between batches. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The order of one epoch: a function of (seed, epoch) only, so resuming needs no history. */
export function epochPermutation(seed: number, epoch: number, size: number): Int32Array {
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  new RandomStream(seed, 'data', 'shuffle', epoch).shuffle(order);
  return order;
}

/** Number of batches one epoch of an in-memory split gives. */
export function batchesPerEpoch(size: number, batchSize: number, remainder: 'keep' | 'drop' = 'keep'): number {
  return remainder === 'drop' ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

function allocate(info: FeatureInfo, rows: number): FeatureValues {
  const n = rows * elementCount(info.shape);
  return info.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
}

async function* memoryBatches(split: InMemorySplit, o: ResolvedOptions, start: BatchIteratorState): AsyncGenerator<HostBatch> {
  const perEpoch = batchesPerEpoch(split.size, o.batchSize, o.drop ? 'drop' : 'keep');
  if (perEpoch === 0) {
    throw new ConfigError(`a split of ${split.size} examples gives no batch of ${o.batchSize} when the remainder is dropped`);
  }
  if (start.batch > perEpoch) throw new ConfigError(`iterator state: batch ${start.batch} is past the ${perEpoch} batches of an epoch`);
  const names = Object.keys(o.features);
  let first = start.batch;
  for (let epoch = start.epoch; epoch < o.epochs; epoch++) {
    const order = o.shuffle ? epochPermutation(o.seed, epoch, split.size) : null;
    for (let b = first; b < perEpoch; b++) {
      await yieldToEventLoop();
      const from = b * o.batchSize;
      const rows = Math.min(o.batchSize, split.size - from);
      const values: Record<string, FeatureValues> = {};
      for (const name of names) {
        const column = split.columns[name]!;
        const width = elementCount(column.shape.slice(1));
        const out = allocate(o.features[name]!, rows);
        if (order === null) out.set(column.data.subarray(from * width, (from + rows) * width));
        else if (width === 1) for (let r = 0; r < rows; r++) out[r] = column.data[order[from + r]!]!;
        else {
          for (let r = 0; r < rows; r++) {
            const i = order[from + r]!;
            out.set(column.data.subarray(i * width, (i + 1) * width), r * width);
          }
        }
        values[name] = out;
      }
      const last = b === perEpoch - 1;
      yield {
        values,
        info: { epoch, index: b, size: rows, endsEpoch: last },
        after: last ? { epoch: epoch + 1, batch: 0 } : { epoch, batch: b + 1 },
      };
    }
    first = 0;
  }
}

interface Buffered {
  position: StreamPosition;
  values: Record<string, FeatureValues>;
}

async function* streamBatches(split: StreamingSplit, o: ResolvedOptions, start: BatchIteratorState): AsyncGenerator<HostBatch> {
  const names = Object.keys(o.features);
  const capacity = o.shuffle ? o.shuffleBuffer : 1;
  let resume = start.stream;
  let batchIndex = start.batch;
  for (let epoch = start.epoch; epoch < o.epochs; epoch++) {
    let rng: RandomStream;
    let buffer: Buffered[];
    let next: StreamPosition;
    if (resume !== undefined) {
      rng = RandomStream.fromState(resume.rng);
      buffer = [];
      for (const [file, offset] of resume.buffer) {
        const position = { file, offset };
        buffer.push({ position, values: await split.readAt(position) });
      }
      next = resume.next;
      resume = undefined;
    } else {
      rng = new RandomStream(o.seed, 'data', 'shuffle-buffer', epoch);
      buffer = [];
      next = { file: 0, offset: 0 };
    }
    const reader = split.read(next)[Symbol.asyncIterator]();
    // A consumer that stops early (evaluation's first examples, an interrupted run) returns this
    // generator at a yield: the reader is returned too, so its file is closed then, not when collected.
    try {
      let exhausted = false;
      let pending: Buffered[] = [];
      // A finished batch waits until the next example is known, so that `endsEpoch` is exact.
      let held: HostBatch | undefined;
      let yielded = 0;
      for (;;) {
        while (!exhausted && buffer.length < capacity) {
          const r: IteratorResult<StreamedExample> = await reader.next();
          if (r.done === true) exhausted = true;
          else {
            buffer.push({ position: r.value.position, values: r.value.values });
            next = r.value.next;
          }
        }
        if (buffer.length === 0) break;
        if (held !== undefined) {
          yield held;
          yielded++;
          held = undefined;
        }
        const j = capacity === 1 ? 0 : rng.int(buffer.length);
        const chosen = buffer[j]!;
        buffer[j] = buffer[buffer.length - 1]!;
        buffer.pop();
        pending.push(chosen);
        if (pending.length === o.batchSize) {
          held = {
            values: assemble(pending, names, o.features),
            info: { epoch, index: batchIndex, size: pending.length, endsEpoch: false },
            after: {
              epoch,
              batch: batchIndex + 1,
              stream: { rng: rng.state(), next: { ...next }, buffer: buffer.map((e) => [e.position.file, e.position.offset]) },
            },
          };
          batchIndex++;
          pending = [];
          await yieldToEventLoop();
        }
      }
      if (pending.length > 0 && !o.drop) {
        if (held !== undefined) {
          yield held;
          yielded++;
        }
        held = { values: assemble(pending, names, o.features), info: { epoch, index: batchIndex, size: pending.length, endsEpoch: false }, after: { epoch: epoch + 1, batch: 0 } };
      }
      if (held !== undefined) {
        held.info.endsEpoch = true;
        held.after = { epoch: epoch + 1, batch: 0 };
        yield held;
        yielded++;
      } else if (yielded === 0 && start.batch === 0) {
        throw new DataError(`the streamed split gives no batch of ${o.batchSize} examples in an epoch`);
      }
    } finally {
      await reader.return?.(undefined);
    }
    batchIndex = 0;
    start = { epoch: epoch + 1, batch: 0 };
  }
}

function assemble(examples: Buffered[], names: string[], features: Record<string, FeatureInfo>): Record<string, FeatureValues> {
  const values: Record<string, FeatureValues> = {};
  for (const name of names) {
    const info = features[name]!;
    const width = elementCount(info.shape);
    const out = allocate(info, examples.length);
    examples.forEach((e, r) => {
      const v = e.values[name];
      if (v === undefined || v.length !== width) {
        throw new DataError(`example at file ${e.position.file}, offset ${e.position.offset}: feature '${name}' has ${v?.length ?? 0} values, expected ${width}`);
      }
      out.set(v, r * width);
    });
    values[name] = out;
  }
  return values;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** A state comes back from a checkpoint file: check its shape before trusting it. */
function checkState(state: BatchIteratorState, split: DataSplit): BatchIteratorState {
  const bad = (what: string): never => {
    throw new ConfigError(`iterator state: ${what}`);
  };
  if (!isCount(state.epoch) || !isCount(state.batch)) bad('epoch and batch must be whole numbers');
  const stream = state.stream;
  if (stream !== undefined) {
    if (split.kind !== 'stream') bad('it was saved for a streamed split, this split is in memory');
    const positions = [[stream.next.file, stream.next.offset], ...stream.buffer];
    if (!Array.isArray(stream.rng) || stream.rng.length !== 4 || !stream.rng.every((w) => Number.isInteger(w))) bad('rng must be four integers');
    if (!positions.every((p) => Array.isArray(p) && p.length === 2 && isCount(p[0]) && isCount(p[1]))) bad('positions must be [file, offset] pairs of whole numbers');
  } else if (split.kind === 'stream' && state.batch > 0) {
    bad('a streamed split resumes inside an epoch only from a state that holds its stream position');
  }
  return structuredClone(state);
}

/**
 * Batches of a split, epoch after epoch.
 *
 * - In-memory splits are permuted fully; the permutation of epoch e derives from (seed, e), so
 *   it does not depend on what came before. Streamed splits pass through a shuffle buffer of
 *   `shuffleBuffer` examples whose generator is seeded per epoch the same way.
 * - Up to `prefetch` batches are prepared ahead in host memory while the consumer works (between
 *   its awaits), file reads being asynchronous; tensors are made only when a batch is handed
 *   out, so an abandoned iterator leaks none. The consumer disposes every batch it receives.
 * - `state()` after any batch, passed back as `state`, restarts exactly at the next batch.
 */
export function createBatchIterator(split: DataSplit, options: BatchIteratorOptions, state?: BatchIteratorState): BatchIterator {
  const o = resolveOptions(split, options);
  const start: BatchIteratorState = state === undefined ? { epoch: 0, batch: 0 } : checkState(state, split);
  const source = split.kind === 'memory' ? memoryBatches(split, o, start) : streamBatches(split, o, start);
  const queue: Promise<IteratorResult<HostBatch>>[] = [];
  let current: BatchIteratorState = structuredClone(start);
  let last: BatchInfo | undefined;
  let finished = false;

  const pull = (): void => {
    const p = source.next();
    // Errors surface when the consumer reaches this batch; until then do not report them as unhandled.
    p.catch(() => undefined);
    queue.push(p);
  };
  const topUp = (): void => {
    while (!finished && queue.length < o.prefetch) pull();
  };

  // Start preparing at once, so the first batches are ready by the time the model is built.
  topUp();

  const iterator: BatchIterator = {
    async next(): Promise<IteratorResult<Batch>> {
      if (finished) return { done: true, value: undefined };
      if (queue.length === 0) pull();
      const result = await queue.shift()!;
      if (result.done === true) {
        finished = true;
        return { done: true, value: undefined };
      }
      topUp();
      const host = result.value;
      current = host.after;
      last = host.info;
      const batch: Batch = {};
      for (const [name, values] of Object.entries(host.values)) {
        const info = o.features[name]!;
        batch[name] = tf.tensor(values, [host.info.size, ...info.shape], info.dtype);
      }
      return { done: false, value: batch };
    },
    async return(): Promise<IteratorResult<Batch>> {
      finished = true;
      queue.length = 0;
      await source.return(undefined).catch(() => undefined);
      return { done: true, value: undefined };
    },
    state: () => structuredClone(current),
    get last() {
      return last;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}
