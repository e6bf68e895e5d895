import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fillDefaults, type ParamSpec } from '@dlexp/core';
import { createOptimizer, createOptimizerRegistry, createScheduleRegistry, type Optimizer, type OptimizerConfig } from './index';
import { disposeAll, makeVariables, stepOnQuadratic, stepWith, valuesOf } from './test-helpers';

const optimizers = createOptimizerRegistry();
const context = { schedules: createScheduleRegistry() };

let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

/** One weight's update rule written from the paper, in float64, keeping its own state. */
type Stepper = (w: number, g: number) => number;

interface OptimizerCase {
  /** Hyperparameters for the hand-computed steps: non-default values, so each one is seen to be wired. */
  formula: OptimizerConfig;
  /** The paper's update rule for one weight (a fresh stepper per weight). */
  reference: () => Stepper;
  /** Learning rate tuned for 500 steps on Rosenbrock from (−1.5, 2). */
  rosenbrockRate: number;
}

function row<P extends { learningRate: number }>(type: string, hyper: P, reference: (p: P) => Stepper, rosenbrockRate: number): [string, OptimizerCase] {
  return [type, { formula: { type, ...hyper }, reference: () => reference(hyper), rosenbrockRate }];
}

/** Every optimizer in the registry has a row: a new optimizer without one fails the coverage test. */
const cases = new Map<string, OptimizerCase>([
  row('sgd', { learningRate: 0.1 }, (p) => (w, g) => w - p.learningRate * g, 2e-3),
  row(
    'momentum',
    { learningRate: 0.1, momentum: 0.8 },
    (p) => {
      let v = 0;
      return (w, g) => {
        v = p.momentum * v + g;
        return w - p.learningRate * v;
      };
    },
    1e-3,
  ),
  row(
    'nesterov',
    { learningRate: 0.1, momentum: 0.8 },
    (p) => {
      let v = 0;
      return (w, g) => {
        v = p.momentum * v + g;
        return w - p.learningRate * (g + p.momentum * v);
      };
    },
    1e-3,
  ),
  row(
    'adagrad',
    { learningRate: 0.1, initialAccumulator: 0.5, epsilon: 0.01 },
    (p) => {
      let sum = p.initialAccumulator;
      return (w, g) => {
        sum += g * g;
        return w - (p.learningRate * g) / (Math.sqrt(sum) + p.epsilon);
      };
    },
    2,
  ),
  row(
    'rmsprop',
    { learningRate: 0.1, decay: 0.8, momentum: 0.5, epsilon: 0.01 },
    (p) => {
      let meanSquare = 0;
      let velocity = 0;
      return (w, g) => {
        meanSquare = p.decay * meanSquare + (1 - p.decay) * g * g;
        velocity = p.momentum * velocity + g / Math.sqrt(meanSquare + p.epsilon);
        return w - p.learningRate * velocity;
      };
    },
    0.02,
  ),
  row(
    'adadelta',
    { learningRate: 0.5, rho: 0.8, epsilon: 0.01 },
    (p) => {
      let squaredGrads = 0;
      let squaredUpdates = 0;
      return (w, g) => {
        squaredGrads = p.rho * squaredGrads + (1 - p.rho) * g * g;
        const delta = (Math.sqrt(squaredUpdates + p.epsilon) / Math.sqrt(squaredGrads + p.epsilon)) * g;
        squaredUpdates = p.rho * squaredUpdates + (1 - p.rho) * delta * delta;
        return w - p.learningRate * delta;
      };
    },
    5,
  ),
  row('adam', { learningRate: 0.1, beta1: 0.8, beta2: 0.9, epsilon: 0.01 }, (p) => adamReference(p, 0), 0.1),
  row(
    'adamax',
    { learningRate: 0.1, beta1: 0.8, beta2: 0.9, epsilon: 0.01 },
    (p) => {
      let m = 0;
      let u = 0;
      let t = 0;
      return (w, g) => {
        t += 1;
        m = p.beta1 * m + (1 - p.beta1) * g;
        u = Math.max(p.beta2 * u, Math.abs(g));
        return w - (p.learningRate / (1 - Math.pow(p.beta1, t))) * (m / (u + p.epsilon));
      };
    },
    2,
  ),
  row('adamw', { learningRate: 0.1, beta1: 0.8, beta2: 0.9, epsilon: 0.01, weightDecay: 0.5 }, (p) => adamReference(p, p.weightDecay), 0.1),
  row(
    'lion',
    { learningRate: 0.1, beta1: 0.8, beta2: 0.95, weightDecay: 0.5 },
    (p) => {
      let m = 0;
      return (w, g) => {
        const c = p.beta1 * m + (1 - p.beta1) * g;
        m = p.beta2 * m + (1 - p.beta2) * g;
        return w - p.learningRate * (Math.sign(c) + p.weightDecay * w);
      };
    },
    0.01,
  ),
]);

