import * as tf from '@tensorflow/tfjs';
import type { Optimizer } from '@dlexp/optim';

/**
 * One optimizer step in which some variables move by a fraction (or a multiple) of the update the
 * optimizer computes for them: per-layer learning-rate multipliers. Scaling the update rather
 * than the gradient keeps the factor meaningful for adaptive optimizers (Adam divides a scaled
 * gradient's scale away). The optimizer's state is the same as without the factors.
 */
export function applyScaledUpdate(
  optimizer: Optimizer,
  grads: ReadonlyMap<string, tf.Tensor>,
  variables: ReadonlyMap<string, tf.Variable>,
  step: number,
  scales: ReadonlyMap<string, number>,
): void {
  const scaled = [...grads.keys()].filter((name) => (scales.get(name) ?? 1) !== 1 && variables.has(name));
  if (scaled.length === 0) {
    optimizer.apply(grads, variables, step);
    return;
  }
  const before = new Map(scaled.map((name) => [name, tf.clone(variables.get(name)!)]));
  try {
    optimizer.apply(grads, variables, step);
    tf.tidy(() => {
      for (const [name, previous] of before) {
        const variable = variables.get(name)!;
        // previous + scale · (updated − previous)
        variable.assign(tf.add(previous, tf.mul(tf.sub(variable, previous), scales.get(name)!)));
      }
    });
  } finally {
    tf.dispose([...before.values()]);
  }
}
