import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, fillEntry, formatDiagnostic } from '@dlexp/core';
import type { TrainConfig } from '@dlexp/config';
import { openExperiment } from '../experiment';
import { buildOptimizer } from '../optimizer';
import { createRegistries } from '../registries';
import { runExperiment } from '../run-experiment';
import type { RunSink } from '../sinks/sink';
import { headSchedule, multiTaskProblems } from './multi-task';
import { applyScaledUpdate } from './scaled-update';

const registries = createRegistries();

describe('headSchedule', () => {
  const heads = ['a', 'b', 'c'];
  it('trains every head at every step in joint mode and without multiTask', () => {
    expect(headSchedule(undefined, heads)(7)).toBeUndefined();
    expect(headSchedule({ mode: 'joint' }, heads)(7)).toBeUndefined();
  });

  it('cycles the heads one step each by default, and follows a schedule as a function of the step alone', () => {
    const byDefault = headSchedule({ mode: 'alternating' }, heads);
    expect([0, 1, 2, 3, 4, 5, 301].map((s) => byDefault(s))).toEqual([['a'], ['b'], ['c'], ['a'], ['b'], ['c'], ['b']]);
    const scheduled = headSchedule({ mode: 'alternating', schedule: [{ heads: ['a'], steps: 2 }, { heads: ['b', 'c'] }] }, heads);
    expect([0, 1, 2, 3, 4, 5].map((s) => scheduled(s))).toEqual([['a'], ['a'], ['b', 'c'], ['a'], ['a'], ['b', 'c']]);
  });

  it('names what train.multiTask gets wrong for the model', () => {
    const model = { heads: () => heads };
    const shown = (multiTask: TrainConfig['multiTask'], m: { heads?: () => string[] } = model) => multiTaskProblems(multiTask, m).map((p) => `${p.path.join('.')}: ${p.message}`);
    expect(shown({ mode: 'alternating' })).toEqual([]);
    expect(shown({ mode: 'joint', schedule: [{ heads: ['a'] }] })).toEqual(['multiTask.schedule: a schedule is for mode: alternating; joint training trains every head at every step']);
    expect(shown({ mode: 'alternating', schedule: [{ heads: ['a', 'd'] }] })).toEqual(["multiTask.schedule.0.heads.1: no head named 'd' (heads: a, b, c)"]);
    expect(shown({ mode: 'alternating', schedule: [{ heads: ['a'] }, { heads: ['b'] }] })).toEqual(['multiTask.schedule: the schedule never trains c']);
    expect(shown({ mode: 'joint' }, { heads: () => ['only'] })).toEqual(['multiTask: multi-task training needs a model with several heads (a graph model with several outputs); this one has one (only)']);
  });
});

function createModel(config: Record<string, unknown>) {
  const features = { x: { dtype: 'float32' as const, shape: [4] }, y: { dtype: 'int32' as const, shape: [] }, parity: { dtype: 'int32' as const, shape: [] } };
  const filled = fillEntry('model', config, (kind, name) => {
    const kinds: Record<string, { get(n: string): { params: unknown } }> = { model: registries.models, layer: registries.modelRegistries.layers, loss: registries.modelRegistries.losses, metric: registries.modelRegistries.metrics };
    return kinds[kind]?.get(name).params as never;
  }) as Record<string, unknown>;
  return registries.models.get(String(config['type'])).create(filled, { seed: 1, modelRegistries: registries.modelRegistries, features, print: () => undefined });
}

const twoHeads = {
  type: 'graph',
  inputs: { x: { shape: [4] } },
  nodes: [
    { type: 'dense', name: 'trunk', units: 8, activation: 'relu', inputs: ['x'], kernelRegularizer: { type: 'l2', l2: 0.01 } },
    { type: 'dense', name: 'digit', units: 3, inputs: ['trunk'], kernelRegularizer: { type: 'l2', l2: 0.01 } },
    { type: 'dense', name: 'parity', units: 2, inputs: ['trunk'], kernelRegularizer: { type: 'l2', l2: 0.01 } },
  ],
  outputs: { digit: 'digit', parity: 'parity' },
  heads: { digit: { loss: { type: 'softmaxCrossEntropy' }, target: 'y' }, parity: { loss: { type: 'softmaxCrossEntropy' } } },
};

