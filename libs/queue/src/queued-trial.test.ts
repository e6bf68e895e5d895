import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { createSamplerRegistry, type PlainValue, type TrialSpec } from '@dlexp/sweep';
import { configHash, createRegistries, loadExperiment } from '@dlexp/train';
import { openQueuedTrial, type QueuedTrialContext } from './queued-trial';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const EXPERIMENT = join(ROOT, 'experiments', 'linear-regression.yaml');
const registries = () => createRegistries({ sweeps: createSamplerRegistry() });

/** A trial of the linear regression as a coordinator resolves it: the learning rate set, seed 7. */
function trialSpec(quick: boolean): TrialSpec {
  const trial = loadExperiment(EXPERIMENT, registries(), { quick, trial: { 'train.optimizer.learningRate': 0.3, seed: 7 } });
  return {
    sweepId: 'sweep-x',
    trialId: 'trial-002',
    index: 1,
    configuration: 1,
    values: { 'train.optimizer.learningRate': 0.3 },
    parameters: { 'train.optimizer.learningRate': 0.3 },
    seed: 7,
    repeat: 0,
    configHash: configHash(trial.resolved),
    experiment: trial.resolved as unknown as PlainValue,
  };
}

function context(extra: Partial<QueuedTrialContext> = {}): QueuedTrialContext {
  return { quick: false, base: '/srv/worker/experiments', experimentFile: 'linear-regression.yaml', scratch: mkdtempSync(join(tmpdir(), 'queued-trial-')), plugins: [], label: 'linear-regression trial-002', ...extra };
}

describe('a queued trial on a worker', () => {
  it('opens from its spec alone as the coordinator resolved it: same config hash, paths from the worker\'s folder', async () => {
    const before = tf.memory().numTensors;
    const spec = trialSpec(false);
    const trial = await openQueuedTrial(spec, context(), registries());
    expect(configHash(trial.resolved)).toBe(spec.configHash);
    expect(trial.resolved.seed).toBe(7);
    expect(trial.resolved.train.optimizer).toMatchObject({ learningRate: 0.3 });
    expect(trial.resolved.sweep).toBeUndefined();
    expect(trial.file).toBe('/srv/worker/experiments/linear-regression.yaml');
    expect(trial.resolvePath('data/x.csv')).toBe('/srv/worker/experiments/data/x.csv');
    expect(trial.expectations).toEqual({ k: { min: 0.09, max: 0.11 }, b: { min: 0.19, max: 0.21 } });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a quick sweep checks quick.expect, the budget already applied once', async () => {
    const spec = trialSpec(true);
    const trial = await openQueuedTrial(spec, context({ quick: true }), registries());
    expect(trial.resolved.train.steps).toBe(50);
    expect(trial.expectations).toEqual({ 'train.loss': { max: 0.01 } });
    expect(configHash(trial.resolved)).toBe(spec.configHash);
  });

  it('the worker\'s backend and threads override the trial\'s', async () => {
    const trial = await openQueuedTrial(trialSpec(false), context({ backend: 'wasm', threads: 2 }), registries());
    expect(trial.resolved.backend).toBe('wasm');
    expect(trial.resolved.threads).toBe(2);
  });

  it('an experiment this worker cannot validate, or none at all, is a config error', async () => {
    const spec = trialSpec(false);
    const broken = { ...spec, experiment: { ...(spec.experiment as Record<string, PlainValue>), model: { type: 'noSuchModel' } } };
    await expect(openQueuedTrial(broken, context(), registries())).rejects.toThrow(ConfigError);
    await expect(openQueuedTrial(broken, context(), registries())).rejects.toThrow(/linear-regression trial-002 \(resolved experiment\):\d+:\d+: model/);
    await expect(openQueuedTrial({ ...spec, experiment: null }, context(), registries())).rejects.toThrow(/the trial carries no experiment/);
  });
});
