/**
 * For this library's tests: the wasm backend loaded from the installed package, then the native
 * backend registered over it. When the addon is not built the tests skip, saying why, unless
 * DLEXP_REQUIRE_NATIVE=1 (set by CI, which installs the build dependencies): then they fail.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerNativeBackend, type NativeBackendRegistration } from '../native-backend';
import { probeNativeAddon } from '../probe';

const required = process.env['DLEXP_REQUIRE_NATIVE'] === '1';
const probe = probeNativeAddon();

/** Why the native tests are skipped here; undefined when they run. */
export const nativeSkipReason: string | undefined = probe.available ? undefined : `${probe.reason} (fix: ${probe.fix})`;

if (!probe.available && required) {
  throw new Error(`DLEXP_REQUIRE_NATIVE=1 but the native addon is unavailable: ${probe.reason}. Fix: ${probe.fix}`);
}

let registration: Promise<NativeBackendRegistration> | undefined;

/** Loads wasm and registers native (once per test file); resolves to undefined when skipped. */
export async function setUpNative(threads = 2): Promise<NativeBackendRegistration | undefined> {
  if (nativeSkipReason !== undefined) return undefined;
  if (registration === undefined) {
    const wasmDir = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    if (tf.engine().registry['wasm'] === undefined) setWasmPaths(`${wasmDir}/`);
    registration = registerNativeBackend({ threads });
  }
  return registration;
}

/** Runs `body` with `backend` active and returns its tensors' values; restores the previous backend. */
export async function valuesOn(backend: string, body: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    const out = tf.tidy(body);
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(list);
    return values;
  } finally {
    await tf.setBackend(previous);
  }
}

/**
 * Largest element difference relative to the largest magnitude of `expected` (at least 1): the
 * measure for comparing sums computed in a different order.
 */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let scale = 1;
  for (const v of expected) if (!Number.isNaN(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
    if (!Number.isNaN(e)) worst = Math.max(worst, Math.abs(a - e));
  }
  return worst / scale;
}

/** Deterministic test data: standard normal values for `shape` from a seeded generator (no TF.js needed). */
export function seeded(shape: number[], seed: number): { values: Float32Array; shape: number[] } {
  let state = (seed * 0x9e3779b9) >>> 0;
  const uniform = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return { values, shape };
}
