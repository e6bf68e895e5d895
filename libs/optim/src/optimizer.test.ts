import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunError } from '@dlexp/core';
import { clipByGlobalNorm, clipByValue, createOptimizer, createOptimizerRegistry, createScheduleRegistry, Optimizer, scaleByAdam, scaleByLearningRate, trace, type OptimizerConfig } from './index';
import { disposeAll, makeVariables, stepOnQuadratic, stepWith, valuesOf } from './test-helpers';

const optimizers = createOptimizerRegistry();
const context = { schedules: createScheduleRegistry() };
const adam: OptimizerConfig = { type: 'adam', learningRate: 0.1 };

let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

/** Runs `steps` steps from `from` and returns a copy of every slot, as a checkpoint holds them. */
function trainAndSave(optimizer: Optimizer, variables: Map<string, tf.Variable>, from: number, steps: number): Map<string, tf.Tensor> {
  for (let step = from; step < from + steps; step++) stepOnQuadratic(optimizer, variables, step);
  return new Map([...optimizer.slots(variables)].map(([key, slot]) => [key, slot.clone()]));
}

describe('slot names', () => {
  it('are <variable>/<transform>/<slot>, whatever comes before the optimizer in the chain', () => {
    const variables = makeVariables({ 'dense/kernel': [1, 2], 'dense/bias': [0] });
    const plain = createOptimizer(optimizers, adam, context);
    const clipped = createOptimizer(optimizers, adam, context, [clipByValue(1), clipByGlobalNorm(5)]);
    const expected = ['dense/kernel/scaleByAdam/m', 'dense/kernel/scaleByAdam/v', 'dense/kernel/scaleByAdam/count', 'dense/bias/scaleByAdam/m', 'dense/bias/scaleByAdam/v', 'dense/bias/scaleByAdam/count'];
    expect([...plain.slots(variables).keys()]).toEqual(expected);
    expect([...clipped.slots(variables).keys()]).toEqual(expected);
    expect(plain.slots(variables).get('dense/bias/scaleByAdam/count')!.shape).toEqual([]);
    for (const o of [plain, clipped]) o.dispose();
    disposeAll(variables);
  });

  it('are unique in a chain: two transforms of one name are refused', () => {
    expect(() => new Optimizer({ type: 'custom' }, [trace(0.9, false), trace(0.5, false), scaleByLearningRate(() => 0.1)], () => 0.1)).toThrow(/two transforms named 'trace'/);
  });
});

