import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { DataError } from '@dlexp/core';

const gunzipAsync = promisify(gunzip);

/** Reads a whole file, turning a missing or unreadable file into a DataError that names it. */
export async function readDataFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new DataError(`${file}: cannot read: ${describeFsError(error)}`);
  }
}

/**
 * Reads a file and inflates it when it is gzip-compressed. The gzip magic bytes decide, not the
 * name, so a `.gz` that a browser already unpacked on download still reads.
 */
export async function readMaybeGzip(file: string): Promise<Buffer> {
  const raw = await readDataFile(file);
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return await gunzipAsync(raw);
  } catch (error) {
    throw new DataError(`${file}: corrupt gzip data: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function describeFsError(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (code === 'ENOENT') return 'no such file or directory';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EISDIR') return 'is a directory';
  }
  return error instanceof Error ? error.message : String(error);
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

const WILDCARD = /[*?[]/;

function segmentPattern(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const close = segment.indexOf(']', i + 1);
      if (close < 0) source += '\\[';
      else {
        const body = segment.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else source += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Expands `*`, `?` and `[abc]` in any path segment (no `**`), sorted so the file order, and with
 * it every record position, is the same on every machine. A pattern that matches nothing is an
 * error: a typo must not silently give an empty split.
 */
export async function expandGlob(pattern: string): Promise<string[]> {
  if (!WILDCARD.test(pattern)) {
    if (!(await isFile(pattern))) throw new DataError(`${pattern}: no such file`);
    return [pattern];
  }
  const segments = pattern.split('/');
  let bases = [segments[0] === '' ? '/' : segments[0]!];
  if (WILDCARD.test(segments[0]!)) bases = ['.'];
  const rest = WILDCARD.test(segments[0]!) ? segments : segments.slice(1);
  for (let s = 0; s < rest.length; s++) {
    const segment = rest[s]!;
    const last = s === rest.length - 1;
    const next: string[] = [];
    for (const base of bases) {
      if (!WILDCARD.test(segment)) {
        next.push(join(base, segment));
        continue;
      }
      let names: string[];
      try {
        names = await readdir(base);
      } catch {
        continue;
      }
      const re = segmentPattern(segment);
      for (const name of names.sort()) if (re.test(name)) next.push(join(base, name));
    }
    bases = next;
    if (last) {
      const files: string[] = [];
      for (const candidate of bases) if (await isFile(candidate)) files.push(candidate);
      bases = files;
    }
  }
  if (bases.length === 0) throw new DataError(`${pattern}: no file matches this pattern (in ${dirname(pattern)})`);
  return bases.sort();
}

/**
 * Awaits every promise and throws the first failure in the order given, not the order in which
 * they failed: when two files are missing, the error names the same one on every run.
 */
export async function allInOrder<T extends unknown[]>(...promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  for (const result of settled) if (result.status === 'rejected') throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}
