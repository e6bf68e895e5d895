/**
 * The addon's kernels under a flood of signals (Node's CPU profiler samples with SIGPROF): they
 * must neither corrupt memory nor change their results. oneDNN 2.6.3's own SGEMM fails this (it
 * corrupts the heap), which is why the addon avoids it; this keeps it that way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ADDON_FILE } from './addon';
import { nativeSkipReason } from './testing/setup-native';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'signal-stress.cjs');

describe.skipIf(nativeSkipReason !== undefined)('addon kernels under a CPU profiler', () => {
  it.each([1, 2])('at %i thread(s): no crash, every call repeats its result', (threads) => {
    const profiles = mkdtempSync(path.join(os.tmpdir(), 'native-signals-'));
    try {
      const child = spawnSync(
        process.execPath,
        ['--cpu-prof', '--cpu-prof-interval', '20', '--cpu-prof-dir', profiles, script, ADDON_FILE, String(threads)],
        { encoding: 'utf8', timeout: 90_000 },
      );
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
      expect(child.stdout.trim()).toBe('ok');
    } finally {
      rmSync(profiles, { recursive: true, force: true });
    }
  });
});
