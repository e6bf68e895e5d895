/**
 * Trains a small CNN on the native backend and prints its losses and a fingerprint of its final
 * weights as one JSON line: training.test.ts runs it in two processes to check that results
 * repeat run to run. Usage: node --import tsx train-fingerprint.ts <threads>
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { setUpNative, seeded } from './setup-native';

const threads = Number(process.argv[2] ?? '2');
await setUpNative(threads);
await tf.setBackend('native');
const model = tf.sequential();
model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
model.add(tf.layers.conv2d({ filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
model.add(tf.layers.flatten());
model.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
model.add(tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
const x = seeded([64, 28, 28, 1], 5);
const labels = new Float32Array(64 * 10);
for (let i = 0; i < 64; i++) labels[i * 10 + ((i * 7) % 10)] = 1;
const xs = tf.tensor4d(x.values, [64, 28, 28, 1]);
const ys = tf.tensor2d(labels, [64, 10]);
const optimizer = tf.train.adam(1e-3);
const losses: number[] = [];
for (let step = 0; step < 4; step++) {
  const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
  losses.push((await loss.data())[0]!);
  loss.dispose();
}
const hash = createHash('sha256');
for (const w of model.getWeights()) hash.update(new Uint8Array((await w.data() as Float32Array).buffer));
process.stdout.write(`${JSON.stringify({ losses, weights: hash.digest('hex') })}\n`);