describe('a saved state', () => {
  it('survives clipping added in front of the optimizer (a longer chain)', () => {
    const uninterrupted = createOptimizer(optimizers, adam, context);
    const variables = makeVariables({ w: [0.5, -1, 2] });
    const saved = trainAndSave(uninterrupted, variables, 0, 3);
    const savedWeights = valuesOf(variables);
    disposeAll(trainAndSave(uninterrupted, variables, 3, 3));

    // A norm limit far above the gradients' norm scales them by exactly 1.
    const longer = createOptimizer(optimizers, adam, context, [clipByGlobalNorm(1e6)]);
    const resumed = makeVariables(savedWeights);
    longer.restoreSlots(resumed, (key) => saved.get(key), { completedSteps: 3 });
    disposeAll(trainAndSave(longer, resumed, 3, 3));
    expect(valuesOf(resumed)).toEqual(valuesOf(variables));
    for (const o of [uninterrupted, longer]) o.dispose();
    for (const m of [variables, resumed, saved]) disposeAll(m);
  });

  it('written with positional names by earlier versions still restores, its update counts taken from the step', () => {
    // Checkpoints before slots were named held `<position in the chain>:<variable>/<slot>` and no
    // counts; here the chain was [clipByValue, scaleByAdam, scaleByLearningRate].
    const uninterrupted = createOptimizer(optimizers, adam, context, [clipByValue(10)]);
    const variables = makeVariables({ 'conv/kernel': [0.5, -1, 2], 'conv/bias': [0.1] });
    const current = trainAndSave(uninterrupted, variables, 0, 4);
    const savedWeights = valuesOf(variables);
    disposeAll(trainAndSave(uninterrupted, variables, 4, 3));
    const legacy = new Map<string, tf.Tensor>();
    for (const variable of ['conv/kernel', 'conv/bias']) {
      for (const slot of ['m', 'v']) legacy.set(`1:${variable}/${slot}`, current.get(`${variable}/scaleByAdam/${slot}`)!);
    }
    expect([...legacy.keys()]).toEqual(['1:conv/kernel/m', '1:conv/kernel/v', '1:conv/bias/m', '1:conv/bias/v']);

    const resumedOptimizer = createOptimizer(optimizers, adam, context, [clipByValue(10)]);
    const resumed = makeVariables(savedWeights);
    resumedOptimizer.restoreSlots(resumed, (key) => legacy.get(key), { completedSteps: 4 });
    expect(valuesOf(resumedOptimizer.slots(resumed))['conv/bias/scaleByAdam/count']).toEqual([4]);
    disposeAll(trainAndSave(resumedOptimizer, resumed, 4, 3));
    expect(valuesOf(resumed)).toEqual(valuesOf(variables));
    for (const o of [uninterrupted, resumedOptimizer]) o.dispose();
    for (const m of [variables, resumed, current]) disposeAll(m);
  });

  it('in the old form restores momentum by hand-written values', () => {
    const optimizer = createOptimizer(optimizers, { type: 'momentum', learningRate: 0.5, momentum: 0.5 }, context);
    const variables = makeVariables({ w: [1, 1] });
    const legacy = new Map([['0:w/momentum', tf.tensor1d([2, -4])]]);
    optimizer.restoreSlots(variables, (key) => legacy.get(key), { completedSteps: 10 });
    // v = 0.5·[2, −4] + [1, 1] = [2, −1]; w = [1, 1] − 0.5·v = [0, 1.5]
    stepWith(optimizer, variables, { w: [1, 1] }, 10);
    expect(valuesOf(variables)['w']).toEqual([0, 1.5]);
    optimizer.dispose();
    disposeAll(variables);
    disposeAll(legacy);
  });

  it('without a slot the optimizer needs is refused, naming the slots, and nothing is assigned', () => {
    const optimizer = createOptimizer(optimizers, adam, context);
    const variables = makeVariables({ w: [1, 2] });
    stepWith(optimizer, variables, { w: [1, 1] }, 0);
    const before = valuesOf(optimizer.slots(variables));
    const partial = new Map([['w/scaleByAdam/m', tf.tensor1d([5, 5])]]);
    expect(() => optimizer.restoreSlots(variables, (key) => partial.get(key), { completedSteps: 1 })).toThrow(RunError);
    expect(() => optimizer.restoreSlots(variables, (key) => partial.get(key), { completedSteps: 1 })).toThrow(
      "the checkpoint has no optimizer slot 'w/scaleByAdam/v', 'w/scaleByAdam/count'; was it written by another optimizer?",
    );
    expect(valuesOf(optimizer.slots(variables))).toEqual(before);
    // A momentum checkpoint does not restore into Adam, even by the old names.
    const momentumState = new Map([['0:w/momentum', tf.tensor1d([1, 1])]]);
    expect(() => optimizer.restoreSlots(variables, (key) => momentumState.get(key), { completedSteps: 1 })).toThrow(/no optimizer slot 'w\/scaleByAdam\/m', 'w\/scaleByAdam\/v', 'w\/scaleByAdam\/count'/);
    optimizer.dispose();
    for (const m of [variables, partial, momentumState]) disposeAll(m);
  });

  it('with a slot of another shape is refused, naming both shapes', () => {
    const optimizer = createOptimizer(optimizers, { type: 'momentum' }, context);
    const variables = makeVariables({ w: [1, 2] });
    const saved = new Map([['w/trace/momentum', tf.tensor1d([1, 2, 3])]]);
    expect(() => optimizer.restoreSlots(variables, (key) => saved.get(key), { completedSteps: 1 })).toThrow(
      "optimizer slot 'w/trace/momentum' has shape [3] in the checkpoint but [2] here",
    );
    optimizer.dispose();
    for (const m of [variables, saved]) disposeAll(m);
  });
});

