import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { MetricsRow } from './api';

/**
 * metrics.jsonl read by byte ranges, so a page that follows a run gets only what was appended
 * since it last looked. Only whole lines count: a line the runner is still writing (no newline yet)
 * is read the next time, and the offset returned always sits just after a newline.
 */

export interface RowsRead {
  rows: MetricsRow[];
  /** Where the next read starts: just after the last whole line read. */
  offset: number;
  /** The file is shorter than the offset asked for: it was cut back (a resumed run), so reading restarted at 0. */
  reset: boolean;
}

function numbersOf(value: Record<string, unknown>): MetricsRow {
  const out: MetricsRow = {};
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'number') out[key] = entry;
  return out;
}

/**
 * The rows of the whole lines from `offset` to the end of the file. A line that is not a JSON
 * object is skipped: the run's own files are checked by the plots readers; here a damaged line must
 * not stop a live view.
 */
export function readRowsFrom(file: string, offset: number): RowsRead {
  if (!existsSync(file)) return { rows: [], offset: 0, reset: offset > 0 };
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const reset = size < offset;
    const start = reset ? 0 : offset;
    if (size === start) return { rows: [], offset: start, reset };
    const bytes = Buffer.alloc(size - start);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    const lastNewline = bytes.lastIndexOf(0x0a, read - 1);
    if (lastNewline < 0) return { rows: [], offset: start, reset };
    const rows: MetricsRow[] = [];
    for (const line of bytes.subarray(0, lastNewline).toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const value: unknown = JSON.parse(line);
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) rows.push(numbersOf(value as Record<string, unknown>));
      } catch {
        // A damaged line: left out of the live view (see above).
      }
    }
    return { rows, offset: start + lastNewline + 1, reset };
  } finally {
    closeSync(fd);
  }
}
