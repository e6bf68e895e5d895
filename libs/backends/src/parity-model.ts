/**
 * The tiny model the parity tests train on every backend (also run in a child process by the
 * multi-threaded wasm test), built from seeded JS randomness so each backend sees the same numbers.
 */
import * as tf from '@tensorflow/tfjs';

const STEPS = 6;

/** A conv net small enough for a software GPU: conv 3x3x4 same + relu, max pool 2, conv 3x3x8 stride 2 same + relu, dense 4, softmax cross-entropy, Adam. */
export async function trainParityModel(backend: string): Promise<number[]> {
  await tf.setBackend(backend);
  const x = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 1);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 3, 2, 1, 0], 'int32'), 4));
  // tf.variable keeps its initial value's data alive, so the initial tensor itself can go.
  const variable = <R extends tf.Rank>(name: string, init: tf.Tensor<R>): tf.Variable<R> => {
    const v = tf.variable(init, true, name);
    init.dispose();
    return v;
  };
  const w = {
    conv1: variable('conv1', tf.randomNormal<tf.Rank.R4>([3, 3, 1, 4], 0, 0.5, 'float32', 2)),
    conv2: variable('conv2', tf.randomNormal<tf.Rank.R4>([3, 3, 4, 8], 0, 0.3, 'float32', 3)),
    dense: variable('dense', tf.randomNormal([32, 4], 0, 0.2, 'float32', 4)),
    bias: variable('bias', tf.zeros([4])),
  };
  const optimizer = tf.train.adam(0.02);
  const loss = () =>
    tf.tidy(() => {
      const h1 = tf.maxPool(tf.relu(tf.conv2d(x as tf.Tensor4D, w.conv1, 1, 'same')), 2, 2, 'valid');
      const h2 = tf.relu(tf.conv2d(h1, w.conv2, 2, 'same'));
      const logits = tf.fused.matMul({ a: tf.reshape(h2, [8, 32]), b: w.dense, bias: w.bias });
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const { value, grads } = tf.variableGrads(loss);
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    losses.push((await value.data())[0]!);
    tf.dispose([value, grads]);
  }
  optimizer.dispose();
  tf.dispose([x, labels, ...Object.values(w)]);
  return losses;
}