/** Adam (Algorithm 1 of Kingma & Ba), with AdamW's decoupled decay λ·w inside the learning rate. */
function adamReference(p: { learningRate: number; beta1: number; beta2: number; epsilon: number }, weightDecay: number): Stepper {
  let m = 0;
  let v = 0;
  let t = 0;
  return (w, g) => {
    t += 1;
    m = p.beta1 * m + (1 - p.beta1) * g;
    v = p.beta2 * v + (1 - p.beta2) * g * g;
    const mHat = m / (1 - Math.pow(p.beta1, t));
    const vHat = v / (1 - Math.pow(p.beta2, t));
    return w - p.learningRate * (mHat / (Math.sqrt(vHat) + p.epsilon) + weightDecay * w);
  };
}

function caseOf(name: string): OptimizerCase {
  const found = cases.get(name);
  if (found === undefined) throw new Error(`no test row for optimizer '${name}'`);
  return found;
}

it('every optimizer in the registry has a test row, and the course\'s seven, adamax, adamw and lion are registered', () => {
  expect([...cases.keys()].sort()).toEqual(optimizers.names().sort());
  expect(optimizers.names()).toEqual(['sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adadelta', 'adam', 'adamax', 'adamw', 'lion']);
});

describe.each(optimizers.names())('optimizer %s', (name) => {
  const testCase = caseOf(name);

  it('documents every parameter with a default inside its own bounds', () => {
    const entry = optimizers.get(name);
    expect(entry.description.length).toBeGreaterThan(20);
    for (const [key, spec] of Object.entries(entry.params as Record<string, ParamSpec<unknown>>)) {
      expect(spec.schema['description'], key).toEqual(expect.any(String));
      expect(spec.default, key).toBeDefined();
      expect(spec.schema['default'], key).toEqual(spec.default);
      if (typeof spec.default === 'number') expect(withinBounds(spec.default, spec.schema), `${key}=${spec.default}`).toBe(true);
    }
    // The formula rows write every parameter, so a misspelt key in the table would show here.
    expect(Object.keys(testCase.formula).filter((k) => k !== 'type').sort()).toEqual(Object.keys(entry.params).sort());
  });

  it('builds from defaults and round-trips its config', () => {
    const entry = optimizers.get(name);
    const fromDefaults = createOptimizer(optimizers, { type: name }, context);
    expect(fromDefaults.name).toBe(name);
    expect(fromDefaults.config).toEqual({ type: name, ...fillDefaults(entry.params, {}, () => undefined) });
    // The resolved config, through JSON (as it is written to config.resolved.yaml), builds the same optimizer.
    const again = createOptimizer(optimizers, JSON.parse(JSON.stringify(fromDefaults.config)) as OptimizerConfig, context);
    expect(again.config).toEqual(fromDefaults.config);
    const a = makeVariables({ w: [0.5, -1, 2] });
    const b = makeVariables({ w: [0.5, -1, 2] });
    for (let step = 0; step < 3; step++) {
      stepOnQuadratic(fromDefaults, a, step);
      stepOnQuadratic(again, b, step);
    }
    expect(valuesOf(b)).toEqual(valuesOf(a));
    expect(valuesOf(a)['w']).not.toEqual([0.5, -1, 2]);
    for (const o of [fromDefaults, again]) o.dispose();
    disposeAll(a);
    disposeAll(b);
  });

  it('lowers a quadratic', () => {
    // Adadelta starts with steps of about sqrt(epsilon) and needs longer to get going.
    const steps = name === 'adadelta' ? 1000 : 100;
    const learningRate = name === 'adadelta' ? 1 : 0.05;
    expect(minimizeQuadratic({ type: name, learningRate }, steps)).toBeLessThan(14 * 0.5);
  });

  it('makes progress on Rosenbrock from (−1.5, 2) in 500 steps', () => {
    const start = rosenbrock(-1.5, 2);
    expect(start).toBeCloseTo(12.5, 10);
    const final = minimizeRosenbrock({ type: name, learningRate: testCase.rosenbrockRate }, 500);
    // Every optimizer first falls into the curved valley (f ≈ 5.9 there); the bar asks for progress along it.
    expect(final).toBeLessThan(start / 5);
  });

  it('matches the paper\'s update on a hand-computed first and second step', () => {
    const start = [1, -0.5, 2];
    const gradients = [
      [0.5, -2, 0],
      [-1, 3, 0.25],
    ];
    const steppers = start.map(() => testCase.reference());
    let expected = start;
    const optimizer = createOptimizer(optimizers, testCase.formula, context);
    const variables = makeVariables({ w: start });
    gradients.forEach((g, step) => {
      expected = expected.map((w, i) => steppers[i]!(w, g[i]!));
      stepWith(optimizer, variables, { w: g }, step);
      const actual = valuesOf(variables)['w']!;
      actual.forEach((value, i) => expect(value, `step ${step + 1}, weight ${i}`).toBeCloseTo(expected[i]!, 5));
    });
    optimizer.dispose();
    disposeAll(variables);
  });

  it('saves and restores its state exactly', () => {
    const config: OptimizerConfig = { ...testCase.formula, learningRate: { type: 'exponentialDecay', initial: testCase.formula['learningRate'], decayRate: 0.5, decaySteps: 4 } };
    const n = 3;
    const original = createOptimizer(optimizers, config, context);
    const variables = makeVariables({ a: [0.5, -1, 2], b: [3, 0] });
    for (let step = 0; step < n; step++) stepOnQuadratic(original, variables, step);
    // The checkpoint: copies of the weights and of every slot, by name.
    const savedWeights = valuesOf(variables);
    const savedSlots = new Map([...original.slots(variables)].map(([key, slot]) => [key, slot.clone()]));
    for (let step = n; step < 2 * n; step++) stepOnQuadratic(original, variables, step);

    const resumed = createOptimizer(optimizers, config, context);
    const restoredVariables = makeVariables(savedWeights);
    resumed.restoreSlots(restoredVariables, (key) => savedSlots.get(key), { completedSteps: n });
    for (let step = n; step < 2 * n; step++) stepOnQuadratic(resumed, restoredVariables, step);
    expect(valuesOf(restoredVariables)).toEqual(valuesOf(variables));
    expect(valuesOf(resumed.slots(restoredVariables))).toEqual(valuesOf(original.slots(variables)));

    if (savedSlots.size > 0) {
      // Without its state the same continuation ends elsewhere (Lion's signs may agree for a while,
      // so the slots are compared too): the restore is what made the runs identical.
      const forgetful = createOptimizer(optimizers, config, context);
      const fresh = makeVariables(savedWeights);
      for (let step = n; step < 2 * n; step++) stepOnQuadratic(forgetful, fresh, step);
      expect({ ...valuesOf(fresh), ...valuesOf(forgetful.slots(fresh)) }).not.toEqual({ ...valuesOf(variables), ...valuesOf(original.slots(variables)) });
      forgetful.dispose();
      disposeAll(fresh);
    }
    for (const o of [original, resumed]) o.dispose();
    for (const m of [variables, restoredVariables, savedSlots]) disposeAll(m);
  });

  it('updates only the variables with a gradient, and each as if it were trained alone', () => {
    // Alternating multi-task training: the trunk gets a gradient every step, each head every other.
    const optimizer = createOptimizer(optimizers, caseOf(name).formula, context);
    const variables = makeVariables({ trunk: [1, -0.5], head0: [2, 0.25], head1: [-1, 0.75] });
    const gradient = (variable: string, step: number) => [Math.sin(step + variable.length), 0.5 - Math.cos(3 * step)];
    const alone = new Map([...variables].map(([key, v]) => [key, { optimizer: createOptimizer(optimizers, caseOf(name).formula, context), variables: makeVariables({ [key]: Array.from(v.dataSync()) }), steps: 0 }]));
    for (let step = 0; step < 6; step++) {
      const head = step % 2 === 0 ? 'head0' : 'head1';
      const other = step % 2 === 0 ? 'head1' : 'head0';
      const otherBefore = valuesOf(new Map([...optimizer.slots(variables)].filter(([key]) => key.startsWith(`${other}/`))));
      const otherWeights = valuesOf(variables)[other];
      stepWith(optimizer, variables, { trunk: gradient('trunk', step), [head]: gradient(head, step) }, step);
      const otherAfter = valuesOf(new Map([...optimizer.slots(variables)].filter(([key]) => key.startsWith(`${other}/`))));
      expect(otherAfter, `${other}'s slots after step ${step}`).toEqual(otherBefore);
      expect(valuesOf(variables)[other]).toEqual(otherWeights);
      for (const key of ['trunk', head]) {
        // A constant learning rate: the global step number does not matter, only the variable's own updates.
        const solo = alone.get(key)!;
        stepWith(solo.optimizer, solo.variables, { [key]: gradient(key, step) }, solo.steps++);
      }
    }
    for (const [key, solo] of alone) {
      valuesOf(variables)[key]!.forEach((value, i) => expect(value, key).toBeCloseTo(valuesOf(solo.variables)[key]![i]!, 6));
      solo.optimizer.dispose();
      disposeAll(solo.variables);
    }
    optimizer.dispose();
    disposeAll(variables);
  });
});

