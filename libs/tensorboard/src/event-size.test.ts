import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RandomStream } from '@dlexp/core';
import { createEventWriter, defaultBucketLimits } from './index';
import { readEventFile, scalarSeries } from './test-reader';

const root = mkdtempSync(join(tmpdir(), 'dlexp-tensorboard-size-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The course's MNIST CNN: two 5×5 convolutions (32, 64 filters), a 1024-unit dense layer, 10 classes. */
const CNN_VARIABLES: [string, number][] = [
  ['conv1/kernel', 5 * 5 * 1 * 32],
  ['conv1/bias', 32],
  ['conv2/kernel', 5 * 5 * 32 * 64],
  ['conv2/bias', 64],
  ['fc1/kernel', 7 * 7 * 64 * 1024],
  ['fc1/bias', 1024],
  ['fc2/kernel', 1024 * 10],
  ['fc2/bias', 10],
];
const EPOCHS = 10;
const STEPS_PER_EPOCH = 60_000 / 50;
const SCALAR_EVERY = 100;
const LIMIT_BYTES = 50 * 1024 * 1024;

describe('event file size', () => {
  it('a 10-epoch MNIST CNN log with every weight, bias and gradient histogram per epoch stays well under 50 MB', () => {
    const random = new RandomStream(11, 'cnn-weights');
    const weights = CNN_VARIABLES.map(([name, size]) => {
      const scale = name.endsWith('bias') ? 0.01 : Math.sqrt(2 / Math.min(size, 3136));
      const values = new Float32Array(size);
      // Near-normal from four uniforms: fast enough for 3.3 million weights.
      for (let i = 0; i < size; i++) values[i] = (random.uniform() + random.uniform() + random.uniform() + random.uniform() - 2) * Math.sqrt(3) * scale;
      return { name, values };
    });
    // Gradients span many orders of magnitude: the worst case for the number of non-empty buckets.
    const magnitudes = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8];
    const gradients = weights.map(({ values }) => {
      const g = new Float32Array(values.length);
      for (let i = 0; i < g.length; i++) g[i] = values[i]! * magnitudes[(i * 7919) % 6]!;
      return g;
    });
    const writer = createEventWriter({ logdir: join(root, 'cnn'), hostname: 'h' });
    writer.addGraph({ node: CNN_VARIABLES.map(([name]) => ({ name, op: 'VariableV2' })) });
    writer.addHParamsSessionStart({ hparams: { learningRate: 1e-4, batchSize: 50 } });

    let histograms = 0;
    let scalarEvents = 0;
    for (let epoch = 0; epoch < EPOCHS; epoch++) {
      for (let batch = 1; batch <= STEPS_PER_EPOCH; batch++) {
        const step = epoch * STEPS_PER_EPOCH + batch;
        if (step % SCALAR_EVERY !== 0) continue;
        writer.addScalars({ 'loss/train': 2 / Math.sqrt(step), 'accuracy/train': 1 - 1 / Math.sqrt(step), learning_rate: 1e-4 }, step);
        scalarEvents++;
      }
      const step = (epoch + 1) * STEPS_PER_EPOCH;
      writer.addScalars({ 'loss/validation': 1 / (epoch + 2), 'accuracy/validation': 1 - 1 / (epoch + 10) }, step);
      scalarEvents++;
      // The variable summaries hold the weight's histogram; the gradient gets its own. (The values
      // stay the same from epoch to epoch: a histogram's size depends on its non-empty buckets.)
      for (let v = 0; v < weights.length; v++) {
        const { name, values } = weights[v]!;
        writer.addVariableSummaries(name, values, step);
        writer.addHistogram(`${name}/gradient`, gradients[v]!, step);
        histograms += 2;
      }
    }
    writer.addHParamsSessionEnd({ status: 'success' });
    writer.close();

    const size = statSync(writer.path).size;
    // The bound whatever the values: every one of TensorFlow's buckets non-empty, two doubles each,
    // plus generous room for tags, framing and the other fields; scalars well over their size.
    const bucketCount = defaultBucketLimits().length;
    const histogramBound = bucketCount * 2 * 9 + 512;
    const scalarEventBound = 5 * 64 + 64;
    const bound = histograms * histogramBound + (scalarEvents + CNN_VARIABLES.length * EPOCHS) * scalarEventBound + 64 * 1024;
    expect(histograms).toBe(160);
    expect(bound).toBeLessThan(LIMIT_BYTES / 4);
    expect(size).toBeLessThan(bound);
    expect(size).toBeLessThan(LIMIT_BYTES / 10);

    // And it is all there: the reader finds every histogram and every scalar.
    const { events, trailing } = readEventFile(readFileSync(writer.path));
    expect(trailing).toBe(0);
    const histogramValues = events.flatMap((e) => (e.summary ?? []).filter((v) => v.histo !== undefined));
    expect(histogramValues).toHaveLength(histograms);
    expect(scalarSeries(events).get('loss/train')).toHaveLength((EPOCHS * STEPS_PER_EPOCH) / SCALAR_EVERY);
    const fc1 = histogramValues.find((v) => v.tag === 'fc1/kernel/summaries/histogram')!.histo!;
    expect(fc1.num).toBe(3136 * 1024);
    expect(histogramValues.find((v) => v.tag === 'fc1/kernel/gradient')!.histo!.num).toBe(3136 * 1024);
  });
});
