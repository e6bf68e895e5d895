import type { Buffer } from 'buffer';
import {
  VirtualFsError,
  absolute,
  listVirtualFolder,
  makeVirtualFolder,
  readVirtualFile,
  removeVirtual,
  renameVirtual,
  virtualKind,
  virtualModified,
  virtualSize,
  writeVirtualFile,
  type VirtualEntryKind,
} from './virtual-files';

/**
 * `node:fs` in the page: the synchronous calls the engine libraries make, over the virtual file
 * table. Anything else a library imports from `node:fs` is undefined here (the build shims
 * missing exports), which only matters if node-only code runs in the page — and it does not.
 */

type Path = string | URL;
type Encoding = BufferEncoding | { encoding?: BufferEncoding | null } | null | undefined;

function encodingOf(options: Encoding): BufferEncoding | undefined {
  if (typeof options === 'string') return options;
  return options?.encoding ?? undefined;
}

export class Stats {
  constructor(
    private readonly kind: VirtualEntryKind,
    readonly size: number,
    readonly mtime: Date,
  ) {}
  isFile(): boolean {
    return this.kind === 'file';
  }
  isDirectory(): boolean {
    return this.kind === 'folder';
  }
  isSymbolicLink(): boolean {
    return false;
  }
  get mtimeMs(): number {
    return this.mtime.getTime();
  }
}

export class Dirent {
  constructor(
    readonly name: string,
    private readonly kind: VirtualEntryKind,
  ) {}
  isFile(): boolean {
    return this.kind === 'file';
  }
  isDirectory(): boolean {
    return this.kind === 'folder';
  }
  isSymbolicLink(): boolean {
    return false;
  }
}

export function existsSync(path: Path): boolean {
  return virtualKind(absolute(path)) !== undefined;
}

export function readFileSync(path: Path, options?: Encoding): Buffer | string {
  const content = readVirtualFile(absolute(path));
  const encoding = encodingOf(options);
  return encoding === undefined ? content : content.toString(encoding);
}

export function statSync(path: Path): Stats {
  const at = absolute(path);
  const kind = virtualKind(at);
  if (kind === undefined) throw new VirtualFsError('ENOENT', 'stat', at);
  return new Stats(kind, virtualSize(at), virtualModified(at));
}

export const lstatSync = statSync;

export function readdirSync(path: Path, options?: { withFileTypes?: boolean }): (string | Dirent)[] {
  const entries = listVirtualFolder(absolute(path));
  return options?.withFileTypes === true ? entries.map((e) => new Dirent(e.name, e.kind)) : entries.map((e) => e.name);
}

export function realpathSync(path: Path): string {
  const at = absolute(path);
  if (virtualKind(at) === undefined) throw new VirtualFsError('ENOENT', 'realpath', at);
  return at;
}

export function writeFileSync(path: Path, content: string | Uint8Array): void {
  writeVirtualFile(absolute(path), content);
}

export function appendFileSync(path: Path, content: string | Uint8Array): void {
  const at = absolute(path);
  const before = virtualKind(at) === 'file' ? readVirtualFile(at) : new Uint8Array(0);
  const added = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const joined = new Uint8Array(before.byteLength + added.byteLength);
  joined.set(before, 0);
  joined.set(added, before.byteLength);
  writeVirtualFile(at, joined);
}

export function mkdirSync(path: Path): void {
  const at = absolute(path);
  if (virtualKind(at) !== 'folder') makeVirtualFolder(at);
}

export function mkdtempSync(prefix: string): string {
  const folder = `${absolute(prefix)}${Math.random().toString(36).slice(2, 8)}`;
  makeVirtualFolder(folder);
  return folder;
}

export function renameSync(from: Path, to: Path): void {
  renameVirtual(absolute(from), absolute(to));
}

export function rmSync(path: Path, options?: { recursive?: boolean; force?: boolean }): void {
  const at = absolute(path);
  if (options?.force === true && virtualKind(at) === undefined) return;
  removeVirtual(at, options ?? {});
}

export default {
  existsSync,
  readFileSync,
  statSync,
  lstatSync,
  readdirSync,
  realpathSync,
  writeFileSync,
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  Stats,
  Dirent,
};
