import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillDefaults } from '@dlexp/core';
import { createDatasetRegistry } from './registry';
import type { LoadedDataset } from './dataset';

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `dlexp-data-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Creates a registry dataset from written params the way the runner does (defaults filled). */
export async function loadDataset(name: string, written: Record<string, unknown>, seed = 1, baseDir?: string): Promise<LoadedDataset> {
  const entry = createDatasetRegistry().get(name);
  const params = fillDefaults(entry.params, written, () => undefined);
  return entry.create(params, { seed, resolvePath: (p: string) => (baseDir === undefined || p.startsWith('/') ? p : join(baseDir, p)) });
}
