/**
 * Run as its own process by wasm-threads.test.ts: the wasm build is chosen once per process, so
 * the multi-threaded one cannot start inside a test process that already runs the single-threaded
 * one. Prints one JSON line: the thread count, the parity model's losses twice, and tensor counts.
 */
import * as tf from '@tensorflow/tfjs';
import { activateBackend } from './index';
import { trainLosses } from './parity-model';

async function main(): Promise<void> {
  const threads = Number(process.argv[2] ?? '2');
  const active = await activateBackend('wasm', { log: () => undefined, wasmThreads: threads });
  const tensorsBefore = tf.memory().numTensors;
  const first = await trainLosses('wasm');
  const second = await trainLosses('wasm');
  console.log(JSON.stringify({ device: active.device ?? '', first, second, leaked: tf.memory().numTensors - tensorsBefore }));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