const snapshot = (tensors: Map<string, tf.Tensor>) => new Map([...tensors].map(([name, t]) => [name, Array.from(t.dataSync())]));

describe('an alternating step', () => {
  it("updates the trunk and its head only: the other head's weights and Adam moments and update count stay as they were", () => {
    const before = tf.memory().numTensors;
    const model = createModel(twoHeads);
    const optimizer = buildOptimizer({ optimizer: { type: 'adam', learningRate: 0.05 }, shuffle: true, keepCheckpoints: 3 }, registries);
    const variables = model.trainableVariables();
    const batch = { x: tf.randomNormal([6, 4], 0, 1, 'float32', 3), y: tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), parity: tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32') };
    const step = (heads: string[] | undefined, at: number) => {
      const { loss, grads } = model.lossAndGradients(batch, at, heads);
      if (heads !== undefined) expect([...grads.keys()].every((n) => !n.startsWith(heads[0] === 'digit' ? 'parity/' : 'digit/'))).toBe(true);
      applyScaledUpdate(optimizer, grads, variables, at, new Map());
      tf.dispose([loss, ...grads.values()]);
    };
    // A joint step first, so every moment is non-zero; then one for the digit head alone.
    step(undefined, 0);
    const weights = snapshot(variables);
    const slots = snapshot(optimizer.slots(variables));
    step(['digit'], 1);
    const weightsAfter = snapshot(variables);
    const slotsAfter = snapshot(optimizer.slots(variables));
    for (const name of variables.keys()) {
      const changed = JSON.stringify(weightsAfter.get(name)) !== JSON.stringify(weights.get(name));
      expect([name, changed]).toEqual([name, !name.startsWith('parity/')]);
    }
    for (const name of slots.keys()) {
      const changed = JSON.stringify(slotsAfter.get(name)) !== JSON.stringify(slots.get(name));
      expect([name, changed]).toEqual([name, !name.startsWith('parity/')]);
    }
    // Adam's bias correction counts each variable's own updates: 2 for the trunk, still 1 for parity.
    const counts = [...optimizer.slots(variables)].filter(([n]) => n.endsWith('/count')).map(([n, v]) => [n.split('/')[0], v.dataSync()[0]]);
    expect(Object.fromEntries(counts)).toEqual({ trunk: 2, digit: 2, parity: 1 });
    tf.dispose(Object.values(batch));
    optimizer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('counts only the trained head in the loss, with the penalties of the layers it trains', () => {
    const before = tf.memory().numTensors;
    const model = createModel(twoHeads);
    const batch = { x: tf.randomNormal([6, 4], 0, 1, 'float32', 4), y: tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), parity: tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32') };
    const lossOf = (heads?: string[]) => {
      const { loss, grads } = model.lossAndGradients(batch, 0, heads);
      const value = loss.dataSync()[0]!;
      tf.dispose([loss, ...grads.values()]);
      return value;
    };
    const [digit, parity, joint] = [lossOf(['digit']), lossOf(['parity']), lossOf()];
    // Each single-head loss holds the trunk's penalty once; the joint one holds every penalty once.
    expect(digit + parity).toBeGreaterThan(joint);
    expect(joint).toBeGreaterThan(Math.max(digit, parity));
    tf.dispose(Object.values(batch));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('learning-rate multipliers', () => {
  it('scale the update the optimizer makes, leaving its state as without them', () => {
    const before = tf.memory().numTensors;
    const run = (scales: Map<string, number>) => {
      const model = createModel(twoHeads);
      const optimizer = buildOptimizer({ optimizer: { type: 'adam', learningRate: 0.05 }, shuffle: true, keepCheckpoints: 3 }, registries);
      const variables = model.trainableVariables();
      const start = snapshot(variables);
      const batch = { x: tf.randomNormal([6, 4], 0, 1, 'float32', 3), y: tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), parity: tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32') };
      const { loss, grads } = model.lossAndGradients(batch, 0);
      applyScaledUpdate(optimizer, grads, variables, 0, scales);
      tf.dispose([loss, ...grads.values(), ...Object.values(batch)]);
      const moved = new Map([...snapshot(variables)].map(([name, values]) => [name, values.map((v, i) => v - start.get(name)![i]!)]));
      const slots = snapshot(optimizer.slots(variables));
      optimizer.dispose();
      model.dispose();
      return { moved, slots };
    };
    const plain = run(new Map());
    const slowTrunk = run(new Map([['trunk/kernel', 0.1]]));
    const kernel = plain.moved.get('trunk/kernel')!;
    slowTrunk.moved.get('trunk/kernel')!.forEach((v, i) => expect(v).toBeCloseTo(kernel[i]! * 0.1, 6));
    expect(slowTrunk.moved.get('digit/kernel')).toEqual(plain.moved.get('digit/kernel'));
    expect(slowTrunk.slots).toEqual(plain.slots);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** A two-character captcha read by a small CNN with two heads: multi-task runs in seconds. */
const CAPTCHA = `name: multi-task-test
seed: 3
backend: cpu
data:
  type: captcha
  length: 2
  alphabet: '0123'
  width: 24
  height: 12
  samples: {train: 96, test: 32}
model:
  type: graph
  inputs: {x: {}}
  nodes:
    - {type: conv2d, name: conv, filters: 4, kernelSize: 3, activation: relu, inputs: [x]}
    - {type: flatten, name: flat}
    - {type: dense, name: char0, units: 4, inputs: [flat]}
    - {type: dense, name: char1, units: 4, inputs: [flat]}
  outputs: {char0: char0, char1: char1}
  heads:
    char0: {loss: {type: softmaxCrossEntropy}, metrics: [{type: accuracy}], target: y0}
    char1: {loss: {type: softmaxCrossEntropy}, metrics: [{type: accuracy}], target: y1}
  sequence: [char0, char1]
train:
  optimizer: {type: adam, learningRate: 0.01}
  batchSize: 16
  epochs: 3
  multiTask: {mode: alternating, schedule: [{heads: [char0], steps: 2}, {heads: [char1]}]}
tensorboard: false
plots: false
`;

describe('multi-task runs', () => {
  const folder = mkdtempSync(join(tmpdir(), 'multi-task-'));
  const file = join(folder, 'multi-task.yaml');
  writeFileSync(file, CAPTCHA);
  const rows = (dir: string) =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const { timeMs: _time, ...rest } = JSON.parse(l) as Record<string, number>;
        return rest;
      });

  it('report each head and the whole sequence, and resume an alternating run exactly', async () => {
    const experiment = await openExperiment(file, registries);
    const full = join(folder, 'full');
    const messages: string[] = [];
    const outcome = await runExperiment(experiment, registries, { root: folder, argv: [], out: full, sinks: [{ message: (m) => void messages.push(m) }] });
    expect(outcome.status).toBe('completed');
    expect(messages).toContain('multi-task: alternating training of char0, char1');
    expect(Object.keys(outcome.metrics)).toEqual(expect.arrayContaining(['test.char0.accuracy', 'test.char1.accuracy', 'test.sequence.accuracy', 'test.loss']));
    expect(outcome.metrics['test.sequence.accuracy']).toBeLessThanOrEqual(Math.min(outcome.metrics['test.char0.accuracy']!, outcome.metrics['test.char1.accuracy']!));

    const interrupted = join(folder, 'interrupted');
    const controller = new AbortController();
    const stopAt5: RunSink = { progress: (step) => (step === 5 ? controller.abort() : undefined) };
    expect((await runExperiment(experiment, registries, { root: folder, argv: [], out: interrupted, sinks: [stopAt5], signal: controller.signal })).status).toBe('interrupted');
    expect((await runExperiment(experiment, registries, { root: folder, argv: [], resume: interrupted })).status).toBe('completed');
    expect(rows(interrupted)).toEqual(rows(full));
    expect(readFileSync(join(interrupted, 'model', 'weights.bin'))).toEqual(readFileSync(join(full, 'model', 'weights.bin')));
  });

  it('reports a schedule naming an unknown head at its line, before the run starts', async () => {
    const bad = join(folder, 'bad.yaml');
    writeFileSync(bad, CAPTCHA.replace('{heads: [char1]}', '{heads: [char2]}'));
    const experiment = await openExperiment(bad, registries, { displayName: 'bad.yaml' });
    const error = await runExperiment(experiment, registries, { root: folder, argv: [], out: join(folder, 'never') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).diagnostics.map(formatDiagnostic)).toEqual(["bad.yaml:28:82: train.multiTask.schedule.1.heads.0: no head named 'char2' (heads: char0, char1)"]);
  });
});
