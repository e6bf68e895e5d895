import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname as systemHostname } from 'node:os';
import { join } from 'node:path';
import { RunError } from '@dlexp/core';
import { encodeTFRecord } from '@dlexp/data';
import { encodeEvent, type EventBody } from './event';
import { encodeGraphDef, type GraphDefJson } from './graph-def';
import {
  hparamsExperimentValue,
  hparamsSessionEndValue,
  hparamsSessionStartValue,
  type HParamsExperiment,
  type HParamsSessionEnd,
  type HParamsSessionStart,
} from './hparams';
import { histogramValue, scalarValue, textValue, variableSummaryValues, type SummaryValue } from './summary';
import type { HistogramData } from './histogram';

export interface EventWriterOptions {
  /** The directory TensorBoard is pointed at (or one of its run folders); created if missing. */
  logdir: string;
  /**
   * The step this run segment starts at: 0 for a new run, the restored step for a resumed one.
   * Steps before it are refused, and a `SessionLog START` at this step tells TensorBoard to drop
   * whatever an earlier segment logged from this step on (logged after the checkpoint that was
   * restored, so replayed now).
   */
  firstStep?: number;
  /** For the file name; default: this machine's host name. */
  hostname?: string;
  /** Pending bytes that make the writer write at once (default 256 KiB). */
  flushBytes?: number;
  /** The longest a record waits in memory before it is written (default 2000 ms). */
  flushIntervalMs?: number;
  /** The wall clock in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** Told about a failed timed write; the same error is thrown by the writer's next call. */
  onError?: (error: Error) => void;
  /** `source_metadata.writer` of the first record. */
  writerName?: string;
}

/**
 * Appends TensorBoard events to `<logdir>/events.out.tfevents.<unix-seconds>.<hostname>`, one new
 * file per writer (per run segment). Records are buffered and written whole, when `flushBytes`
 * are pending, after `flushIntervalMs`, on `flush()` and on `close()`, without fsync: a killed
 * process loses at most what was pending and leaves at most one partly written record at the end,
 * which TensorBoard treats as not yet written. Steps never go backwards within a file.
 */
export interface EventWriter {
  /** The event file's path. */
  readonly path: string;
  /** The highest step written so far (starts at `firstStep`). */
  readonly lastStep: number;
  /** Bytes in the file once everything pending is written. */
  readonly bytes: number;
  addScalar(tag: string, value: number, step: number): void;
  /** Several scalars of one step in a single event (smaller than one event each). */
  addScalars(values: Readonly<Record<string, number>>, step: number): void;
  addHistogram(tag: string, values: ArrayLike<number> | HistogramData, step: number): void;
  /** The course's per-variable summaries: `<name>/summaries/{mean,stddev,max,min,histogram}`. */
  addVariableSummaries(name: string, values: ArrayLike<number>, step: number): void;
  addText(tag: string, text: string, step: number): void;
  /** The model graph for the Graphs tab; step defaults to the current step. */
  addGraph(graph: GraphDefJson, step?: number): void;
  addHParamsExperiment(experiment: HParamsExperiment, step?: number): void;
  addHParamsSessionStart(start: HParamsSessionStart, step?: number): void;
  addHParamsSessionEnd(end: HParamsSessionEnd, step?: number): void;
  /** Any summary values (from the `*Value` builders) as one event. */
  addSummary(values: readonly SummaryValue[], step: number): void;
  flush(): void;
  /** Writes what is pending and closes the file; later calls throw. Closing twice is allowed. */
  close(): void;
}

const DEFAULT_FLUSH_BYTES = 256 * 1024;
const DEFAULT_FLUSH_INTERVAL_MS = 2000;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function checkStepValue(step: number, what: string): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`${what}: the step must be a non-negative integer, got ${step}`);
}

/** Opens a file that did not exist: a writer never appends to another segment's file. */
function openNewEventFile(logdir: string, seconds: number, host: string): { fd: number; path: string } {
  const base = `events.out.tfevents.${String(seconds).padStart(10, '0')}.${host}`;
  for (let attempt = 0; ; attempt++) {
    // A second segment started within the same second gets a suffix that sorts after the first.
    const path = join(logdir, attempt === 0 ? base : `${base}.${attempt}`);
    try {
      return { fd: openSync(path, 'wx'), path };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 1000) continue;
      throw new RunError(`${path}: cannot create the TensorBoard event file: ${describe(error)}`);
    }
  }
}

