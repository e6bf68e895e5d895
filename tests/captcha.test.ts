import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeExample, readTFRecords } from '@dlexp/data';
import { encodePng } from '@dlexp/tensorboard';
import { runner, temporaryFolder } from './helpers';

// A fresh cache, as on a fresh clone: the first run writes the captchas' TFRecord files.
const cache = temporaryFolder('captcha-cache-');
const env = { DLEXP_CACHE_DIR: cache };

function cachedRecords(): string[] {
  return readdirSync(join(cache, 'captcha'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.tfrecord'))
    .map((f) => join(cache, 'captcha', f))
    .sort();
}

describe.each(['joint', 'alternating'])('experiments/captcha-%s.yaml --quick', (mode) => {
  it('trains from the streamed TFRecord captchas and reports every head and the whole sequence', async () => {
    const out = join(temporaryFolder(`captcha-${mode}-`), 'run');
    const result = await runner([`experiments/captcha-${mode}.yaml`, '--quick', '--out', out], { env, timeoutMs: 900_000 });
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`multi-task: ${mode} training of char0, char1, char2, char3`);
    expect(result.stdout).toMatch(/streamed from TFRecord files in .*captcha/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('completed');
    for (const key of ['test.char0.accuracy', 'test.char1.accuracy', 'test.char2.accuracy', 'test.char3.accuracy', 'test.sequence.accuracy', 'test.loss']) {
      expect(summary.metrics[key], key).toBeGreaterThanOrEqual(0);
    }
    // Both modes read the same records: one train and one test file in the cache.
    expect(cachedRecords().map((f) => f.split('/').pop())).toEqual(['test-200.tfrecord', 'train-1000.tfrecord']);
    const preprocessing = JSON.parse(readFileSync(join(out, 'model', 'preprocessing.json'), 'utf8'));
    expect(preprocessing.image).toMatchObject({ height: 32, width: 80, channels: 1 });
    expect(preprocessing.labels).toEqual([...'0123456789']);
  }, 900_000);
});

describe('the cached captcha records', () => {
  it('are reused by a later run, read by `runner data inspect`, and give images `runner predict` reads', async () => {
    const [test, train] = cachedRecords();
    const inspect = await runner(['data', 'inspect', train!]);
    expect(inspect.status).toBe(0);
    expect(inspect.stdout).toMatch(/^records: 1000$/m);
    expect(inspect.stdout).toMatch(/│ image\s+│ bytes\s+│ 1\s+│/);

    const out = join(temporaryFolder('captcha-again-'), 'run');
    const again = await runner(['experiments/captcha-joint.yaml', '--quick', '--out', out, '--set', 'train.epochs=1'], { env, timeoutMs: 900_000 });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/streamed from TFRecord files in .* \(cached\)/);

    // The first test captcha as a PNG, read by each head of the trained model.
    const folder = temporaryFolder('captcha-png-');
    let first: Uint8Array | undefined;
    for await (const record of readTFRecords(test!)) {
      const example = decodeExample(record.data, test!);
      const image = example['image'];
      if (image?.kind === 'bytes') first = image.values[0];
      break;
    }
    writeFileSync(join(folder, 'captcha.png'), encodePng(80, 32, 1, first!));
    const heads = await Promise.all(
      ['char0', 'char3'].map((head) => runner(['predict', out, join(folder, 'captcha.png'), '--output', head, '--top', '3', '--json'])),
    );
    for (const predicted of heads) {
      expect(predicted.status).toBe(0);
      const document = JSON.parse(predicted.stdout);
      expect(document.images).toHaveLength(1);
      expect(document.images[0].predictions).toHaveLength(3);
      expect('0123456789').toContain(document.images[0].predictions[0].label);
    }
  }, 900_000);
});
