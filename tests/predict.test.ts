import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mnistDirectory, readIdxFile, readTFRecords } from '@dlexp/data';
import { encodePng } from '@dlexp/tensorboard';
import { runner, temporaryFolder } from './helpers';

interface Document {
  model: string;
  images: { file: string; predictions: { label: string; probability: number }[] }[];
}

const folder = temporaryFolder('predict-');
const run = join(folder, 'run');
const images = join(folder, 'digits');

/** The first MNIST test images as PNG files named by their labels: what a user would have. */
async function writeDigits(count: number): Promise<void> {
  const x = await readIdxFile(join(mnistDirectory(), 't10k-images-idx3-ubyte'));
  const y = await readIdxFile(join(mnistDirectory(), 't10k-labels-idx1-ubyte'));
  mkdirSync(images, { recursive: true });
  for (let i = 0; i < count; i++) {
    writeFileSync(join(images, `${i}-label-${y.data[i]}.png`), encodePng(28, 28, 1, Uint8Array.from(x.data.subarray(i * 784, (i + 1) * 784))));
  }
}

const labelOf = (file: string) => /label-(\d)\.png$/.exec(file)![1];

beforeAll(async () => {
  await writeDigits(10);
  const trained = await runner(['experiments/mnist-softmax.yaml', '--quick', '--out', run]);
  expect(trained.status).toBe(0);
}, 300_000);

describe('runner predict', () => {
  it('classifies a folder of PNGs with a run directory, needing no flags: the run recorded its preprocessing', async () => {
    expect(JSON.parse(readFileSync(join(run, 'model', 'preprocessing.json'), 'utf8'))).toMatchObject({ input: { shape: [784] }, image: { height: 28, width: 28, channels: 1 }, output: { kind: 'logits' } });
    const result = await runner(['predict', run, images, '--top', '2']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/│ image\s+│ label\s+│ probability\s+│/);
    expect(result.stdout.match(/label-\d\.png/g)).toHaveLength(10);
  });

  it('with --json prints exactly one JSON document on stdout: per image its file and labels with probabilities, highest first', async () => {
    const result = await runner(['predict', run, images, '--json']);
    expect(result.status).toBe(0);
    const document = JSON.parse(result.stdout) as Document;
    expect(document.images).toHaveLength(10);
    for (const image of document.images) {
      expect(image.predictions).toHaveLength(5);
      const probabilities = image.predictions.map((p) => p.probability);
      expect([...probabilities].sort((a, b) => b - a)).toEqual(probabilities);
      expect(typeof image.predictions[0]!.label).toBe('string');
    }
    const right = document.images.filter((i) => i.predictions[0]!.label === labelOf(i.file)).length;
    expect(right).toBeGreaterThanOrEqual(8);
    // What would be logged went to stderr.
    expect(result.stderr).toMatch(/layers-model/);
  });

  it('takes class names from --labels', async () => {
    const labels = join(folder, 'labels.txt');
    writeFileSync(labels, `${['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].join('\n')}\n`);
    const result = await runner(['predict', join(run, 'model', 'model.json'), join(images, '0-label-7.png'), '--labels', labels, '--top', '1', '--json']);
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as Document).images[0]!.predictions[0]!.label).toBe('seven');
  });
});

describe('runner export, then predict through the exported graphs', () => {
  it('writes a graph model and a frozen pb that classify the images as the run does', async () => {
    const reference = JSON.parse((await runner(['predict', run, images, '--json', '--top', '3'])).stdout) as Document;
    for (const format of ['graph-model', 'frozen-pb']) {
      const out = join(folder, format);
      const exported = await runner(['export', run, '--format', format, '--out', out]);
      expect(exported.status).toBe(0);
      expect(exported.stdout).toMatch(/inputs: input:0 float32 \[-1, 784\]/);
      expect(readdirSync(out)).toContain('preprocessing.json');
      const model = format === 'graph-model' ? join(out, 'model.json') : join(out, 'model.pb');
      const result = await runner(['predict', model, images, '--json', '--top', '3']);
      expect(result.status).toBe(0);
      const document = JSON.parse(result.stdout) as Document;
      document.images.forEach((image, i) => {
        const expected = reference.images[i]!;
        expect(image.predictions.map((p) => p.label)).toEqual(expected.predictions.map((p) => p.label));
        image.predictions.forEach((p, k) => expect(p.probability).toBeCloseTo(expected.predictions[k]!.probability, 4));
      });
    }
  }, 600_000);
});

