import * as tf from '@tensorflow/tfjs';
import { Registry } from '@dlexp/core';

/** How an op computes its output from its input tensors. */
export interface OpDefinition {
  /** Number of tensor inputs; `variadic` takes one or more. */
  arity: number | 'variadic';
  /** The TensorFlow op it corresponds to, for GraphDef export. */
  tfOp: string;
  apply(inputs: tf.Tensor[]): tf.Tensor;
}

export type OpRegistry = Registry<void, OpDefinition>;

const unary = (name: string, tfOp: string, description: string, fn: (x: tf.Tensor) => tf.Tensor) => ({
  name,
  description,
  params: {},
  create: (): OpDefinition => ({ arity: 1, tfOp, apply: ([x]) => fn(x!) }),
});

const binary = (name: string, tfOp: string, description: string, fn: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => ({
  name,
  description,
  params: {},
  create: (): OpDefinition => ({ arity: 2, tfOp, apply: ([a, b]) => fn(a!, b!) }),
});

/**
 * The ops a graph can hold, by the name used in the TypeScript API and in YAML expressions
 * (`reduceMean(square(y - prediction))`).
 */
export function createOpRegistry(): OpRegistry {
  const registry: OpRegistry = new Registry('op', 'ops');
  const entries = [
    binary('add', 'AddV2', 'Elementwise a + b (broadcasting).', tf.add),
    binary('subtract', 'Sub', 'Elementwise a - b (broadcasting).', tf.sub),
    binary('multiply', 'Mul', 'Elementwise a * b (broadcasting).', tf.mul),
    binary('divide', 'RealDiv', 'Elementwise a / b (broadcasting).', tf.div),
    binary('pow', 'Pow', 'Elementwise a raised to b.', tf.pow),
    binary('maximum', 'Maximum', 'Elementwise maximum.', tf.maximum),
    binary('minimum', 'Minimum', 'Elementwise minimum.', tf.minimum),
    binary('matmul', 'MatMul', 'Matrix product of two rank-2 tensors.', (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)),
    unary('negate', 'Neg', 'Elementwise -x.', tf.neg),
    unary('square', 'Square', 'Elementwise x².', tf.square),
    unary('sqrt', 'Sqrt', 'Elementwise square root.', tf.sqrt),
    unary('abs', 'Abs', 'Elementwise absolute value.', tf.abs),
    unary('exp', 'Exp', 'Elementwise e^x.', tf.exp),
    unary('log', 'Log', 'Elementwise natural logarithm.', tf.log),
    unary('tanh', 'Tanh', 'Hyperbolic tangent.', tf.tanh),
    unary('sigmoid', 'Sigmoid', 'Logistic sigmoid 1 / (1 + e^-x).', tf.sigmoid),
    unary('relu', 'Relu', 'max(x, 0).', tf.relu),
    unary('softmax', 'Softmax', 'Softmax over the last axis.', (x) => tf.softmax(x)),
    unary('reduceMean', 'Mean', 'Mean of all elements.', (x) => tf.mean(x)),
    unary('reduceSum', 'Sum', 'Sum of all elements.', (x) => tf.sum(x)),
    unary('reduceMax', 'Max', 'Largest element.', (x) => tf.max(x)),
    unary('identity', 'Identity', 'The input unchanged.', (x) => tf.clone(x)),
  ];
  for (const entry of entries) registry.register(entry);
  return registry;
}