describe('optimizers match TF.js reference implementations over five steps', () => {
  const compare = (config: OptimizerConfig, reference: () => tf.Optimizer) => {
    const init = [0.5, -1, 2];
    const f = (w: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(tf.square(w), tf.tensor1d([1, 2, 3]))) as tf.Scalar);
    const a = tf.tidy(() => tf.variable(tf.tensor1d(init)));
    const ours = createOptimizer(optimizers, config, context);
    for (let step = 0; step < 5; step++) {
      const { value, grads } = tf.variableGrads(() => f(a), [a]);
      ours.apply(new Map([['a', grads[a.name]!]]), new Map([['a', a]]), step);
      tf.dispose([value, ...Object.values(grads)]);
    }
    const oursFinal = Array.from(a.dataSync());
    ours.dispose();
    a.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // TF.js' own optimizers keep a few scalars alive after dispose(), so they run outside the leak check.
    const b = tf.tidy(() => tf.variable(tf.tensor1d(init)));
    const theirs = reference();
    for (let step = 0; step < 5; step++) theirs.minimize(() => f(b), false, [b]);
    expect(oursFinal).toEqual(Array.from(b.dataSync()).map((x) => expect.closeTo(x, 5)));
    theirs.dispose();
    b.dispose();
    before = tf.memory().numTensors;
  };
  it('sgd', () => compare({ type: 'sgd', learningRate: 0.1 }, () => tf.train.sgd(0.1)));
  it('momentum', () => compare({ type: 'momentum', learningRate: 0.1, momentum: 0.9 }, () => tf.train.momentum(0.1, 0.9)));
  it('nesterov', () => compare({ type: 'nesterov', learningRate: 0.1, momentum: 0.9 }, () => tf.train.momentum(0.1, 0.9, true)));
  it('adam', () => compare({ type: 'adam', learningRate: 0.1, epsilon: 1e-7 }, () => tf.train.adam(0.1, 0.9, 0.999, 1e-7)));
  it('adamax', () => compare({ type: 'adamax', learningRate: 0.1, epsilon: 1e-7 }, () => tf.train.adamax(0.1, 0.9, 0.999, 1e-7)));
  it('rmsprop', () => compare({ type: 'rmsprop', learningRate: 0.01, epsilon: 1e-7 }, () => tf.train.rmsprop(0.01, 0.9, 0, 1e-7)));
  it('adagrad', () => compare({ type: 'adagrad', learningRate: 0.1, epsilon: 1e-7 }, () => tf.train.adagrad(0.1, 0.1)));
});

