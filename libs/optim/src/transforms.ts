import * as tf from '@tensorflow/tfjs';
import { EXTRA_KERNELS } from '@dlexp/core';

/**
 * Optimizers are chains of small gradient transforms (as in optax): each takes the gradients of
 * the variables being updated and returns transformed ones, keeping its own per-variable state
 * ("slots") in tf.Variables so a checkpoint can save and restore it. The last transform of a chain
 * turns the gradients into the update added to the variables.
 *
 * A step may carry gradients for only some variables (alternating multi-task training updates the
 * trunk and one head): a transform touches the slots of exactly the variables in `grads`, so the
 * state of the others stays as it was.
 */
export interface GradientTransform {
  /** Names this transform's slots in checkpoints (`<variable>/<name>/<slot>`): unique in a chain. */
  readonly name: string;
  /** Creates the slots for these variables (idempotent). */
  init(variables: ReadonlyMap<string, tf.Variable>): void;
  /** Transforms gradients; runs inside a tf.tidy owned by the caller. `step` is the 0-based global step. */
  update(grads: Map<string, tf.Tensor>, variables: ReadonlyMap<string, tf.Variable>, step: number): Map<string, tf.Tensor>;
  /** Every slot created so far. */
  slots(): SlotEntry[];
  dispose(): void;
}

/** One piece of per-variable optimizer state. */
export interface SlotEntry {
  variable: string;
  slot: string;
  value: tf.Variable;
}

/**
 * The slot counting a variable's own updates. Bias corrections (Adam, Adamax) use it rather than
 * the global step, so a variable updated on every other step is corrected for the updates it had.
 */
export const UPDATE_COUNT_SLOT = 'count';

/** Per-variable state slots, created lazily: the update count as a scalar, the others with the variable's shape. */
class Slots {
  private readonly values = new Map<string, SlotEntry>();
  constructor(
    private readonly names: readonly string[],
    private readonly initial: number,
  ) {}
  init(variables: ReadonlyMap<string, tf.Variable>): void {
    for (const [variable, value] of variables) {
      for (const slot of this.names) {
        const key = `${variable}/${slot}`;
        if (this.values.has(key)) continue;
        const shape = slot === UPDATE_COUNT_SLOT ? [] : value.shape;
        const start = slot === UPDATE_COUNT_SLOT ? 0 : this.initial;
        // tidy frees the filled tensor; the variable keeps its own reference to the data.
        const created = tf.tidy(() => tf.variable(tf.fill(shape, start), false));
        if (slot === UPDATE_COUNT_SLOT) rememberCount(created, start);
        this.values.set(key, { variable, slot, value: created });
      }
    }
  }
  get(variable: string, slot: string): tf.Variable {
    const entry = this.values.get(`${variable}/${slot}`);
    if (entry === undefined) throw new Error(`no slot '${slot}' for variable '${variable}'; init() was not called with it`);
    return entry.value;
  }
  all(): SlotEntry[] {
    return [...this.values.values()];
  }
  dispose(): void {
    for (const entry of this.values.values()) entry.value.dispose();
    this.values.clear();
  }
}

function stateless(name: string, fn: (g: tf.Tensor, variable: tf.Variable, step: number) => tf.Tensor): GradientTransform {
  return {
    name,
    init: () => undefined,
    update: (grads, variables, step) => new Map([...grads].map(([n, g]) => [n, fn(g, variables.get(n)!, step)])),
    slots: () => [],
    dispose: () => undefined,
  };
}

function withSlots(
  name: string,
  slotNames: readonly string[],
  fn: (g: tf.Tensor, slot: (s: string) => tf.Variable) => tf.Tensor,
  initial = 0,
): GradientTransform {
  const slots = new Slots(slotNames, initial);
  return {
    name,
    init: (variables) => slots.init(variables),
    update: (grads) => new Map([...grads].map(([n, g]) => [n, fn(g, (s) => slots.get(n, s))])),
    slots: () => slots.all(),
    dispose: () => slots.dispose(),
  };
}

/**
 * The value last written to each update-count slot, so a step knows its counts without reading the
 * device (a read is a sync on CUDA and WebGPU) and the bias corrections are plain numbers rather
 * than a handful of scalar kernels per variable. A slot whose data changed behind our back (a
 * restored checkpoint assigned it) is read once.
 */
const writtenCounts = new WeakMap<tf.Variable, { dataId: object; count: number }>();

function rememberCount(count: tf.Variable, value: number): void {
  writtenCounts.set(count, { dataId: count.dataId, count: value });
}

/** Increments a variable's update count and returns t, the 1-based number of this update. */
function countUpdate(count: tf.Variable): number {
  const written = writtenCounts.get(count);
  const previous = written !== undefined && written.dataId === count.dataId ? written.count : count.dataSync()[0]!;
  const t = previous + 1;
  count.assign(tf.scalar(t, count.dtype));
  rememberCount(count, t);
  return t;
}

/** 1 − β^t, the bias correction of a moving average started at zero. */
function biasCorrection(beta: number, t: number): number {
  return 1 - beta ** t;
}

/** update = -learningRate(step) · g */
export function scaleByLearningRate(learningRate: (step: number) => number): GradientTransform {
  return stateless('scaleByLearningRate', (g, _v, step) => tf.mul(g, -learningRate(step)));
}

