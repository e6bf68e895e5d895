import * as tf from '@tensorflow/tfjs';
import { Registry } from '@dlexp/core';

/** How an op computes its output from its input tensors. */
export interface OpDefinition {
  /** Number of tensor inputs; `variadic` takes one or more. */
  arity: number | 'variadic';
  apply(inputs: tf.Tensor[]): tf.Tensor;
}

export type OpRegistry = Registry<void, OpDefinition>;

const unary = (name: string, description: string, fn: (x: tf.Tensor) => tf.Tensor) => ({
  name,
  description,
  params: {},
  create: (): OpDefinition => ({ arity: 1, apply: ([x]) => fn(x!) }),
});

const binary = (name: string, description: string, fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => ({
  name,
  description,
  params: {},
  create: (): OpDefinition => ({ arity: 2, apply: ([a, b]) => fn(a!, b!) }),
});

/**
 * The ops a graph can hold, by the name used in the TypeScript API and in YAML expressions
 * (`reduceMean(square(y - prediction))`).
 */
export function createOpRegistry(): OpRegistry {
  const registry: OpRegistry = new Registry('op', 'ops');
  const entries = [
    binary('add', 'Elementwise a + b (broadcasting).', tf.add),
    binary('subtract', 'Elementwise a - b (broadcasting).', tf.sub),
    binary('multiply', 'Elementwise a * b (broadcasting).', tf.mul),
    binary('divide', 'Elementwise a / b (broadcasting).', tf.div),
    binary('pow', 'Elementwise a raised to b.', tf.pow),
    binary('maximum', 'Elementwise maximum.', tf.maximum),
    binary('minimum', 'Elementwise minimum.', tf.minimum),
    binary('matmul', 'Matrix product of two rank-2 tensors.', (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)),
    unary('negate', 'Elementwise -x.', tf.neg),
    unary('square', 'Elementwise x².', tf.square),
    unary('sqrt', 'Elementwise square root.', tf.sqrt),
    unary('abs', 'Elementwise absolute value.', tf.abs),
    unary('exp', 'Elementwise e^x.', tf.exp),
    unary('log', 'Elementwise natural logarithm.', tf.log),
    unary('tanh', 'Hyperbolic tangent.', tf.tanh),
    unary('sigmoid', 'Logistic sigmoid 1 / (1 + e^-x).', tf.sigmoid),
    unary('relu', 'max(x, 0).', tf.relu),
    unary('softmax', 'Softmax over the last axis.', (x) => tf.softmax(x)),
    unary('reduceMean', 'Mean of all elements.', (x) => tf.mean(x)),
    unary('reduceSum', 'Sum of all elements.', (x) => tf.sum(x)),
    unary('reduceMax', 'Largest element.', (x) => tf.max(x)),
    unary('identity', 'The input unchanged.', (x) => tf.clone(x)),
  ];
  for (const entry of entries) registry.register(entry);
  return registry;
}
