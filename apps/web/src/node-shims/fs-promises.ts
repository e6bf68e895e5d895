import type { Buffer } from 'buffer';
import { VirtualFsError, absolute } from './virtual-files';
import { Dirent, Stats, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from './fs';

/** `node:fs/promises` in the page: the asynchronous forms of the virtual file table's calls. */

type Path = string | URL;

export async function readFile(path: Path, options?: BufferEncoding | { encoding?: BufferEncoding | null }): Promise<Buffer | string> {
  return readFileSync(path, options);
}

export async function stat(path: Path): Promise<Stats> {
  return statSync(path);
}

export async function readdir(path: Path, options?: { withFileTypes?: boolean }): Promise<(string | Dirent)[]> {
  return readdirSync(path, options);
}

export async function writeFile(path: Path, content: string | Uint8Array): Promise<void> {
  writeFileSync(path, content);
}

export async function mkdir(path: Path): Promise<void> {
  mkdirSync(path);
}

export async function rename(from: Path, to: Path): Promise<void> {
  renameSync(from, to);
}

export async function rm(path: Path, options?: { recursive?: boolean; force?: boolean }): Promise<void> {
  rmSync(path, options);
}

/** Reading a file in pieces (TFRecord streaming) needs real file handles: not in the page. */
export async function open(path: Path): Promise<never> {
  throw new VirtualFsError('ENOTSUP', 'open', absolute(path));
}

export default { readFile, stat, readdir, writeFile, mkdir, rename, rm, open };
