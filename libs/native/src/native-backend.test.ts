/** Finding the addon, saying why it is missing, and registering the native backend. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@dlexp/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILD_COMMAND, BUILD_PACKAGES, loadAddonFrom } from './addon';
import { defaultThreads, NATIVE_BACKEND, NATIVE_KERNELS, nativeMemory, registerNativeBackend, releaseNativeMemory } from './native-backend';
import { probeNativeAddon } from './probe';
import { nativeSkipReason, setUpNative } from './testing/setup-native';

let scratch = '';
let tensorsBefore = 0;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'native-addon-'));
  await setUpNative();
});
afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await tf.setBackend('cpu');
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('when the addon cannot be used', () => {
  it('a missing addon is "not built", with the Debian packages and the build command as the fix', () => {
    const load = loadAddonFrom(path.join(scratch, 'absent.node'), path.join(scratch, 'no-log'));
    expect(load.ok).toBe(false);
    if (load.ok) return;
    expect(load.reason).toContain('not built');
    expect(load.reason).toContain('absent.node');
    expect(load.fix).toContain(`apt-get install -y ${BUILD_PACKAGES.join(' ')}`);
    expect(load.fix).toContain(BUILD_COMMAND);
  });

  it("quotes the install step's first build error", () => {
    const log = path.join(scratch, 'install-build.log');
    writeFileSync(log, 'gyp info it worked\n../addon/conv.cc:1:10: fatal error: dnnl.hpp: No such file or directory\nmore\n');
    const load = loadAddonFrom(path.join(scratch, 'absent.node'), log);
    expect(load.ok).toBe(false);
    if (!load.ok) expect(load.reason).toContain('fatal error: dnnl.hpp: No such file or directory');
  });

  it('a file that is not a loadable addon is reported as failing to load, with a rebuild as the fix', () => {
    const bogus = path.join(scratch, 'bogus.node');
    writeFileSync(bogus, 'not an ELF file');
    const load = loadAddonFrom(bogus, path.join(scratch, 'no-log'));
    expect(load.ok).toBe(false);
    if (load.ok) return;
    expect(load.reason).toMatch(/^the native addon failed to load: /);
    expect(load.fix).toContain(BUILD_COMMAND);
  });
});

describe.skipIf(nativeSkipReason !== undefined)('the native backend', () => {
  it('probes as available, with oneDNN, the instruction sets and the default thread count', () => {
    const probe = probeNativeAddon();
    expect(probe.available).toBe(true);
    if (!probe.available) return;
    expect(probe.versions['onednn']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(probe.versions['isa']).toBeTruthy();
    expect(['avx512', 'avx2', 'baseline']).toContain(probe.versions['loops']);
    expect(probe.threads).toBe(defaultThreads());
    expect(probe.device).toContain('oneDNN');
  });

  it('registers under its name with its kernels; registering again only updates the thread count', async () => {
    const first = await registerNativeBackend({ threads: 1 });
    const again = await registerNativeBackend({ threads: 2 });
    expect(first.backendName).toBe(NATIVE_BACKEND);
    expect(again.threads).toBe(2);
    expect(again.kernels).toEqual([...NATIVE_KERNELS]);
    for (const name of ['Conv2D', 'Conv2DBackpropFilter', 'BatchMatMul', '_FusedMatMul', 'MaxPoolGrad']) expect(again.kernels).toContain(name);
    // Every other kernel is the wasm backend's, registered as it is.
    for (const name of ['Transpose', 'Softmax', 'GatherV2']) expect(tf.getKernel(name, NATIVE_BACKEND)?.kernelFunc).toBe(tf.getKernel(name, 'wasm')?.kernelFunc);
    expect(again.inheritedKernels).toBeGreaterThan(100);
  });

  it.each([0, -1, 1.5, 2000, Number.NaN])('rejects %s threads as a config error', async (threads) => {
    await expect(registerNativeBackend({ threads })).rejects.toThrow(ConfigError);
  });

  it('keeps its tensors apart from the wasm backend it shares a module with', async () => {
    await tf.setBackend('wasm');
    const onWasm = Array.from({ length: 5 }, (_, i) => tf.fill([50, 50], i));
    await tf.setBackend(NATIVE_BACKEND);
    const onNative = Array.from({ length: 5 }, (_, i) => tf.fill([50, 50], 10 + i));
    const sums = onNative.map((t) => tf.tidy(() => tf.sum(tf.mul(t, 2))));
    tf.dispose(onWasm.slice(0, 3));
    expect(sums.map((s) => s.dataSync()[0])).toEqual([50000, 55000, 60000, 65000, 70000]);
    await tf.setBackend('wasm');
    expect(onWasm.slice(3).map((t) => tf.tidy(() => tf.sum(t).dataSync()[0]))).toEqual([7500, 10000]);
    tf.dispose([...onWasm.slice(3), ...onNative, ...sums]);
    await tf.setBackend(NATIVE_BACKEND);
  });

  it('reports and releases what it keeps between calls; the next call rebuilds it', async () => {
    await tf.setBackend(NATIVE_BACKEND);
    const conv = () => tf.tidy(() => tf.conv2d(tf.ones([2, 8, 8, 3]) as tf.Tensor4D, tf.ones([3, 3, 3, 4]) as tf.Tensor4D, 1, 'same').dataSync()[0]);
    const before = conv();
    expect(nativeMemory().convolutionPlans).toBeGreaterThan(0);
    expect(nativeMemory().convolutionImplementations.join(' ')).toMatch(/forward/);
    releaseNativeMemory();
    expect(nativeMemory()).toMatchObject({ convolutionPlans: 0, workspaceBytes: 0 });
    expect(conv()).toBe(before);
  });
});
