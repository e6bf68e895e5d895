import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@dlexp/core';
import { writeFileAtomic } from './files';

/** A folder name for a new run: its start time to the second, sortable, plus the seed. */
export function newRunId(now: Date, seed: number): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
  return `${stamp}-s${seed}`;
}

/**
 * The folder of one run: config.resolved.yaml first, metrics.jsonl as training goes, and
 * summary.json last (its presence with status "completed" is what marks a finished run).
 */
export class RunDirectory {
  private constructor(readonly path: string) {}

  /** Refuses an `--out` folder that holds anything: a finished or interrupted run is never overwritten. */
  static assertUsable(out: string): void {
    if (existsSync(out) && readdirSync(out).length > 0) {
      throw new ConfigError(`--out ${out}: the folder is not empty; give a new or empty folder (a finished or interrupted run is never overwritten)`);
    }
  }

  /** `out` (exactly, from --out) or `runs/<name>/<run-id>` under `root`. */
  static create(options: { out?: string; root: string; name: string; seed: number; now?: Date }): RunDirectory {
    let path: string;
    if (options.out !== undefined) {
      path = options.out;
      RunDirectory.assertUsable(path);
    } else {
      const base = join(options.root, 'runs', options.name, newRunId(options.now ?? new Date(), options.seed));
      path = base;
      for (let i = 2; existsSync(path); i++) path = `${base}-${i}`;
    }
    mkdirSync(path, { recursive: true });
    return new RunDirectory(path);
  }

  /** An existing run's folder (for resume; the caller has read its invocation.json). */
  static open(path: string): RunDirectory {
    return new RunDirectory(path);
  }

  /** Keeps the first `rows` lines of metrics.jsonl: what a resumed run has already logged. */
  truncateMetrics(rows: number): void {
    const file = this.file('metrics.jsonl');
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
    writeFileAtomic(file, lines.slice(0, rows).map((l) => `${l}\n`).join(''));
  }

  exists(name: string): boolean {
    return existsSync(this.file(name));
  }

  file(name: string): string {
    return join(this.path, name);
  }

  write(name: string, content: string): void {
    writeFileAtomic(this.file(name), content);
  }

  appendMetrics(row: Record<string, number>): void {
    appendFileSync(this.file('metrics.jsonl'), `${JSON.stringify(row)}\n`);
  }
}
