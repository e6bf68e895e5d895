import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatDiagnostic } from '@dlexp/core';
import { createRegistries, loadExperiment } from '@dlexp/train';
import { checkExperimentSweep, configurationYaml, createTrialResolver, experimentHashOf } from './experiment-sweep';
import { createSamplerRegistry } from './samplers';

const registries = createRegistries({ sweeps: createSamplerRegistry() });
const folder = mkdtempSync(join(tmpdir(), 'experiment-sweep-'));

const BASE = `name: fit
seed: 3
backend: cpu
data: {type: synthetic, function: linear, samples: 20}
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables: {k: {initializer: {type: zeros}}, b: {initializer: {type: zeros}}}
  nodes: {loss: reduceMean(square(y - (k * x + b)))}
  loss: loss
  fetch: [k, b]
train:
  optimizer: {type: sgd, learningRate: 0.1}   # the course's optimizer
  steps: 20
`;

function experiment(name: string, sweep: string) {
  const file = join(folder, `${name}.yaml`);
  writeFileSync(file, `${BASE}${sweep}`);
  return { file, load: { displayName: `${name}.yaml` } };
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('a sweep checked against its experiment', () => {
  it('reports a bad parameter path at its key with "did you mean", a bad value where it is written, and warns about a test metric', () => {
    const { file, load } = experiment(
      'bad',
      `sweep:
  method: random
  maxTrials: 4
  parameters:
    train.optimiser.learningRate: {min: 0.001, max: 1, scale: log}
    train.optimizer.type: {values: [sgd, adamm]}
    steps: {paths: [train.steps, train.logEvery], values: [5, 0]}
  metric: test.loss
  goal: minimize
`,
    );
    const base = loadExperiment(file, registries, load);
    const problems = problemsOf(() => checkExperimentSweep(base, registries, { file, load }));
    expect(problems).toEqual([
      "bad.yaml:19:5: sweep.parameters[train.optimiser.learningRate]: train.optimiser: unknown key 'optimiser'; did you mean 'optimizer'?",
      "bad.yaml:20:42: sweep.parameters[train.optimizer.type].values.1: train.optimizer.type: unknown optimizer 'adamm'; did you mean 'adam'? (known: sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamax, adamw, lion)",
      // Both paths of the parameter refuse 0: each problem at the value.
      'bad.yaml:21:63: sweep.parameters.steps.values.1: train.steps: 0 is out of range: must be at least 1',
      'bad.yaml:21:63: sweep.parameters.steps.values.1: train.logEvery: 0 is out of range: must be at least 1',
    ]);
  });

  it('places problems of the block itself at their lines, and needs epochs for early termination', () => {
    const { file, load } = experiment(
      'block',
      `sweep:
  method: grid
  parameters:
    train.optimizer.learningRate: {min: 0.001, max: 1}
  metric: train.loss
  earlyTermination: {type: asha}
`,
    );
    const base = loadExperiment(file, registries, load);
    expect(problemsOf(() => checkExperimentSweep(base, registries, { file, load }))).toEqual([
      'block.yaml:18:35: sweep.parameters[train.optimizer.learningRate]: grid tries listed values only: give values: [...], or sample the range with method random or tpe',
      'block.yaml:20:21: sweep.earlyTermination: early termination compares trials at epoch ends, so it needs a budget in epochs (train.epochs)',
    ]);
  });

  it('resolves each trial from the file (its values by path and its seed), and prints a configuration as an experiment', () => {
    const { file, load } = experiment(
      'good',
      `sweep:
  method: random
  maxTrials: 3
  parameters:
    train.optimizer.learningRate: {min: 0.001, max: 1, scale: log}
  metric: test.loss
  goal: minimize
`,
    );
    const base = loadExperiment(file, registries, load);
    const checked = checkExperimentSweep(base, registries, { file, load });
    expect(checked.warnings.map(formatDiagnostic)).toEqual([
      'good.yaml:20:11: sweep.metric: warning: the sweep ranks its trials on the test set (test.loss): choosing the best of several trials on test data overstates its result; rank on a validation metric (validation.loss) and report the best trial\'s test metrics',
    ]);
    expect(checked.experimentHash).toBe(experimentHashOf(base));
    const tensors = tf.memory().numTensors;
    const resolve = createTrialResolver(base, registries, { file, load });
    const trial = resolve({ index: 1, configuration: 0, repeat: 1, seed: 4, values: { lr: 0.5 }, parameters: { 'train.optimizer.learningRate': 0.5 } });
    expect(trial.budget).toEqual({ steps: 20 });
    expect(trial.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(trial.experiment).toMatchObject({ seed: 4, train: { optimizer: { type: 'sgd', learningRate: 0.5 } } });
    expect(trial.experiment).not.toHaveProperty('sweep');
    // A value the checks could not reach that the schema refuses: handed on, to fail as a trial.
    const refused = resolve({ index: 2, configuration: 1, repeat: 0, seed: 3, values: {}, parameters: { 'train.steps': -1 } });
    expect(refused.configHash).toBeUndefined();
    expect(tf.memory().numTensors).toBe(tensors);

    const yaml = configurationYaml(registries, { file, load }, { 'train.optimizer.learningRate': 0.05 });
    expect(yaml).toContain('  optimizer: {type: sgd, learningRate: 0.05} # the course\'s optimizer\n');
    expect(yaml).not.toContain('sweep:');
  });
});
