import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { trainParityModel } from '@dlexp/backends';

describe('multi-threaded wasm build in Node', () => {
  it('starts with two XNNPACK threads (one per core, up to two) and trains the parity model like cpu, repeatably', async () => {
    const script = fileURLToPath(new URL('./fixtures/wasm-threads-child.ts', import.meta.url));
    // A fresh process: the build is fixed at the first wasm initialisation of a process.
    const child = spawnSync(process.execPath, ['--import', 'tsx', script, '2'], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr.split('\n').filter((l) => /error/i.test(l))).toEqual([]);
    expect(child.status).toBe(0);
    const line = child.stdout.trim().split('\n').at(-1)!;
    const result = JSON.parse(line) as { device: string; first: number[]; second: number[]; leaked: number };
    // The pool never exceeds the cores, so a one-core machine gets one thread.
    expect(result.device).toContain(`${Math.min(2, os.cpus().length)} thread`);
    expect(result.leaked).toBe(0);
    // Each thread computes a fixed part of the output, so the sums keep their order.
    expect(result.second).toEqual(result.first);

    await tf.setBackend('cpu');
    const tensorsBefore = tf.memory().numTensors;
    const onCpu = await trainParityModel('cpu');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    result.first.forEach((loss, i) => expect(Math.abs(loss - onCpu[i]!)).toBeLessThanOrEqual(1e-4 * Math.abs(onCpu[i]!)));
  });
});
