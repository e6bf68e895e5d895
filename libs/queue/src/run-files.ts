import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '@dlexp/train';

/*
 * A trial's run folder travels back to the coordinator in its result, so the sweep's folder holds
 * what a local sweep's does: summary.json, metrics.jsonl, the resolved config, TensorBoard events,
 * plots. Checkpoints stay with the worker (or in the shared --checkpoints folder): they are for
 * resuming, and the largest part of a run.
 */

export interface RunFile {
  /** Relative to the run folder, `/`-separated. */
  path: string;
  encoding: 'utf8' | 'base64';
  content: string;
}

export interface CollectedRun {
  files: RunFile[];
  /** Files left on the worker because they did not fit in `maxBytes` (checkpoints always stay). */
  leftOut: string[];
}

/** Files read as text; anything else travels as base64. */
const TEXT = /\.(json|jsonl|yaml|yml|csv|txt|svg|tsv|md|xml|html)$/i;

/** Folders of a run that never travel: checkpoints (resume state). */
const STAYS = new Set(['checkpoints']);

/** What a result may carry at most: beyond it the largest files stay on the worker. */
export const DEFAULT_MAX_RESULT_BYTES = 16 * 1024 * 1024;

function walk(root: string, dir: string, out: { path: string; size: number }[]): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const rel = relative(root, path).split(sep).join('/');
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (stat.isDirectory()) {
      if (dir !== root || !STAYS.has(name)) walk(root, path, out);
    } else if (stat.isFile()) out.push({ path: rel, size: stat.size });
  }
}

/**
 * The files of a run folder to send back: all but checkpoints; when together they exceed
 * `maxBytes`, the largest ones stay behind (named in `leftOut`) until the rest fits.
 */
export function collectRunFiles(runDirectory: string, maxBytes = DEFAULT_MAX_RESULT_BYTES): CollectedRun {
  const found: { path: string; size: number }[] = [];
  const leftOut: string[] = [];
  try {
    walk(runDirectory, runDirectory, found);
  } catch {
    return { files: [], leftOut };
  }
  let total = found.reduce((sum, f) => sum + f.size, 0);
  const kept = new Set(found.map((f) => f.path));
  for (const file of [...found].sort((a, b) => b.size - a.size)) {
    if (total <= maxBytes) break;
    kept.delete(file.path);
    leftOut.push(file.path);
    total -= file.size;
  }
  const files: RunFile[] = [];
  for (const { path } of found) {
    if (!kept.has(path)) continue;
    const bytes = readFileSync(join(runDirectory, path));
    files.push(TEXT.test(path) ? { path, encoding: 'utf8', content: bytes.toString('utf8') } : { path, encoding: 'base64', content: bytes.toString('base64') });
  }
  return { files, leftOut: leftOut.sort() };
}

/**
 * Writes the files of a result into a trial's folder, replacing what it held (a result delivered
 * again after a retry writes the same folder). A path that would leave the folder is an Error:
 * results come from other machines.
 */
export function writeRunFiles(runDirectory: string, files: readonly RunFile[]): void {
  const root = resolve(runDirectory);
  const targets = files.map((file) => {
    const target = resolve(root, file.path);
    if (file.path === '' || target === root || !target.startsWith(`${root}${sep}`)) throw new Error(`a trial's result names the file '${file.path}', outside its run folder`);
    return { target, file };
  });
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const { target, file } of targets) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileAtomic(target, file.encoding === 'base64' ? Buffer.from(file.content, 'base64') : file.content);
  }
}
