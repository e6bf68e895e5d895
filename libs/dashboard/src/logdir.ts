import { existsSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { folderKind, type FolderKind } from '@dlexp/plots';

/** A request for something the server does not serve: answered 404 (or 403), never read. */
export class NotServedError extends Error {
  constructor(
    message: string,
    readonly status: 403 | 404 = 404,
  ) {
    super(message);
  }
}

/** The log folder the server reads: its real path, fixed once at start. */
export class Logdir {
  readonly root: string;

  constructor(readonly given: string) {
    const absolute = resolve(given);
    if (!existsSync(absolute) || !statSync(absolute).isDirectory()) throw new NotServedError(`${given}: no such folder`);
    this.root = realpathSync(absolute);
  }

  /** A path inside the log folder as the API writes it: relative, '/' separated (`.` for the log folder itself). */
  relativeOf(absolute: string): string {
    const within = relative(this.root, absolute);
    return within === '' ? '.' : within.split(sep).join('/');
  }

  /**
   * The folder a relative API path names, only if it lies inside the log folder once every
   * symbolic link is followed. Absolute paths, `..` segments, backslashes and NUL bytes are refused
   * before the file system is asked anything.
   */
  resolveFolder(path: string): string {
    if (path === '' || path.includes('\0') || path.includes('\\') || isAbsolute(path) || /^[a-zA-Z]:/.test(path)) {
      throw new NotServedError(`not a path inside the log folder: ${JSON.stringify(path)}`);
    }
    const segments = path.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.some((s) => s === '..')) throw new NotServedError(`not a path inside the log folder: ${JSON.stringify(path)}`);
    const joined = join(this.root, ...segments);
    let real: string;
    try {
      real = realpathSync(joined);
    } catch {
      throw new NotServedError(`${path}: no such folder in the log folder`);
    }
    const within = relative(this.root, real);
    if (within.startsWith(`..${sep}`) || within === '..' || isAbsolute(within)) {
      throw new NotServedError(`${path}: leads outside the log folder`, 403);
    }
    if (!statSync(real).isDirectory()) throw new NotServedError(`${path}: not a folder`);
    return real;
  }

  /** A run or sweep folder inside the log folder, with its kind; anything else is not served. */
  resolveRunFolder(path: string, expected?: FolderKind): { dir: string; kind: FolderKind } {
    const dir = this.resolveFolder(path);
    const kind = folderKind(dir);
    if (kind === undefined) throw new NotServedError(`${path}: not a run or sweep folder`);
    if (expected !== undefined && kind !== expected) throw new NotServedError(`${path}: a ${kind} folder, not a ${expected}`);
    return { dir, kind };
  }
}