describe('a step with gradients for only some variables (alternating multi-task training)', () => {
  it('leaves the other variables\' slots untouched and counts each variable\'s own updates', () => {
    const optimizer = createOptimizer(optimizers, { type: 'adamw', learningRate: 0.1, weightDecay: 0.1 }, context);
    const variables = makeVariables({ trunk: [1, 2], head0: [3], head1: [4] });
    stepWith(optimizer, variables, { trunk: [1, 1], head0: [1], head1: [1] }, 0);
    const headOne = () => Object.fromEntries(Object.entries(valuesOf(optimizer.slots(variables))).filter(([key]) => key.startsWith('head1/')));
    const afterJoint = headOne();
    const weightAfterJoint = valuesOf(variables)['head1'];
    for (let step = 1; step <= 4; step++) stepWith(optimizer, variables, { trunk: [1, -1], head0: [0.5] }, step);
    expect(headOne()).toEqual(afterJoint);
    expect(valuesOf(variables)['head1']).toEqual(weightAfterJoint);
    const counts = Object.fromEntries([...optimizer.slots(variables)].filter(([key]) => key.endsWith('/count')).map(([key, value]) => [key, value.dataSync()[0]]));
    expect(counts).toEqual({ 'trunk/scaleByAdam/count': 5, 'head0/scaleByAdam/count': 5, 'head1/scaleByAdam/count': 1 });
    // head1's second update is Adam's second step (t = 2), not the sixth: m̂ and v̂ are those of two
    // gradients of 1, so the step is lr·(1/(1+ε) + λw) with w = 4 − 0.1·(1/(1+ε) + 0.4).
    stepWith(optimizer, variables, { trunk: [0, 0], head1: [1] }, 5);
    const afterFirst = 4 - 0.1 * (1 / (1 + 1e-8) + 0.1 * 4);
    expect(valuesOf(variables)['head1']![0]).toBeCloseTo(afterFirst - 0.1 * (1 / (1 + 1e-8) + 0.1 * afterFirst), 5);
    optimizer.dispose();
    disposeAll(variables);
  });

  it('creates the slots of a variable first seen later (a head added to the chain)', () => {
    const optimizer = createOptimizer(optimizers, { type: 'momentum', learningRate: 0.1 }, context);
    const trunk = makeVariables({ trunk: [1] });
    stepWith(optimizer, trunk, { trunk: [1] }, 0);
    const all = makeVariables({ head: [2] });
    all.set('trunk', trunk.get('trunk')!);
    stepWith(optimizer, all, { head: [1] }, 1);
    expect(valuesOf(optimizer.slots(all))).toEqual({ 'head/trace/momentum': [1], 'trunk/trace/momentum': [1] });
    expect(valuesOf(all)['head']![0]).toBeCloseTo(1.9, 6);
    optimizer.dispose();
    disposeAll(all);
  });

  it('with no gradient at all changes nothing', () => {
    const optimizer = createOptimizer(optimizers, adam, context, [clipByGlobalNorm(1)]);
    const variables = makeVariables({ w: [1, 2] });
    stepWith(optimizer, variables, {}, 0);
    expect(valuesOf(variables)).toEqual({ w: [1, 2] });
    expect(valuesOf(optimizer.slots(variables))).toEqual({ 'w/scaleByAdam/m': [0, 0], 'w/scaleByAdam/v': [0, 0], 'w/scaleByAdam/count': [0] });
    optimizer.dispose();
    disposeAll(variables);
  });
});

describe('a hand-built chain', () => {
  it('is an Optimizer like a named one', () => {
    const handMade = new Optimizer({ type: 'adam' }, [scaleByAdam(0.9, 0.999, 1e-8), scaleByLearningRate(() => 0.1)], () => 0.1);
    const named = createOptimizer(optimizers, adam, context);
    const a = makeVariables({ w: [1, -1] });
    const b = makeVariables({ w: [1, -1] });
    for (let step = 0; step < 3; step++) {
      stepOnQuadratic(handMade, a, step);
      stepOnQuadratic(named, b, step);
    }
    expect(valuesOf(a)).toEqual(valuesOf(b));
    for (const o of [handMade, named]) o.dispose();
    for (const m of [a, b]) disposeAll(m);
  });
});
