import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { RandomStream } from '@dlexp/core';
import { createEventWriter, histogramValue, scalarValue, type EventWriterOptions } from './index';
import { crc32cBitwise, maskForTest, readEventFile, readFraming, scalarSeries, type TestEvent, type TestHistogram } from './test-reader';

const root = mkdtempSync(join(tmpdir(), 'dlexp-tensorboard-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (): string => join(root, `run-${++dirCount}`);

/** A clock the test moves by hand: seconds since the epoch. */
function manualClock(startSeconds: number): { now: () => number; advance: (seconds: number) => void } {
  let ms = startSeconds * 1000;
  return { now: () => ms, advance: (seconds) => (ms += seconds * 1000) };
}

function open(options: Partial<EventWriterOptions> & { logdir: string }) {
  return createEventWriter({ hostname: 'testhost', flushIntervalMs: 60_000, ...options });
}

function readEvents(path: string): { events: TestEvent[]; trailing: number } {
  const { events, trailing } = readEventFile(readFileSync(path));
  return { events, trailing };
}

/** The bucket edges of tensorflow/core/lib/histogram/histogram.cc, rebuilt here from its description. */
function referenceEdges(): number[] {
  const positive: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) positive.push(v);
  positive.push(Number.MAX_VALUE);
  return [...positive.map((v) => -v).reverse(), 0, ...positive];
}

/** Checks a decoded histogram against the values it summarizes, bucket by bucket. */
function expectHistogramOf(histogram: TestHistogram, values: ArrayLike<number>): void {
  const finite = Array.from(values).filter(Number.isFinite);
  expect(histogram.num).toBe(finite.length);
  expect(histogram.bucket.length).toBe(histogram.bucketLimit.length);
  expect(histogram.bucket.reduce((a, b) => a + b, 0)).toBe(histogram.num);
  for (let i = 1; i < histogram.bucketLimit.length; i++) expect(histogram.bucketLimit[i]!).toBeGreaterThan(histogram.bucketLimit[i - 1]!);
  const edges = new Set(referenceEdges());
  for (const limit of histogram.bucketLimit) expect(edges.has(limit)).toBe(true);
  // Bucket i holds [limit(i-1), limit(i)), the first from -infinity.
  for (let i = 0; i < histogram.bucket.length; i++) {
    const low = i === 0 ? -Infinity : histogram.bucketLimit[i - 1]!;
    const high = histogram.bucketLimit[i]!;
    const inside = finite.filter((v) => v >= low && (v < high || (high === Number.MAX_VALUE && v === high))).length;
    expect(histogram.bucket[i]).toBe(inside);
  }
  // Runs of empty buckets are collapsed into one.
  for (let i = 1; i < histogram.bucket.length; i++) expect(histogram.bucket[i] === 0 && histogram.bucket[i - 1] === 0).toBe(false);
  if (finite.length > 0) {
    expect(histogram.min).toBe(Math.min(...finite));
    expect(histogram.max).toBe(Math.max(...finite));
    expect(histogram.sum).toBeCloseTo(finite.reduce((a, b) => a + b, 0), 9);
    expect(histogram.sumSquares).toBeCloseTo(finite.reduce((a, b) => a + b * b, 0), 9);
  }
}

describe('event file', () => {
  it('is named events.out.tfevents.<seconds>.<host> and starts with the file version and a session start', () => {
    const clock = manualClock(1_700_000_000);
    const writer = open({ logdir: freshDir(), now: clock.now });
    writer.close();
    expect(writer.path.endsWith('/events.out.tfevents.1700000000.testhost')).toBe(true);
    const { events, trailing } = readEvents(writer.path);
    expect(trailing).toBe(0);
    expect(events[0]).toEqual({ wallTime: 1_700_000_000, step: 0, fileVersion: 'brain.Event:2', sourceWriter: 'dlexp' });
    expect(events[1]).toEqual({ wallTime: 1_700_000_000, step: 0, sessionLogStatus: 1 });
    expect(events).toHaveLength(2);
  });

  it('frames every record with its length and two masked CRC32Cs', () => {
    const writer = open({ logdir: freshDir() });
    writer.addScalar('loss', 0.5, 1);
    writer.addHistogram('w', [1, 2, 3], 1);
    writer.close();
    const file = readFileSync(writer.path);
    const { records, trailing } = readFraming(file);
    expect(trailing).toBe(0);
    expect(records).toHaveLength(4);
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    let expectedOffset = 0;
    for (const record of records) {
      expect(record.offset).toBe(expectedOffset);
      expect(view.getUint32(record.offset, true)).toBe(record.data.length);
      expect(view.getUint32(record.offset + 4, true)).toBe(0);
      expect(view.getUint32(record.offset + 8, true)).toBe(maskForTest(crc32cBitwise(file.subarray(record.offset, record.offset + 8))));
      expect(view.getUint32(record.offset + 12 + record.length, true)).toBe(maskForTest(crc32cBitwise(record.data)));
      expectedOffset += 12 + record.length + 4;
    }
    expect(expectedOffset).toBe(file.length);
    expect(writer.bytes).toBe(file.length);
  });

  it('writes scalars with their tags, steps, float32 values and wall times', () => {
    const clock = manualClock(1_700_000_100);
    const writer = open({ logdir: freshDir(), now: clock.now });
    writer.addScalar('loss/train', 2.302585, 0);
    clock.advance(1.5);
    writer.addScalar('loss/train', 0.1, 100);
    writer.addScalars({ 'accuracy/validation': 0.97, 'learning_rate': 1e-3, zero: 0 }, 100);
    writer.addScalar('nan', NaN, 200);
    writer.close();
    const { events } = readEvents(writer.path);
    const series = scalarSeries(events);
    expect(series.get('loss/train')).toEqual([
      [0, Math.fround(2.302585)],
      [100, Math.fround(0.1)],
    ]);
    expect(series.get('accuracy/validation')).toEqual([[100, Math.fround(0.97)]]);
    expect(series.get('learning_rate')).toEqual([[100, Math.fround(1e-3)]]);
    // A zero is written: simple_value is a oneof member, present even at its default.
    expect(series.get('zero')).toEqual([[100, 0]]);
    expect(Number.isNaN(series.get('nan')![0]![1])).toBe(true);
    // addScalars puts one step's scalars in one event.
    const grouped = events.find((e) => e.summary?.some((v) => v.tag === 'learning_rate'));
    expect(grouped!.summary!.map((v) => v.tag)).toEqual(['accuracy/validation', 'learning_rate', 'zero']);
    expect(events[2]!.wallTime).toBe(1_700_000_100);
    expect(events[3]!.wallTime).toBe(1_700_000_101.5);
  });

  it('writes histograms over TensorFlow\'s default buckets, counts adding up to num', () => {
    const random = new RandomStream(7, 'histogram');
    const values = Float32Array.from({ length: 5000 }, () => random.normal(0, 0.05) * 10 ** random.range(-6, 1));
    values[0] = 0;
    values[1] = -0;
    values[2] = 1e-12;
    values[3] = -1e-12;
    const writer = open({ logdir: freshDir() });
    writer.addHistogram('dense1/kernel', values, 3);
    writer.addHistogram('with-non-finite', [1, NaN, Infinity, -Infinity, -2], 3);
    writer.addHistogram('empty', [], 3);
    writer.addHistogram('extremes', [Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324], 3);
    writer.close();
    const { events } = readEvents(writer.path);
    const byTag = new Map(events.flatMap((e) => (e.summary ?? []).map((v) => [v.tag, { step: e.step, value: v }] as const)));
    const kernel = byTag.get('dense1/kernel')!;
    expect(kernel.step).toBe(3);
    expectHistogramOf(kernel.value.histo!, values);
    expectHistogramOf(byTag.get('with-non-finite')!.value.histo!, [1, -2]);
    expectHistogramOf(byTag.get('extremes')!.value.histo!, [Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324]);
    const empty = byTag.get('empty')!.value.histo!;
    expect(empty).toEqual({ min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [Number.MAX_VALUE], bucket: [0] });
  });

  it('writes the course\'s per-variable summaries under the variable\'s name scope', () => {
    const values = Float32Array.from([0.5, -1.5, 2, 0.25, -0.75]);
    const writer = open({ logdir: freshDir() });
    writer.addVariableSummaries('dense1/kernel', values, 10);
    writer.close();
    const { events } = readEvents(writer.path);
    const summary = events.find((e) => e.summary !== undefined)!;
    expect(summary.step).toBe(10);
    expect(summary.summary!.map((v) => v.tag)).toEqual([
      'dense1/kernel/summaries/mean',
      'dense1/kernel/summaries/stddev',
      'dense1/kernel/summaries/max',
      'dense1/kernel/summaries/min',
      'dense1/kernel/summaries/histogram',
    ]);
    const list = Array.from(values);
    const mean = list.reduce((a, b) => a + b, 0) / list.length;
    const stddev = Math.sqrt(list.reduce((a, b) => a + (b - mean) ** 2, 0) / list.length);
    const scalars = new Map(summary.summary!.filter((v) => v.simpleValue !== undefined).map((v) => [v.tag.split('/').pop(), v.simpleValue]));
    expect(scalars.get('mean')).toBe(Math.fround(mean));
    expect(scalars.get('stddev')).toBe(Math.fround(stddev));
    expect(scalars.get('max')).toBe(2);
    expect(scalars.get('min')).toBe(-1.5);
    expectHistogramOf(summary.summary![4]!.histo!, values);
  });

  it('writes text as a string tensor for the text plugin', () => {
    const writer = open({ logdir: freshDir() });
    writer.addText('config', '# Run\n`lr = 0.01` — ünïcode', 0);
    writer.close();
    const value = readEvents(writer.path).events[2]!.summary![0]!;
    expect(value.tag).toBe('config');
    expect(value.pluginName).toBe('text');
    expect(value.tensor).toEqual({ dtype: 7, shape: [], stringVal: ['# Run\n`lr = 0.01` — ünïcode'], floatVal: [] });
  });

  it('accepts values built ahead with the *Value builders', () => {
    const writer = open({ logdir: freshDir() });
    writer.addSummary([scalarValue('a', 1), histogramValue('b', [1, 2])], 5);
    writer.addSummary([], 6);
    writer.close();
    const { events } = readEvents(writer.path);
    expect(events).toHaveLength(3);
    expect(events[2]!.summary!.map((v) => v.tag)).toEqual(['a', 'b']);
    expect(writer.lastStep).toBe(6);
  });

  it('refuses bad tags, values and steps with messages naming them', () => {
    const writer = open({ logdir: freshDir() });
    expect(() => writer.addScalar('', 1, 0)).toThrow(/non-empty string/);
    expect(() => writer.addScalar('x', '1' as unknown as number, 0)).toThrow(/scalar 'x': the value must be a number/);
    expect(() => writer.addScalar('x', 1, -1)).toThrow(/non-negative integer, got -1/);
    expect(() => writer.addScalar('x', 1, 1.5)).toThrow(/non-negative integer, got 1.5/);
    writer.addScalar('x', 1, 10);
    expect(() => writer.addScalar('x', 1, 9)).toThrow(/step 9, after step 10 was written: steps never go backwards/);
    writer.addScalar('y', 1, 10);
    writer.close();
    writer.close();
    expect(() => writer.addScalar('x', 1, 11)).toThrow(/closed/);
    expect(() => writer.flush()).toThrow(/closed/);
    expect(() => createEventWriter({ logdir: freshDir(), firstStep: -3 })).toThrow(/firstStep: the step must be a non-negative integer/);
  });

  it('cannot create its file in a directory it cannot make, and says where', () => {
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, 'x');
    expect(() => createEventWriter({ logdir: join(blocker, 'tensorboard') })).toThrow(new RegExp(`${blocker}/tensorboard: cannot create the TensorBoard directory`));
  });
});

