import * as tf from '@tensorflow/tfjs';

/**
 * Optimizers are chains of small gradient transforms (as in optax): each takes the gradients of
 * all variables and returns transformed ones, keeping its own per-variable state ("slots") in
 * tf.Variables so a checkpoint can save and restore it. The last transform of a chain turns the
 * gradients into the update added to the variables.
 */
export interface GradientTransform {
  readonly name: string;
  /** Creates the slots for these variables (idempotent). */
  init(variables: ReadonlyMap<string, tf.Variable>): void;
  /** Transforms gradients; runs inside a tf.tidy owned by the caller. `step` is 0-based. */
  update(grads: Map<string, tf.Tensor>, variables: ReadonlyMap<string, tf.Variable>, step: number): Map<string, tf.Tensor>;
  /** Slot values by `<variable>/<slot>` for checkpoints. */
  slots(): Map<string, tf.Variable>;
  dispose(): void;
}

/** Per-variable state slots, created lazily with the variable's shape. */
class Slots {
  private readonly values = new Map<string, tf.Variable>();
  constructor(
    private readonly names: string[],
    private readonly initial = 0,
  ) {}
  init(variables: ReadonlyMap<string, tf.Variable>): void {
    for (const [name, variable] of variables) {
      for (const slot of this.names) {
        const key = `${name}/${slot}`;
        if (!this.values.has(key)) {
          // tidy frees the filled tensor; the variable keeps its own reference to the data.
          this.values.set(key, tf.tidy(() => tf.variable(tf.fill(variable.shape, this.initial), false)));
        }
      }
    }
  }
  get(variable: string, slot: string): tf.Variable {
    const value = this.values.get(`${variable}/${slot}`);
    if (value === undefined) throw new Error(`no slot '${slot}' for variable '${variable}'; init() was not called with it`);
    return value;
  }
  all(): Map<string, tf.Variable> {
    return this.values;
  }
  dispose(): void {
    for (const v of this.values.values()) v.dispose();
    this.values.clear();
  }
}

function stateless(name: string, fn: (g: tf.Tensor, variable: tf.Variable, step: number) => tf.Tensor): GradientTransform {
  return {
    name,
    init: () => undefined,
    update: (grads, variables, step) => new Map([...grads].map(([n, g]) => [n, fn(g, variables.get(n)!, step)])),
    slots: () => new Map(),
    dispose: () => undefined,
  };
}

function withSlots(
  name: string,
  slotNames: string[],
  fn: (g: tf.Tensor, slot: (s: string) => tf.Variable, step: number, variable: tf.Variable) => tf.Tensor,
  initial = 0,
): GradientTransform {
  const slots = new Slots(slotNames, initial);
  return {
    name,
    init: (variables) => slots.init(variables),
    update: (grads, variables, step) =>
      new Map([...grads].map(([n, g]) => [n, fn(g, (s) => slots.get(n, s), step, variables.get(n)!)])),
    slots: () => slots.all(),
    dispose: () => slots.dispose(),
  };
}

/** update = -learningRate(step) · g */
export function scaleByLearningRate(learningRate: (step: number) => number): GradientTransform {
  return stateless('scaleByLearningRate', (g, _v, step) => tf.mul(g, -learningRate(step)));
}

/** Heavy-ball momentum v ← βv + g; with nesterov the update looks ahead: g + βv. */
export function trace(decay: number, nesterov: boolean): GradientTransform {
  return withSlots('trace', ['momentum'], (g, slot) => {
    const v = slot('momentum');
    const next = tf.add(tf.mul(v, decay), g);
    v.assign(next);
    return nesterov ? tf.add(g, tf.mul(next, decay)) : next;
  });
}

/** Adagrad: g / sqrt(Σg² + ε). */
export function scaleByAdagrad(initialAccumulator: number, epsilon: number): GradientTransform {
  return withSlots(
    'scaleByAdagrad',
    ['accumulator'],
    (g, slot) => {
      const acc = slot('accumulator');
      const next = tf.add(acc, tf.square(g));
      acc.assign(next);
      return tf.div(g, tf.add(tf.sqrt(next), epsilon));
    },
    initialAccumulator,
  );
}

/** RMSprop: g / sqrt(E[g²] + ε), E[g²] a moving average with `decay`. */
export function scaleByRms(decay: number, epsilon: number): GradientTransform {
  return withSlots('scaleByRms', ['meanSquare'], (g, slot) => {
    const ms = slot('meanSquare');
    const next = tf.add(tf.mul(ms, decay), tf.mul(tf.square(g), 1 - decay));
    ms.assign(next);
    return tf.div(g, tf.sqrt(tf.add(next, epsilon)));
  });
}

/** Adadelta: update = sqrt(E[Δ²] + ε) / sqrt(E[g²] + ε) · g, both averages with `rho`. */
export function scaleByAdadelta(rho: number, epsilon: number): GradientTransform {
  return withSlots('scaleByAdadelta', ['accumulatedGrad', 'accumulatedUpdate'], (g, slot) => {
    const accGrad = slot('accumulatedGrad');
    const accUpdate = slot('accumulatedUpdate');
    const nextGrad = tf.add(tf.mul(accGrad, rho), tf.mul(tf.square(g), 1 - rho));
    const update = tf.mul(tf.div(tf.sqrt(tf.add(accUpdate, epsilon)), tf.sqrt(tf.add(nextGrad, epsilon))), g);
    accGrad.assign(nextGrad);
    accUpdate.assign(tf.add(tf.mul(accUpdate, rho), tf.mul(tf.square(update), 1 - rho)));
    return update;
  });
}

/** Adam's bias-corrected first and second moments: m̂ / (sqrt(v̂) + ε). */
export function scaleByAdam(beta1: number, beta2: number, epsilon: number): GradientTransform {
  return withSlots('scaleByAdam', ['m', 'v'], (g, slot, step) => {
    const m = slot('m');
    const v = slot('v');
    const nextM = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    m.assign(nextM);
    v.assign(nextV);
    // The bias corrections are scalars: fold them into two multiplications instead of dividing
    // both moment tensors (m̂ = m / (1 - β1^t), sqrt(v̂) = sqrt(v) / sqrt(1 - β2^t)).
    const t = step + 1;
    const mScale = 1 / (1 - Math.pow(beta1, t));
    const vScale = 1 / Math.sqrt(1 - Math.pow(beta2, t));
    return tf.div(tf.mul(nextM, mScale), tf.add(tf.mul(tf.sqrt(nextV), vScale), epsilon));
  });
}

/** Decoupled weight decay (AdamW): adds rate · w to the direction before the learning rate scales it. */
export function addDecayedWeights(rate: number): GradientTransform {
  return stateless('addDecayedWeights', (g, variable) => (rate === 0 ? g : tf.add(g, tf.mul(variable, rate))));
}

/** Scales all gradients together so their global L2 norm is at most maxNorm. */
export function clipByGlobalNorm(maxNorm: number): GradientTransform {
  return {
    name: 'clipByGlobalNorm',
    init: () => undefined,
    update: (grads) => {
      const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))));
      const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
      return new Map([...grads].map(([n, g]) => [n, tf.mul(g, scale)]));
    },
    slots: () => new Map(),
    dispose: () => undefined,
  };
}

/** Clips every gradient element into [-maxValue, maxValue]. */
export function clipByValue(maxValue: number): GradientTransform {
  return stateless('clipByValue', (g) => tf.clipByValue(g, -maxValue, maxValue));
}