/** Heavy-ball momentum v ← βv + g; with nesterov the update looks ahead: g + βv (Sutskever et al. 2013, as TensorFlow writes it). */
export function trace(decay: number, nesterov: boolean): GradientTransform {
  return withSlots('trace', ['momentum'], (g, slot) => {
    const v = slot('momentum');
    const next = tf.add(tf.mul(v, decay), g);
    v.assign(next);
    return nesterov ? tf.add(g, tf.mul(next, decay)) : next;
  });
}

/** Adagrad (Duchi et al. 2011): g / (sqrt(Σg²) + ε), the sum started at `initialAccumulator`. */
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

/** RMSprop (Hinton's lecture 6e, TensorFlow's form): g / sqrt(E[g²] + ε), E[g²] a moving average with `decay`. */
export function scaleByRms(decay: number, epsilon: number): GradientTransform {
  return withSlots('scaleByRms', ['meanSquare'], (g, slot) => {
    const ms = slot('meanSquare');
    const next = tf.add(tf.mul(ms, decay), tf.mul(tf.square(g), 1 - decay));
    ms.assign(next);
    return tf.div(g, tf.sqrt(tf.add(next, epsilon)));
  });
}

/** Adadelta (Zeiler 2012): update = sqrt(E[Δ²] + ε) / sqrt(E[g²] + ε) · g, both averages with `rho`. */
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

/** Adam (Kingma & Ba 2015, Algorithm 1): bias-corrected moments m̂ / (sqrt(v̂) + ε). */
export function scaleByAdam(beta1: number, beta2: number, epsilon: number): GradientTransform {
  return withSlots('scaleByAdam', ['m', 'v', UPDATE_COUNT_SLOT], (g, slot) => {
    const m = slot('m');
    const v = slot('v');
    const t = countUpdate(slot(UPDATE_COUNT_SLOT));
    // m̂ / (sqrt(v̂) + ε) with m̂ = m / c1 and v̂ = v / c2 equals m · (sqrt(c2) / c1) / (sqrt(v) + ε · sqrt(c2)):
    // the bias corrections stay numbers, and the moment tensors see one multiplication, not three.
    const sqrtC2 = Math.sqrt(biasCorrection(beta2, t));
    const scale = sqrtC2 / biasCorrection(beta1, t);
    const scaledEpsilon = epsilon * sqrtC2;
    if (g.dtype === 'float32' && tf.getKernel(EXTRA_KERNELS.adam, tf.getBackend()) !== undefined) {
      // The same operations in one pass, where the backend has the kernel (native).
      const [nextM, nextV, update] = tf.engine().runKernel(EXTRA_KERNELS.adam, { gradient: g, m, v }, { beta1, beta2, scale, epsilon: scaledEpsilon }) as tf.Tensor[];
      m.assign(nextM!);
      v.assign(nextV!);
      return update!;
    }
    const nextM = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const nextV = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    m.assign(nextM);
    v.assign(nextV);
    return tf.div(tf.mul(nextM, scale), tf.add(tf.sqrt(nextV), scaledEpsilon));
  });
}

/**
 * Adamax (Kingma & Ba 2015, section 7.1): Adam with the infinity norm, u ← max(β2·u, |g|),
 * update m / ((1 − β1^t)·(u + ε)). The ε (not in the paper) keeps a weight whose gradients were all 0 finite.
 */
export function scaleByAdamax(beta1: number, beta2: number, epsilon: number): GradientTransform {
  return withSlots('scaleByAdamax', ['m', 'u', UPDATE_COUNT_SLOT], (g, slot) => {
    const m = slot('m');
    const u = slot('u');
    const nextM = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const nextU = tf.maximum(tf.mul(u, beta2), tf.abs(g));
    m.assign(nextM);
    u.assign(nextU);
    const t = countUpdate(slot(UPDATE_COUNT_SLOT));
    return tf.div(nextM, tf.mul(tf.add(nextU, epsilon), biasCorrection(beta1, t)));
  });
}

/**
 * Lion (Chen et al. 2023, Algorithm 2): the sign of an interpolation of momentum and gradient,
 * sign(β1·m + (1 − β1)·g); the momentum itself is then tracked with β2.
 */
export function scaleByLion(beta1: number, beta2: number): GradientTransform {
  return withSlots('scaleByLion', ['m'], (g, slot) => {
    const m = slot('m');
    const direction = tf.sign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
    m.assign(tf.add(tf.mul(m, beta2), tf.mul(g, 1 - beta2)));
    return direction;
  });
}

/**
 * Decoupled weight decay (AdamW, Lion): adds rate · w to the direction before the learning rate
 * scales it, so the decay is not divided by adaptive denominators.
 */
export function addDecayedWeights(rate: number): GradientTransform {
  return stateless('addDecayedWeights', (g, variable) => (rate === 0 ? g : tf.add(g, tf.mul(variable, rate))));
}

/** Scales the gradients of a step together so their global L2 norm is at most maxNorm. */
export function clipByGlobalNorm(maxNorm: number): GradientTransform {
  return {
    name: 'clipByGlobalNorm',
    init: () => undefined,
    update: (grads) => {
      if (grads.size === 0) return grads;
      const norm = tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))));
      const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
      return new Map([...grads].map(([n, g]) => [n, tf.mul(g, scale)]));
    },
    slots: () => [],
    dispose: () => undefined,
  };
}

/** Clips every gradient element into [-maxValue, maxValue]. */
export function clipByValue(maxValue: number): GradientTransform {
  return stateless('clipByValue', (g) => tf.clipByValue(g, -maxValue, maxValue));
}
