import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { WebgpuAdapterSummary } from '@dlexp/backends';

const PROBE = fileURLToPath(new URL('../../probes/webgpu-adapter.cjs', import.meta.url));

/**
 * The WebGPU adapter Dawn offers, asked for in a short-lived child process whose output is kept
 * from the user. Null when there is none; undefined when the child could not tell (then the
 * backend asks in-process, as it would anyway).
 */
export function probeWebgpuAdapter(): WebgpuAdapterSummary | null | undefined {
  let dawn: string;
  try {
    dawn = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return undefined;
  }
  const child = spawnSync(process.execPath, [PROBE, dawn], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] });
  if (child.status !== 0 || child.stdout === '') return undefined;
  try {
    return JSON.parse(child.stdout) as WebgpuAdapterSummary | null;
  } catch {
    return undefined;
  }
}
