import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES } from '@dlexp/plots';
import type { RunEvent } from './api';
import { readRowsFrom } from './metrics-file';

export interface FollowOptions {
  /** The byte offset of metrics.jsonl the follower has already read. */
  from: number;
  /** The run's detail, sent once summary.json appears. */
  finished: () => Extract<RunEvent, { type: 'finished' }>['run'];
  send: (event: RunEvent) => void;
  /** How often to look even without a file-system notification (default 2 s; notifications can be missed on network file systems). */
  fallbackMs?: number;
}

/**
 * Follows a run folder: each change to metrics.jsonl sends the rows appended since the last look
 * (only those bytes are read), and summary.json appearing sends the finished run and stops. Driven
 * by the file system's notifications, with a slow timer as a fallback. Returns `stop`.
 */
export function followRun(dir: string, options: FollowOptions): () => void {
  let offset = options.from;
  let stopped = false;
  let watcher: FSWatcher | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    watcher?.close();
    clearInterval(fallback);
    if (pending !== undefined) clearTimeout(pending);
  };

  const look = () => {
    pending = undefined;
    if (stopped) return;
    const read = readRowsFrom(join(dir, RUN_FILES.metrics), offset);
    if (read.reset) options.send({ type: 'reset', rows: read.rows, offset: read.offset });
    else if (read.rows.length > 0) options.send({ type: 'rows', rows: read.rows, offset: read.offset });
    offset = read.offset;
    if (existsSync(join(dir, RUN_FILES.summary))) {
      options.send({ type: 'finished', run: options.finished() });
      stop();
    }
  };

  // Several writes in a row (a row, then the summary) make one look.
  const soon = () => {
    if (pending === undefined && !stopped) pending = setTimeout(look, 30);
  };

  try {
    watcher = watch(dir, soon);
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  const fallback = setInterval(soon, options.fallbackMs ?? 2000);
  look();
  return stop;
}
