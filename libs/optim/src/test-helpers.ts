import * as tf from '@tensorflow/tfjs';
import type { Optimizer } from './optimizer';

/** Test helpers (not exported from the library): variables and gradients from plain numbers. */

export function makeVariables(values: Record<string, number[]>): Map<string, tf.Variable> {
  return new Map(Object.entries(values).map(([name, v]) => [name, tf.tidy(() => tf.variable(tf.tensor1d(v)))]));
}

/** One optimizer step with the given gradients (only those variables get one). */
export function stepWith(optimizer: Optimizer, variables: ReadonlyMap<string, tf.Variable>, grads: Record<string, number[]>, step: number): void {
  const tensors = new Map(Object.entries(grads).map(([name, g]) => [name, tf.tensor1d(g)]));
  optimizer.apply(tensors, variables, step);
  tf.dispose([...tensors.values()]);
}

/** One step on f = Σ_i scale_i · (w_i − target_i)² per variable: deterministic gradients that follow the weights. */
export function stepOnQuadratic(optimizer: Optimizer, variables: ReadonlyMap<string, tf.Variable>, step: number): void {
  const grads = new Map(
    [...variables].map(([name, w]) => [name, tf.tidy(() => tf.mul(tf.sub(w, tf.linspace(-1, 2, w.size)), tf.linspace(0.5, 3, w.size)))]),
  );
  optimizer.apply(grads, variables, step);
  tf.dispose([...grads.values()]);
}

export function valuesOf(variables: ReadonlyMap<string, tf.Tensor>): Record<string, number[]> {
  return Object.fromEntries([...variables].map(([name, v]) => [name, Array.from(v.dataSync())]));
}

export function disposeAll(variables: ReadonlyMap<string, tf.Tensor>): void {
  tf.dispose([...variables.values()]);
}
