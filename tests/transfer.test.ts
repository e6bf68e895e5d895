import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runner, temporaryFolder } from './helpers';

// A fresh cache, as on a fresh clone: the first run trains the MNIST CNN (its quick form) into it.
const cache = temporaryFolder('transfer-cache-');
const env = { DLEXP_CACHE_DIR: cache };
const SOURCE = join(ROOT, 'experiments', 'mnist-cnn.yaml');

describe('experiments/transfer-fashion.yaml --quick', () => {
  it('trains the MNIST CNN once into the cache, then runs the three strategies from it', async () => {
    const out = join(temporaryFolder('transfer-'), 'sweep');
    const result = await runner(['experiments/transfer-fashion.yaml', '--quick', '--out', out], { env, timeoutMs: 1_200_000 });
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.status).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('completed');
    expect(summary.trials.map((t: { parameters: Record<string, unknown> }) => Object.keys(t.parameters['model.transfer'] as object)[0])).toEqual(['weights', 'freeze', 'learningRateMultipliers']);
    for (const trial of summary.trials) expect(trial.metrics['test.accuracy']).toBeGreaterThan(0.2);
    expect(result.stdout).toMatch(/model\.from: training .*mnist-cnn\.yaml \(its quick form\) once/);
    const models = readdirSync(join(cache, 'models'));
    expect(models.filter((m) => m.startsWith('mnist-cnn-'))).toHaveLength(1);
    expect(existsSync(join(cache, 'models', models[0]!, 'model', 'model.json'))).toBe(true);

    // The frozen strategy saved conv1, conv2 and fc1 as not trainable, the new head as trainable.
    const frozen = JSON.parse(readFileSync(join(out, 'trials', 'trial-002', 'model', 'model.json'), 'utf8'));
    const trainable = Object.fromEntries(
      frozen.modelTopology.config.layers.filter((l: { config: { trainable?: boolean } }) => 'trainable' in l.config).map((l: { name: string; config: { trainable: boolean } }) => [l.name, l.config.trainable]),
    );
    expect(trainable).toMatchObject({ conv1: false, conv2: false, fc1: false, clothes: true });

    // A second run reuses the trained source.
    const again = await runner(['experiments/transfer-fashion.yaml', '--quick', '--out', join(temporaryFolder('transfer-again-'), 'sweep'), '--set', 'train.epochs=1'], { env });
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/mnist-cnn\.yaml was trained before; reusing/);
    expect(again.stdout).not.toMatch(/model\.from: training/);
  }, 1_500_000);
});

/** A small transfer experiment, written to a file so problems are reported at its lines. */
function experiment(folder: string, model: string, data = 'data: {type: fashion-mnist, limit: {train: 100, test: 100}}'): string {
  const file = join(folder, 'transfer.yaml');
  writeFileSync(
    file,
    `name: transfer-errors
backend: cpu
${data}
model:
  type: sequential
${model}
  loss: {type: softmaxCrossEntropy}
train: {optimizer: {type: adam}, batchSize: 50, epochs: 1}
`,
  );
  return file;
}

describe('model.from problems are config errors at their line and column, before training', () => {
  const head = '  layers: [{type: dense, units: 10, name: clothes}]';
  const cases: [string, string, string | undefined, RegExp][] = [
    ['a missing model', `  from: nowhere.yaml\n${head}`, undefined, /^transfer\.yaml:6:9: model\.from: no file or folder nowhere\.yaml/m],
    ['an unknown layer to keep', `  from: ${SOURCE}\n  keep: [conv1, pool1, conv9]\n${head}`, undefined, /^transfer\.yaml:7:24: model\.keep\.2: the saved model has no layer 'conv9'; did you mean 'conv1'\? \(layers: conv1, pool1, conv2, pool2, flatten_4, fc1, dropout_6, logits\)/m],
    ['a kept layer whose input is not kept', `  from: ${SOURCE}\n  keep: [conv1, conv2]\n${head}`, undefined, /^transfer\.yaml:7:17: model\.keep\.1: 'conv2' takes the output of 'pool1', which is not kept; keep 'pool1' too/m],
    ['an unknown layer to freeze', `  from: ${SOURCE}\n${head}\n  transfer: {freeze: [convolution]}`, undefined, /^transfer\.yaml:8:23: model\.transfer\.freeze\.0: no layer is named 'convolution' or starts with it/m],
    [
      'a kept layer that no longer fits its input',
      `  from: ${SOURCE}\n  keep: [conv1, pool1, conv2, pool2, flatten_4, fc1]\n${head}`,
      'data: {type: fashion-mnist, flatten: true, limit: {train: 100, test: 100}}',
      /^transfer\.yaml:7:10: model\.keep\.0: conv2d 'conv1' does not fit its input shape \[batch, 784\]/m,
    ],
    [
      'saved weights that no longer fit',
      `  from: ${SOURCE}\n  keep: [conv1, pool1, conv2, pool2, flatten_4, fc1]\n  layers: [{type: dense, units: 10, name: digit}]\n  target: y0`,
      'data: {type: captcha, length: 1, samples: {train: 64, test: 16}}',
      /^transfer\.yaml:7:49: model\.keep\.5: layer 'fc1' no longer fits: its weight 'fc1\/kernel' is \[3136, 1024\] in the saved model but \[10240, 1024\] here/m,
    ],
  ];
  it.each(cases)('%s', async (_what, model, data, message) => {
    const folder = temporaryFolder('transfer-error-');
    experiment(folder, model, data);
    // --quick: the source is the quick MNIST CNN the run above left in the cache.
    const result = await runner(['transfer.yaml', '--quick', '--out', join(folder, 'run')], { cwd: folder, env, timeoutMs: 900_000 });
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.stderr).toMatch(message);
    expect(result.status).toBe(2);
    expect(existsSync(join(folder, 'run'))).toBe(false);
  }, 900_000);
});