describe('flushing', () => {
  it('keeps records in memory until enough bytes are pending, flush() or close()', () => {
    const writer = open({ logdir: freshDir(), flushBytes: 2000 });
    const headerBytes = statSync(writer.path).size;
    writer.addScalar('a', 1, 1);
    expect(statSync(writer.path).size).toBe(headerBytes);
    writer.flush();
    const afterFlush = statSync(writer.path).size;
    expect(afterFlush).toBeGreaterThan(headerBytes);
    // A histogram of spread values is over 2000 bytes: written at once.
    writer.addHistogram('big', Float64Array.from({ length: 1000 }, (_, i) => (i - 500) * 1e-3 * 1.05 ** (i % 200)), 2);
    expect(statSync(writer.path).size).toBeGreaterThan(afterFlush + 2000);
    writer.addScalar('b', 1, 3);
    const beforeClose = statSync(writer.path).size;
    writer.close();
    expect(statSync(writer.path).size).toBeGreaterThan(beforeClose);
    expect(readEvents(writer.path).events).toHaveLength(5);
  });

  it('writes pending records after flushIntervalMs without being asked, so a live TensorBoard follows', async () => {
    const writer = open({ logdir: freshDir(), flushIntervalMs: 30 });
    writer.addScalar('a', 1, 1);
    writer.addScalar('a', 2, 2);
    const early = readEvents(writer.path).events.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(early).toBe(2);
    expect(readEvents(writer.path).events).toHaveLength(4);
    writer.close();
  });
});