describe('runner graph inspect', () => {
  it('lists the inputs, outputs and ops of a frozen pb, as JSON too, and writes it for TensorBoard', async () => {
    const pb = join(folder, 'frozen-pb', 'model.pb');
    if (!existsSync(pb)) expect((await runner(['export', run, '--format', 'frozen-pb', '--out', join(folder, 'frozen-pb')])).status).toBe(0);
    const text = await runner(['graph', 'inspect', pb]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/inputs: input:0 float32 \[-1, 784\]/);
    expect(text.stdout).toMatch(/│ MatMul\s+│ 1\s+│ yes\s+│/);

    const logdir = join(folder, 'tensorboard');
    const json = await runner(['graph', 'inspect', pb, '--json', '--tensorboard', logdir]);
    expect(json.status).toBe(0);
    const inspection = JSON.parse(json.stdout);
    expect(inspection).toMatchObject({ format: 'frozen-pb', inputs: [{ name: 'input:0', dtype: 'float32', shape: [-1, 784] }], unsupportedOps: [] });
    expect(inspection.ops.map((o: { op: string }) => o.op)).toContain('MatMul');
    const events = readdirSync(logdir).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(events).toHaveLength(1);
    // A valid event file (every CRC checked) whose events include the graph with its ops.
    const found: string[] = [];
    for await (const record of readTFRecords(join(logdir, events[0]!))) found.push(Buffer.from(record.data).toString('latin1'));
    expect(found.length).toBeGreaterThanOrEqual(2);
    expect(found.some((event) => event.includes('MatMul') && event.includes('Placeholder'))).toBe(true);
  }, 300_000);
});

describe('bad files are input errors (exit 2) naming the file, never a crash', () => {
  const bad = temporaryFolder('predict-bad-');
  const pbBytes = () => readFileSync(join(folder, 'frozen-pb', 'model.pb'));
  const cases: [string, () => string[], RegExp][] = [
    ['a truncated frozen pb', () => (writeFileSync(join(bad, 'cut.pb'), pbBytes().subarray(0, 40)), ['predict', join(bad, 'cut.pb'), images]), /cut\.pb: byte \d+: truncated/],
    ['a model.json that is not JSON', () => (mkdirSync(join(bad, 'json'), { recursive: true }), writeFileSync(join(bad, 'json', 'model.json'), '{"modelTopology": {'), ['predict', join(bad, 'json', 'model.json'), images]), /model\.json: byte \d+ \(line 1, column \d+\): not valid JSON/],
    ['an image that is not one', () => (writeFileSync(join(bad, 'noise.png'), 'this is not a picture'), ['predict', run, join(bad, 'noise.png'), '--json']), /noise\.png: not a readable PNG or JPEG image/],
    ['a truncated PNG', () => (writeFileSync(join(bad, 'half.png'), readFileSync(join(images, '0-label-7.png')).subarray(0, 60)), ['predict', run, join(bad, 'half.png')]), /half\.png: not a readable PNG or JPEG image/],
    ['an output the model does not have', () => ['predict', run, images, '--output', 'softmax:0'], /has no output 'softmax:0'/],
    ['graph inspect of a truncated pb', () => (writeFileSync(join(bad, 'cut2.pb'), pbBytes().subarray(0, 40)), ['graph', 'inspect', join(bad, 'cut2.pb')]), /cut2\.pb: byte \d+: truncated/],
    ['export of a folder without a model', () => ['export', bad, '--format', 'graph-model', '--out', join(bad, 'out')], /predict-bad-/],
  ];
  it.each(cases)('%s', async (_what, args, message) => {
    const result = await runner(args());
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(2);
    if (args().includes('--json')) expect(result.stdout).toBe('');
  });
});
