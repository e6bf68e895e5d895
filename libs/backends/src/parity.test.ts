/**
 * The same tiny model, trained with the same seed on each backend: the losses must agree, and on
 * cpu and wasm two runs must agree to the bit (single-threaded kernels have a fixed summation order).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { activateBackend } from './index';
import { trainParityModel } from './parity-model';

/** Whether this machine has any WebGPU adapter (a software one counts: the backend is named here). */
async function webgpuUnavailableReason(): Promise<string | undefined> {
  try {
    await activateBackend('webgpu', { log: () => undefined });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await tf.setBackend('cpu');
  }
}

await activateBackend('wasm', { log: () => undefined });
// CI installs a Vulkan driver first (.ci/install-webgpu.sh) and sets DLEXP_REQUIRE_WEBGPU=1 so a
// broken install fails here instead of quietly skipping. Looking for the adapter also registers
// the backend, so it is always done; only the decision to skip depends on the variable.
const webgpuProblem = await webgpuUnavailableReason();
const noWebgpu = process.env['DLEXP_REQUIRE_WEBGPU'] === '1' ? undefined : webgpuProblem;
if (noWebgpu !== undefined) {
  // Said once, plainly, so a skipped WebGPU run is never mistaken for a passing one.
  console.warn(`webgpu parity tests skipped: ${noWebgpu}`);
}

let tensorsBefore = 0;
let cpuLosses: number[] = [];

beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});

afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

function expectSameLosses(actual: number[], expected: number[], relative: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((loss, i) => expect(Math.abs(loss - expected[i]!)).toBeLessThanOrEqual(relative * Math.abs(expected[i]!)));
}

describe('training parity across backends', () => {
  it('cpu: the loss falls, and a second run repeats it bit for bit', async () => {
    cpuLosses = await trainParityModel('cpu');
    expect(cpuLosses.at(-1)!).toBeLessThan(cpuLosses[0]!);
    expect(await trainParityModel('cpu')).toEqual(cpuLosses);
  });

  it('wasm: the same losses as cpu, and bit-for-bit repeatable', async () => {
    const first = await trainParityModel('wasm');
    expectSameLosses(first, cpuLosses, 1e-4);
    expect(await trainParityModel('wasm')).toEqual(first);
  });

  it.skipIf(noWebgpu !== undefined)(`webgpu: the same losses as cpu${noWebgpu === undefined ? '' : ` (skipped: ${noWebgpu})`}`, async () => {
    // Under DLEXP_REQUIRE_WEBGPU=1 a missing adapter fails here, with the reason.
    expect(webgpuProblem).toBeUndefined();
    const losses = await trainParityModel('webgpu');
    expectSameLosses(losses, cpuLosses, 1e-3);
  });
});