describe('resumed runs', () => {
  it('start a new file whose steps continue from firstStep, so that TensorBoard\'s purge leaves steps increasing', () => {
    const logdir = freshDir();
    const clock = manualClock(1_700_000_000);
    const first = open({ logdir, now: clock.now });
    for (let step = 0; step <= 350; step += 50) first.addScalar('loss', 1 / (step + 1), step);
    first.close();
    // The run is killed at step 350; its last checkpoint is at step 200.
    clock.advance(60);
    const second = open({ logdir, now: clock.now, firstStep: 200 });
    expect(second.lastStep).toBe(200);
    expect(() => second.addScalar('loss', 9, 150)).toThrow(/step 150, before this segment's first step 200/);
    for (let step = 200; step <= 500; step += 50) second.addScalar('loss', 2 / (step + 1), step);
    second.close();

    const files = readdirSync(logdir).sort();
    expect(files).toEqual(['events.out.tfevents.1700000000.testhost', 'events.out.tfevents.1700000060.testhost']);
    const segments = files.map((f) => readEvents(join(logdir, f)).events);
    // Each segment's file holds steps that never go backwards.
    for (const events of segments) {
      const steps = events.map((e) => e.step);
      expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    }
    expect(segments[1]![1]).toMatchObject({ step: 200, sessionLogStatus: 1 });
    // TensorBoard's rule (plugin_event_accumulator): the first START of a run is ignored; each later
    // one drops what earlier files logged at its step or after.
    const merged: TestEvent[] = [];
    let starts = 0;
    for (const event of segments.flat()) {
      if (event.sessionLogStatus === 1 && starts++ > 0) {
        for (let i = merged.length - 1; i >= 0; i--) if (merged[i]!.step >= event.step) merged.splice(i, 1);
      }
      merged.push(event);
    }
    const loss = scalarSeries(merged).get('loss')!;
    expect(loss.map(([step]) => step)).toEqual([0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500]);
    expect(loss[4]![1]).toBe(Math.fround(2 / 201));
  });

  it('never reuses a file: a segment started in the same second gets a suffix that sorts after', () => {
    const logdir = freshDir();
    const clock = manualClock(1_700_000_000);
    const a = open({ logdir, now: clock.now });
    const b = open({ logdir, now: clock.now, firstStep: 5 });
    a.close();
    b.close();
    expect(readdirSync(logdir).sort()).toEqual(['events.out.tfevents.1700000000.testhost', 'events.out.tfevents.1700000000.testhost.1']);
    expect(b.path.endsWith('.1')).toBe(true);
  });
});

describe('after a crash', () => {
  it('a file cut anywhere inside its last record still reads every complete record', () => {
    const writer = open({ logdir: freshDir() });
    for (let step = 0; step < 5; step++) writer.addScalars({ loss: step, accuracy: step / 10 }, step);
    writer.addHistogram('w', [1, 2, 3, 4], 5);
    writer.close();
    const whole = readFileSync(writer.path);
    const { records } = readFraming(whole);
    const last = records[records.length - 1]!;
    for (const cut of [last.offset + 1, last.offset + 11, last.offset + 12, last.offset + 20, whole.length - 1]) {
      const path = `${writer.path}.cut`;
      writeFileSync(path, whole);
      truncateSync(path, cut);
      const { events, trailing } = readEvents(path);
      expect(events).toHaveLength(records.length - 1);
      expect(trailing).toBe(cut - last.offset);
      expect(scalarSeries(events).get('loss')!.map(([s]) => s)).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('a writer killed with SIGKILL while writing leaves complete records and at most one partial one', async () => {
    const logdir = freshDir();
    const child = join(root, 'kill-child.ts');
    const library = resolve(__dirname, 'index.ts');
    writeFileSync(
      child,
      [
        `import { createEventWriter } from ${JSON.stringify(library)};`,
        `const writer = createEventWriter({ logdir: ${JSON.stringify(logdir)}, hostname: 'child', flushBytes: 1 });`,
        'const values = Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i) * 1.01 ** (i % 500));',
        'let step = 0;',
        'const tick = () => {',
        '  for (let k = 0; k < 20; k++, step++) {',
        '    writer.addScalar("loss", 1 / (step + 1), step);',
        '    writer.addHistogram("w", values, step);',
        '  }',
        '  if (step === 200) process.stdout.write("ready\\n");',
        '  setImmediate(tick);',
        '};',
        'tick();',
      ].join('\n'),
    );
    // Node itself with tsx's loader, not the tsx launcher: the signal must reach the writing process.
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: resolve(__dirname, '../../..'), stdio: ['ignore', 'pipe', 'inherit'] });
    onTestFinished(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    });
    await new Promise<void>((done, fail) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) done();
      });
      proc.on('exit', (code) => fail(new Error(`the writer exited early with ${code}`)));
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => proc.on('exit', (_code, signal) => r(signal)));
    proc.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const [file] = readdirSync(logdir);
    const sizeAtKill = statSync(join(logdir, file!)).size;
    await new Promise((r) => setTimeout(r, 100));
    expect(statSync(join(logdir, file!)).size).toBe(sizeAtKill);
    const { events, trailing } = readEvents(join(logdir, file!));
    expect(events.length).toBeGreaterThan(200);
    expect(trailing).toBeLessThan(12 + 20_000);
    const steps = events.slice(2).map((e) => e.step);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    for (const event of events.slice(2)) {
      const histogram = event.summary!.find((v) => v.histo !== undefined)?.histo;
      if (histogram !== undefined) expect(histogram.bucket.reduce((a, b) => a + b, 0)).toBe(4000);
    }
  });
});
