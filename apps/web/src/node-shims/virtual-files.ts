import { Buffer } from 'buffer';
import { dirname, normalize, resolve } from 'pathe';

/**
 * The files the engine libraries can read in the page. Node's file system does not exist in a
 * browser, so the build maps `node:fs` (and its friends) onto this table: the page puts in what an
 * experiment needs — its YAML, the MNIST files fetched from the server, CSV files dropped on the
 * page — and the libraries read them through the same code paths as in Node. Folders exist
 * implicitly, as the prefixes of stored paths (and of folders made with mkdir).
 */
const files = new Map<string, Uint8Array>();
const folders = new Set<string>(['/']);
const modified = new Map<string, Date>();

/** An error shaped like Node's, so code that checks `error.code === 'ENOENT'` reads it the same way. */
export class VirtualFsError extends Error {
  constructor(
    readonly code: 'ENOENT' | 'EISDIR' | 'ENOTDIR' | 'EEXIST' | 'ENOTSUP',
    operation: string,
    readonly path: string,
  ) {
    super(`${code}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTSUP' ? 'not available in the browser' : code === 'EISDIR' ? 'is a directory' : code === 'EEXIST' ? 'already exists' : 'not a directory'}, ${operation} '${path}'`);
  }
}

export function absolute(path: string | URL): string {
  const text = typeof path === 'string' ? path : path.pathname;
  return normalize(resolve('/', text));
}

function addFolders(path: string): void {
  for (let folder = dirname(path); !folders.has(folder); folder = dirname(folder)) folders.add(folder);
}

export function writeVirtualFile(path: string, content: Uint8Array | string): void {
  const at = absolute(path);
  if (folders.has(at)) throw new VirtualFsError('EISDIR', 'open', at);
  files.set(at, typeof content === 'string' ? new TextEncoder().encode(content) : content);
  modified.set(at, new Date());
  addFolders(at);
}

export function makeVirtualFolder(path: string): void {
  const at = absolute(path);
  if (files.has(at)) throw new VirtualFsError('EEXIST', 'mkdir', at);
  folders.add(at);
  addFolders(at);
}

export function readVirtualFile(path: string): Buffer {
  const at = absolute(path);
  const content = files.get(at);
  if (content === undefined) throw new VirtualFsError(folders.has(at) ? 'EISDIR' : 'ENOENT', 'open', at);
  return Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

export function hasVirtualFile(path: string): boolean {
  return files.has(absolute(path));
}

export type VirtualEntryKind = 'file' | 'folder';

export function virtualKind(path: string): VirtualEntryKind | undefined {
  const at = absolute(path);
  return files.has(at) ? 'file' : folders.has(at) ? 'folder' : undefined;
}

export function virtualSize(path: string): number {
  return files.get(absolute(path))?.byteLength ?? 0;
}

export function virtualModified(path: string): Date {
  return modified.get(absolute(path)) ?? new Date(0);
}

/** Names directly inside a folder, sorted. */
export function listVirtualFolder(path: string): { name: string; kind: VirtualEntryKind }[] {
  const at = absolute(path);
  if (!folders.has(at)) throw new VirtualFsError(files.has(at) ? 'ENOTDIR' : 'ENOENT', 'scandir', at);
  const prefix = at === '/' ? '/' : `${at}/`;
  const found = new Map<string, VirtualEntryKind>();
  const note = (entry: string, isFolder: boolean) => {
    if (!entry.startsWith(prefix) || entry === at) return;
    const rest = entry.slice(prefix.length);
    const name = rest.split('/')[0]!;
    if (name !== '') found.set(name, isFolder || rest.includes('/') || found.get(name) === 'folder' ? 'folder' : 'file');
  };
  for (const file of files.keys()) note(file, false);
  for (const folder of folders) note(folder, true);
  return [...found].map(([name, kind]) => ({ name, kind })).sort((a, b) => a.name.localeCompare(b.name));
}

export function removeVirtual(path: string, options: { recursive?: boolean } = {}): void {
  const at = absolute(path);
  if (files.delete(at)) {
    modified.delete(at);
    return;
  }
  if (!folders.has(at)) throw new VirtualFsError('ENOENT', 'rm', at);
  if (options.recursive !== true && listVirtualFolder(at).length > 0) throw new VirtualFsError('EISDIR', 'rm', at);
  const prefix = `${at}/`;
  for (const file of [...files.keys()]) if (file.startsWith(prefix)) files.delete(file);
  for (const folder of [...folders]) if (folder === at || folder.startsWith(prefix)) folders.delete(folder);
}

export function renameVirtual(from: string, to: string): void {
  const content = readVirtualFile(from);
  removeVirtual(from);
  writeVirtualFile(to, content);
}