function withinBounds(value: number, schema: Record<string, unknown>): boolean {
  const bound = (key: string) => (typeof schema[key] === 'number' ? (schema[key] as number) : undefined);
  const [min, max, exclusiveMin, exclusiveMax] = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].map(bound);
  return (min === undefined || value >= min) && (max === undefined || value <= max) && (exclusiveMin === undefined || value > exclusiveMin) && (exclusiveMax === undefined || value < exclusiveMax);
}

function minimize(config: OptimizerConfig, start: Record<string, number[]>, loss: (v: ReadonlyMap<string, tf.Variable>) => tf.Scalar, steps: number): number {
  const variables = makeVariables(start);
  const optimizer: Optimizer = createOptimizer(optimizers, config, context);
  const list = [...variables.values()];
  for (let step = 0; step < steps; step++) {
    const { value, grads } = tf.variableGrads(() => loss(variables), list);
    optimizer.apply(new Map([...variables].map(([name, v]) => [name, grads[v.name]!])), variables, step);
    tf.dispose([value, ...Object.values(grads)]);
  }
  const final = tf.tidy(() => loss(variables).dataSync()[0]!);
  optimizer.dispose();
  disposeAll(variables);
  return final;
}

/** f(w) = Σ (w − target)², started at w = 0 (f = 14 there). */
function minimizeQuadratic(config: OptimizerConfig, steps: number): number {
  return minimize(config, { w: [0, 0, 0] }, (v) => tf.tidy(() => tf.sum(tf.square(tf.sub(v.get('w')!, tf.tensor1d([1, -2, 3]))))), steps);
}

function rosenbrock(x: number, y: number): number {
  return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
}

/** Rosenbrock's valley f = (1 − x)² + 100·(y − x²)², x and y as two variables. */
function minimizeRosenbrock(config: OptimizerConfig, steps: number): number {
  return minimize(config, { x: [-1.5], y: [2] }, (v) =>
    tf.tidy(() => {
      const x = v.get('x')!;
      const y = v.get('y')!;
      return tf.sum(tf.add(tf.square(tf.sub(1, x)), tf.mul(100, tf.square(tf.sub(y, tf.square(x)))))) as tf.Scalar;
    }),
  steps);
}
