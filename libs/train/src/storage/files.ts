import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@dlexp/core';

let temporaryCounter = 0;

/** Writes a file so that readers see either the old content or the whole new one, never half. */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const temporary = `${file}.tmp-${Date.now().toString(36)}-${temporaryCounter++}`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/** Writes files (name → content) into a folder, each atomically. */
export function writeFolder(folder: string, files: Map<string, Uint8Array>): void {
  mkdirSync(folder, { recursive: true });
  for (const [name, content] of files) writeFileAtomic(join(folder, name), content);
}

/** Reads the named files of a folder; a missing one is a DataError naming it. */
export function readFolder(folder: string, names: string[]): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const name of names) {
    const file = join(folder, name);
    if (!existsSync(file)) throw new DataError(`${file}: missing (the folder holds no complete saved model or checkpoint)`);
    files.set(name, new Uint8Array(readFileSync(file)));
  }
  return files;
}