export function createEventWriter(options: EventWriterOptions): EventWriter {
  const firstStep = options.firstStep ?? 0;
  checkStepValue(firstStep, 'firstStep');
  const flushBytes = options.flushBytes ?? DEFAULT_FLUSH_BYTES;
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const now = options.now ?? Date.now;
  const host = (options.hostname ?? systemHostname()).replace(/[/\\]/g, '_');
  try {
    mkdirSync(options.logdir, { recursive: true });
  } catch (error) {
    throw new RunError(`${options.logdir}: cannot create the TensorBoard directory: ${describe(error)}`);
  }
  const { fd, path } = openNewEventFile(options.logdir, Math.floor(now() / 1000), host);

  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let written = 0;
  let lastStep = firstStep;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failure: Error | undefined;

  const writeAll = (data: Buffer): void => {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
  };

  const flushNow = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pendingBytes === 0) return;
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    try {
      writeAll(data);
    } catch (error) {
      failure = new RunError(`${path}: cannot write TensorBoard events: ${describe(error)}`);
      throw failure;
    }
    written += data.length;
  };

  const checkUsable = (): void => {
    if (failure !== undefined) throw failure;
    if (closed) throw new Error(`${path}: the event writer is closed`);
  };

  const append = (step: number, body: EventBody): void => {
    const record = encodeTFRecord(encodeEvent(now() / 1000, step, body));
    pending.push(record);
    pendingBytes += record.length;
    if (pendingBytes >= flushBytes) flushNow();
    else if (timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        try {
          flushNow();
        } catch (error) {
          options.onError?.(error as Error);
        }
      }, flushIntervalMs);
      // A pending timed write must not keep the process alive; close() writes what is left.
      timer.unref?.();
    }
  };

  const acceptStep = (step: number, what: string): void => {
    checkUsable();
    checkStepValue(step, what);
    if (step < firstStep) throw new RangeError(`${path}: ${what} at step ${step}, before this segment's first step ${firstStep}`);
    if (step < lastStep) throw new RangeError(`${path}: ${what} at step ${step}, after step ${lastStep} was written: steps never go backwards`);
    lastStep = step;
  };

  const summary = (values: readonly SummaryValue[], step: number, what: string): void => {
    acceptStep(step, what);
    if (values.length > 0) append(step, { kind: 'summary', values });
  };

  append(0, { kind: 'fileVersion', writer: options.writerName ?? 'dlexp' });
  // Every segment starts with one: TensorBoard ignores a run's first START and, at each later
  // one, drops the events of earlier files from that step on.
  append(firstStep, { kind: 'sessionStart' });
  flushNow();

  return {
    path,
    get lastStep() {
      return lastStep;
    },
    get bytes() {
      return written + pendingBytes;
    },
    addScalar(tag, value, step) {
      const encoded = scalarValue(tag, value);
      summary([encoded], step, `scalar '${tag}'`);
    },
    addScalars(values, step) {
      const encoded = Object.entries(values).map(([tag, value]) => scalarValue(tag, value));
      summary(encoded, step, 'scalars');
    },
    addHistogram(tag, values, step) {
      checkUsable();
      summary([histogramValue(tag, values)], step, `histogram '${tag}'`);
    },
    addVariableSummaries(name, values, step) {
      checkUsable();
      summary(variableSummaryValues(name, values), step, `summaries of '${name}'`);
    },
    addText(tag, text, step) {
      summary([textValue(tag, text)], step, `text '${tag}'`);
    },
    addGraph(graph, step = lastStep) {
      const graphDef = encodeGraphDef(graph);
      acceptStep(step, 'graph');
      append(step, { kind: 'graphDef', graphDef });
    },
    addHParamsExperiment(experiment, step = lastStep) {
      summary([hparamsExperimentValue(experiment)], step, 'hparams experiment');
    },
    addHParamsSessionStart(start, step = lastStep) {
      summary([hparamsSessionStartValue(start)], step, 'hparams session start');
    },
    addHParamsSessionEnd(end, step = lastStep) {
      summary([hparamsSessionEndValue(end)], step, 'hparams session end');
    },
    addSummary(values, step) {
      summary(values, step, 'summary');
    },
    flush() {
      checkUsable();
      flushNow();
    },
    close() {
      if (closed) return;
      try {
        if (failure === undefined) flushNow();
      } finally {
        closed = true;
        closeSync(fd);
      }
    },
  };
}
