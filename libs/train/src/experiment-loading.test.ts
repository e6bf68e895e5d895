import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatDiagnostic } from '@dlexp/core';
import type { LoadOptions } from '@dlexp/config';
import { loadExperiment } from './experiment';
import { createRegistries } from './registries';

const registries = createRegistries();
const folder = mkdtempSync(join(tmpdir(), 'config-test-'));

const VALID = `name: tiny
seed: 3
data:
  type: synthetic
  samples: 10
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables:
    k: {initializer: {type: zeros}}
  nodes:
    prediction: k * x
    loss: reduceMean(square(y - prediction))
  loss: loss
  fetch: [k]
train:
  optimizer: {type: sgd, learningRate: 0.1}
  steps: 10
quick:
  set:
    train.steps: 2
    train[optimizer].learningRate: 0.5
  expect:
    k: {min: 0}
`;

let counter = 0;
function problems(text: string, options: LoadOptions = {}): string[] {
  const file = join(folder, `experiment-${++counter}.yaml`);
  writeFileSync(file, text);
  try {
    loadExperiment(file, registries, { displayName: 'exp.yaml', ...options });
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  return [];
}

function load(text: string, options: LoadOptions = {}) {
  const file = join(folder, `experiment-${++counter}.yaml`);
  writeFileSync(file, text);
  return loadExperiment(file, registries, options);
}

describe('a valid experiment', () => {
  it('loads with every default filled', () => {
    const { resolved } = load(VALID);
    expect(resolved.backend).toBe('auto');
    expect(resolved.train.shuffle).toBe(true);
    expect(resolved.train.optimizer).toEqual({ type: 'sgd', learningRate: 0.1 });
    expect(resolved.data).toMatchObject({ type: 'synthetic', function: 'linear', slope: 0.1, noiseStddev: 0 });
    expect(resolved.expect).toEqual({});
  });
  it('applies quick.set and quick.expect under --quick, and --set after them', () => {
    const quick = load(VALID, { quick: true, set: ['train.steps=3'] });
    expect(quick.resolved.train.steps).toBe(3);
    expect(quick.resolved.train.optimizer['learningRate']).toBe(0.5);
    expect(quick.expectations).toEqual({ k: { min: 0 } });
    expect(load(VALID, { seed: 9, backend: 'cpu' }).resolved).toMatchObject({ seed: 9, backend: 'cpu' });
  });
  it('keeps a written 0 instead of replacing it with a default', () => {
    expect(load(VALID, { set: ['data.slope=0'] }).resolved.data['slope']).toBe(0);
  });
});

describe('diagnostics', () => {
  it('YAML syntax errors, with line and column', () => {
    expect(problems('name: x\ndata: [1, 2\n')[0]).toMatch(/^exp\.yaml:3:1: /);
    expect(problems('a: 1\na: 2\n')[0]).toMatch(/^exp\.yaml:2:1: Map keys must be unique/);
  });
  it('an empty file or a non-mapping at line 1, column 1', () => {
    expect(problems('')).toEqual(['exp.yaml:1:1: the experiment is empty; it must be a mapping with at least name, data, model and train']);
    expect(problems('# only a comment\n')[0]).toMatch(/^exp\.yaml:1:1: the experiment is empty/);
    expect(problems('- 1\n- 2\n')).toEqual(['exp.yaml:1:1: the experiment must be a mapping (key: value pairs) at its top level']);
  });
  it('a missing file', () => {
    expect(() => loadExperiment(join(folder, 'nope.yaml'), registries, { displayName: 'nope.yaml' })).toThrow(/nope\.yaml:1:1: cannot read the experiment: no such file/);
  });
  it('an unknown key with a suggestion, at the key', () => {
    expect(problems(VALID.replace('  steps: 10', '  stesp: 10'))).toContain("exp.yaml:18:3: train.stesp: unknown key 'stesp'; did you mean 'steps'?");
  });
  it('a wrong type and an out-of-range value, at the value', () => {
    expect(problems(VALID.replace('seed: 3', 'seed: three'))).toEqual(["exp.yaml:2:7: seed: expected an integer, got the string 'three'"]);
    expect(problems(VALID.replace('learningRate: 0.1', 'learningRate: -0.1'))).toEqual([
      'exp.yaml:17:40: train.optimizer.learningRate: -0.1 is out of range: must be greater than 0',
    ]);
  });
  it('an unknown registry name with a suggestion', () => {
    expect(problems(VALID.replace('type: sgd', 'type: adma'))).toEqual([
      "exp.yaml:17:21: train.optimizer.type: unknown optimizer 'adma'; did you mean 'adam'? (known: sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamax, adamw, lion)",
    ]);
    expect(problems(VALID.replace('type: zeros', 'type: zeroes'))[0]).toMatch(/exp\.yaml:10:29: model\.variables\.k\.initializer\.type: unknown initializer 'zeroes'; did you mean 'zeros'\?/);
  });
  it('every problem at once, in file order', () => {
    const found = problems(VALID.replace('seed: 3', 'seed: -3').replace('type: sgd', 'type: sgdd').replace('  steps: 10', '  steps: 0'));
    expect(found.map((p) => p.split(':').slice(0, 3).join(':'))).toEqual(['exp.yaml:2:7', 'exp.yaml:17:21', 'exp.yaml:18:10']);
  });
  it('cross-field rules', () => {
    expect(problems(VALID.replace('  steps: 10', '  steps: 10\n  epochs: 2'))).toEqual(['exp.yaml:17:3: train: give either steps or epochs, not both']);
    expect(problems(VALID.replace('  steps: 10\n', ''))).toEqual(['exp.yaml:17:3: train: give the training budget as steps or epochs']);
  });
  it('expression errors point into the expression', () => {
    expect(problems(VALID.replace('prediction: k * x', 'prediction: kk * x'))).toEqual([
      "exp.yaml:12:17: model.nodes.prediction: unknown name 'kk'; did you mean 'k'?",
    ]);
    expect(problems(VALID.replace('prediction: k * x', 'prediction: "k * * x"'))).toEqual([
      "exp.yaml:12:22: model.nodes.prediction: expected a number, a name or '(' but found '*'",
    ]);
    expect(problems(VALID.replace('fetch: [k]', 'fetch: [kay]'))).toEqual(["exp.yaml:15:11: model.fetch.0: no node named 'kay' (defined: prediction, loss, k, x, y)"]);
  });
  it('bad --set arguments', () => {
    expect(problems(VALID, { set: ['train..steps=1'] })).toEqual(["--set:1:7: train..steps: invalid path 'train..steps' at offset 6: empty segment"]);
    expect(problems(VALID, { set: ['train.steps'] })).toEqual(["--set:1:1: 'train.steps' must look like path=value (for example train.optimizer.learningRate=0.1)"]);
    expect(problems(VALID, { set: ['train.steps=[1'] })[0]).toMatch(/^--set:1:13: train\.steps: the value '\[1' is not valid YAML/);
    expect(problems(VALID, { set: ['train.steps=-5'] })).toEqual(['--set:1:13: train.steps: -5 is out of range: must be at least 1']);
    expect(problems(VALID, { set: ['model.fetch.3=k'] })).toEqual(['--set:1:1: model.fetch.3: model.fetch has 1 items; index 3 is out of range']);
    expect(problems(VALID, { seed: 1, backend: 'gpu' })[0]).toMatch(/^--backend:1:9: backend: the string 'gpu' is not allowed/);
  });
  it('a key created by an override is reported where the override was written', () => {
    expect(problems(VALID, { set: ['trian.steps=5'] })).toEqual(["--set:1:1: trian: unknown key 'trian'; did you mean 'train'?"]);
    expect(problems(VALID.replace('train.steps: 2', 'train.stesp: 2'), { quick: true })).toEqual(["exp.yaml:21:5: train.stesp: unknown key 'stesp'; did you mean 'steps'?"]);
  });
  it('rules the schema cannot express: schedule values against boundaries, early stopping on epochs', () => {
    expect(problems(VALID, { set: ['train.optimizer.learningRate={type: piecewiseConstant, boundaries: [10, 5], values: [0.1, 0.01, 0.001]}'] })).toEqual([
      'exp.yaml:17:14: train.optimizer: piecewiseConstant boundaries must increase, got [10, 5]',
    ]);
    expect(problems(VALID, { set: ['train.earlyStopping={metric: test.loss}'] })).toEqual([
      '--set:1:21: train.earlyStopping: early stopping watches epoch-end metrics, so it needs a budget in epochs',
    ]);
  });
  it('problems in quick.set values point into the quick block', () => {
    expect(problems(VALID.replace('train.steps: 2', 'train.steps: 0'), { quick: true })).toEqual(['exp.yaml:21:18: train.steps: 0 is out of range: must be at least 1']);
    expect(problems(VALID.replace('train.steps: 2', 'train..steps: 2'))).toEqual(["exp.yaml:21:5: quick.set[train..steps]: invalid path 'train..steps' at offset 6: empty segment"]);
  });
  it('bounded aliases: a billion-laughs file is an error, not a hang', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const found = problems(`${lines.join('\n')}\n`);
    expect(found[0]).toMatch(/^exp\.yaml:1:1: .*[Aa]lias/);
  });
});
