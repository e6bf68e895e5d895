import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runner, temporaryFolder } from './helpers';

/** A tiny MNIST experiment whose data is exported to TFRecord, then trained on from the file. */
function experiments(folder: string) {
  const source = join(folder, 'source.yaml');
  writeFileSync(
    source,
    `name: source
data: {type: mnist, flatten: true, limit: {train: 300, test: 100}}
model: {type: sequential, input: {shape: [784]}, layers: [{type: dense, units: 10}], loss: {type: softmaxCrossEntropy}, metrics: [{type: accuracy}]}
train: {optimizer: {type: sgd, learningRate: 0.5}, batchSize: 50, epochs: 2}
`,
  );
  const streamed = join(folder, 'streamed.yaml');
  writeFileSync(
    streamed,
    `name: streamed
backend: cpu
data:
  type: tfrecord
  train: [train.tfrecord]
  test: [test.tfrecord]
  stream: true
  features: {x: {kind: float, shape: [784]}, y: {kind: int64, shape: [], dtype: int32}}
model: {type: sequential, input: {shape: [784]}, layers: [{type: dense, units: 10}], loss: {type: softmaxCrossEntropy}, metrics: [{type: accuracy}]}
train: {optimizer: {type: sgd, learningRate: 0.5}, batchSize: 50, epochs: 3, checkpointEvery: 2}
expect: {test.accuracy: {min: 0.6}}
`,
  );
  return { source, streamed };
}

describe('runner data export / inspect, and training from streamed TFRecord files', () => {
  it('exports splits, inspects them, and trains on them while streaming', async () => {
    const folder = temporaryFolder('tfrecord-');
    const { source, streamed } = experiments(folder);
    for (const split of ['train', 'test']) {
      const result = await runner(['data', 'export', source, '--split', split, '--out', join(folder, `${split}.tfrecord`)]);
      expect(result.status).toBe(0);
    }
    const inspect = await runner(['data', 'inspect', join(folder, 'train.tfrecord')]);
    expect(inspect.status).toBe(0);
    expect(inspect.stdout).toMatch(/^records: 300$/m);
    expect(inspect.stdout).toMatch(/│ x\s+│ float\s+│ 784\s+│/);
    expect(inspect.stdout).toMatch(/│ y\s+│ int64\s+│ 1\s+│/);
    const out = join(folder, 'run');
    const run = await runner([streamed, '--out', out]);
    expect(run.status).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.timing.steps).toBe(18);
    expect(summary.metrics['test.accuracy']).toBeGreaterThan(0.6);
  });

  it('a corrupt TFRecord file is an input error (exit 2) naming the file and the byte offset', async () => {
    const folder = temporaryFolder('tfrecord-bad-');
    const { source } = experiments(folder);
    const file = join(folder, 'train.tfrecord');
    expect((await runner(['data', 'export', source, '--split', 'train', '--out', file])).status).toBe(0);
    const bytes = readFileSync(file);
    bytes[20] = bytes[20]! ^ 0xff; // inside the first record's data: its CRC no longer matches
    writeFileSync(file, bytes);
    const result = await runner(['data', 'inspect', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toMatch(/offset \d+/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
