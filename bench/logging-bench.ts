/**
 * What logging costs: the engine's train loop on the course CNN with no sinks, and with the sinks
 * every CLI run has (TensorBoard: scalars every logged row, the per-variable summaries of every
 * weight and every gradient's histogram at each epoch end), interleaved in rounds so machine noise
 * hits both alike. The epochs here are short (20 steps of 100), so histograms come 30 times more
 * often than in the real MNIST run (600 steps per epoch): an upper bound on their share. The plots
 * drawn once at the end of a run are timed separately.
 *
 *   npx tsx bench/logging-bench.ts [--backend wasm] [--rounds 4] [--steps 20]
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { activateBackend } from '@dlexp/backends';
import { normalize } from '@dlexp/config';
import { createColumn, inMemorySplit, splitFeatures } from '@dlexp/data';
import { writeRunPlots } from '@dlexp/plots';
import { createTensorBoardSink } from '@dlexp/tensorboard';
import { buildOptimizer, catalogOf, combineSinks, createRegistries, createRunDirectorySink, RunDirectory, trainModel, type RunSink } from '@dlexp/train';
import { RUNNER_MODELS } from './train-models';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

async function main(): Promise<void> {
  const backend = option('backend', 'wasm');
  const rounds = Number(option('rounds', '4'));
  const stepsPerEpoch = Number(option('steps', '20'));
  const batch = 100;
  await activateBackend(backend, { log: () => undefined });
  const registries = createRegistries();
  const written = { name: 'logging-bench', data: { type: 'synthetic' }, model: RUNNER_MODELS['cnn']!, train: { optimizer: { type: 'adam', learningRate: 1e-3 }, epochs: 1, batchSize: batch } };
  const experiment = normalize(written, catalogOf(registries));
  const examples = batch * stepsPerEpoch;
  const x = tf.tidy(() => tf.randomUniform([examples * 784], 0, 1, 'float32', 1).dataSync() as Float32Array);
  const y = Int32Array.from({ length: examples }, (_, i) => (i * 7) % 10);
  const split = inMemorySplit({ x: createColumn(x, [examples, 28, 28, 1]), y: createColumn(y, [examples]) });
  const model = registries.models.get('sequential').create(experiment.model, { seed: 1, modelRegistries: registries.modelRegistries, features: splitFeatures(split), print: () => undefined });
  const optimizer = buildOptimizer(experiment.train, registries);
  const folder = mkdtempSync(path.join(os.tmpdir(), 'logging-bench-'));

  /** One epoch through the engine's loop with these sinks; the run directory as a real run has it. */
  const epoch = async (withLogging: boolean, round: number): Promise<number> => {
    const directory = RunDirectory.create({ out: path.join(folder, `${withLogging ? 'logged' : 'plain'}-${round}`), root: folder, name: 'bench', seed: 1 });
    const sinks: RunSink[] = [createRunDirectorySink(directory, { invocation: { file: 'bench', quick: false, set: [] }, argv: [] })];
    if (withLogging) sinks.push(createTensorBoardSink({}));
    const sink = combineSinks(sinks);
    await sink.start({ experiment: { file: 'logging-bench', source: { file: 'logging-bench' }, resolved: experiment } as never, configHash: '', runDirectory: directory.path, backend: { name: backend, tfBackend: backend, versions: {}, skipped: [] }, dataset: 'random', graphDef: model.graphDef(), firstStep: 0, loggedRows: 0, totalSteps: stepsPerEpoch, stepsPerEpoch });
    const started = performance.now();
    await trainModel({ model, optimizer, train: { ...experiment.train, epochs: 1 }, splits: { train: split }, seed: round, sink });
    const ms = performance.now() - started;
    await sink.end({ summary: { name: 'bench', status: 'completed', seed: 1, backend: { name: backend, tfBackend: backend }, metrics: {}, timing: {}, configHash: '', versions: {} }, files: new Map() });
    return ms;
  };

  await epoch(false, -1); // warm-up: kernels, XNNPACK packing, optimizer slots
  const totals = { plain: 0, logged: 0 };
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so a slow period of the machine falls on both alike.
    for (const logged of round % 2 === 0 ? [false, true] : [true, false]) totals[logged ? 'logged' : 'plain'] += await epoch(logged, round);
  }
  const eventFiles = readdirSync(path.join(folder, 'logged-0', 'tensorboard'));
  const eventBytes = statSync(path.join(folder, 'logged-0', 'tensorboard', eventFiles[0]!)).size;
  const plotsStarted = performance.now();
  await writeRunPlots(path.join(folder, 'logged-0'));
  const plotsMs = performance.now() - plotsStarted;
  const steps = rounds * stepsPerEpoch;
  console.log(`backend ${backend}, course CNN, batch ${batch}, ${rounds} rounds of one ${stepsPerEpoch}-step epoch each way, ${new Date().toISOString()}, load ${os.loadavg()[0]!.toFixed(1)}`);
  console.log(`no sinks:           ${(totals.plain / steps).toFixed(1)} ms/step`);
  console.log(`TensorBoard sink:   ${(totals.logged / steps).toFixed(1)} ms/step  (+${((totals.logged / totals.plain - 1) * 100).toFixed(2)} %, histograms every ${stepsPerEpoch} steps)`);
  console.log(`event file of one ${stepsPerEpoch}-step epoch: ${(eventBytes / 1024).toFixed(0)} KiB`);
  console.log(`plots at the end of a run: ${plotsMs.toFixed(0)} ms once`);
  optimizer.dispose();
  model.dispose();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
