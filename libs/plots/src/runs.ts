import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError, DataError } from '@dlexp/core';
import { formatNumber } from './format';
import { isRecord, isSweepSummary, readJsonObject, readSummary, RUN_FILES } from './run-files';
import { orderMetrics, type TextTable } from './compare';

/**
 * Housekeeping over a log folder: every run (a folder holding summary.json, at any depth) and
 * every sweep, with what `runs list` shows, and pruning that keeps the newest runs of each
 * experiment.
 */

export type ListedKind = 'run' | 'sweep' | 'trial';

export interface ListedRun {
  /** Absolute path of the folder. */
  path: string;
  /** Path relative to the log folder, with '/' separators. */
  relativePath: string;
  kind: ListedKind;
  name: string;
  /**
   * From summary.json. `running` for a folder with run files but no summary.json yet (a run in
   * progress, or one killed before it could write its summary); `incomplete` for such a sweep.
   */
  status: string;
  seed?: number;
  backend?: string;
  /** When it started: summary.timing.startedAt, else the time in its folder name, else the folder's mtime. */
  startedAt: string;
  /** All final metrics, and the few `runs list` shows. */
  metrics: Record<string, number>;
  keyMetrics: Record<string, number>;
  /** For a trial: the path of its sweep. For a sweep: how many trials it has. */
  sweep?: string;
  trials?: number;
  /** A problem reading it (a malformed summary.json): listed, never pruned. */
  problem?: string;
}

export interface ListOptions {
  /** List each sweep's trials too (default true). */
  trials?: boolean;
}

/** Statuses of finished work. Anything else (running, interrupted, incomplete, unknown) may still be resumed. */
const FINISHED = new Set(['completed', 'failed']);

/** Folders never entered: dependencies, checkpoints and saved models hold no runs. */
const SKIPPED = new Set(['node_modules', 'checkpoints', 'model', 'plots', 'tensorboard']);

/** At most four metrics for the listing: test ones first, then validation, train.loss, then values without a split. */
export function keyMetricsOf(metrics: Record<string, number>, limit = 4): Record<string, number> {
  const ordered = orderMetrics(Object.keys(metrics));
  const chosen = ordered.filter((k) => !k.startsWith('train.') || k === 'train.loss').slice(0, limit);
  return Object.fromEntries(chosen.map((k) => [k, metrics[k]!]));
}

/** `20261127-120000-s1` (the runner's run ids, also after `sweep-`) as an ISO time. */
function timeFromFolderName(name: string): string | undefined {
  const match = /(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(name);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function modifiedTime(path: string): string {
  try {
    return statSync(path).mtime.toISOString();
  } catch {
    return new Date(0).toISOString();
  }
}

function hasRunFiles(dir: string): boolean {
  return existsSync(join(dir, RUN_FILES.metrics)) || existsSync(join(dir, RUN_FILES.config));
}

function subfolders(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  // Symbolic links are not followed: a link could lead out of the log folder, or in a circle.
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.') && !SKIPPED.has(e.name)).map((e) => e.name).sort();
}

function nameFromConfig(dir: string): string {
  const file = join(dir, RUN_FILES.config);
  if (!existsSync(file)) return '';
  // The resolved config's `name:` line, without parsing the whole file for a listing.
  try {
    const match = /^name:\s*(.+?)\s*$/m.exec(readFileSync(file, 'utf8'));
    return match?.[1]?.replace(/^['"]|['"]$/g, '') ?? '';
  } catch {
    return '';
  }
}

function listedRun(logdir: string, dir: string, kind: ListedKind, sweep?: string): ListedRun {
  const base: ListedRun = {
    path: dir,
    relativePath: relative(logdir, dir).split(sep).join('/') || '.',
    kind,
    name: '',
    status: 'running',
    startedAt: '',
    metrics: {},
    keyMetrics: {},
    ...(sweep !== undefined ? { sweep } : {}),
  };
  const summaryFile = join(dir, RUN_FILES.summary);
  if (existsSync(summaryFile)) {
    try {
      const summary = readSummary(summaryFile);
      Object.assign(base, { name: summary.name, status: summary.status, metrics: summary.metrics, keyMetrics: keyMetricsOf(summary.metrics) });
      if (summary.seed !== undefined) base.seed = summary.seed;
      if (summary.backend !== undefined) base.backend = summary.backend.name;
      if (summary.startedAt !== undefined) base.startedAt = summary.startedAt;
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
      base.status = 'unreadable';
      base.problem = error.message;
    }
  }
  if (base.name === '') base.name = nameFromConfig(dir);
  if (base.startedAt === '') base.startedAt = timeFromFolderName(basename(dir)) ?? modifiedTime(join(dir, existsSync(summaryFile) ? RUN_FILES.summary : RUN_FILES.config));
  return base;
}

function listedSweep(logdir: string, dir: string, summary: Record<string, unknown> | undefined, trials: ListedRun[]): ListedRun {
  const listed: ListedRun = {
    path: dir,
    relativePath: relative(logdir, dir).split(sep).join('/') || '.',
    kind: 'sweep',
    name: typeof summary?.['name'] === 'string' ? summary['name'] : (trials.find((t) => t.name !== '')?.name ?? ''),
    status: typeof summary?.['status'] === 'string' ? summary['status'] : summary === undefined ? 'incomplete' : 'unknown',
    startedAt: '',
    metrics: {},
    keyMetrics: {},
    trials: trials.length,
  };
  // The best trial's value of the sweep's metric is the sweep's key metric.
  const sweep = isRecord(summary?.['sweep']) ? summary['sweep'] : {};
  const best = isRecord(summary?.['best']) ? summary['best'] : undefined;
  const metric = typeof sweep['metric'] === 'string' ? sweep['metric'] : undefined;
  const bestId = typeof best?.['id'] === 'string' ? best['id'] : undefined;
  const bestTrial = Array.isArray(summary?.['trials']) ? summary['trials'].find((t) => isRecord(t) && t['id'] === bestId) : undefined;
  const bestTrialMetrics = isRecord(bestTrial) && isRecord(bestTrial['metrics']) ? bestTrial['metrics'] : {};
  // The runner's summary has best[metric]; a sweep with repeats has the best configuration's mean.
  const bestMean = isRecord(best?.['metric']) ? best['metric']['mean'] : undefined;
  const bestValue = metric === undefined ? undefined : (best?.[metric] ?? bestMean ?? bestTrialMetrics[metric]);
  if (metric !== undefined && typeof bestValue === 'number') {
    listed.metrics = { [metric]: bestValue };
    listed.keyMetrics = { [`best ${metric}`]: bestValue };
  }
  const earliest = trials.map((t) => t.startedAt).filter((t) => t !== '').sort()[0];
  listed.startedAt = timeFromFolderName(basename(dir)) ?? earliest ?? modifiedTime(dir);
  return listed;
}

/**
 * Every run and sweep under `logdir` (at any depth), sorted by name and then start time. A sweep
 * is listed once, with its trials after it (kind `trial`) unless `trials: false`.
 */
export function listRuns(logdir: string, options: ListOptions = {}): ListedRun[] {
  const root = resolve(logdir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new ConfigError(`${logdir}: no such folder`);
  const found: ListedRun[] = [];
  const visit = (dir: string) => {
    const summaryFile = join(dir, RUN_FILES.summary);
    let summary: Record<string, unknown> | undefined;
    if (existsSync(summaryFile)) {
      try {
        summary = readJsonObject(summaryFile);
      } catch (error) {
        if (!(error instanceof DataError)) throw error;
        found.push(listedRun(root, dir, 'run'));
        return;
      }
    }
    const trialsDir = join(dir, 'trials');
    const isSweep = summary !== undefined ? isSweepSummary(summary) : existsSync(trialsDir) && subfolders(trialsDir).some((t) => hasRunFiles(join(trialsDir, t)) || existsSync(join(trialsDir, t, RUN_FILES.summary)));
    if (isSweep) {
      const trials = subfolders(trialsDir)
        .map((t) => join(trialsDir, t))
        .filter((t) => existsSync(join(t, RUN_FILES.summary)) || hasRunFiles(t))
        .map((t) => listedRun(root, t, 'trial', dir));
      found.push(listedSweep(root, dir, summary, trials));
      if (options.trials ?? true) found.push(...trials);
      return;
    }
    if (summary !== undefined || hasRunFiles(dir)) {
      found.push(listedRun(root, dir, 'run'));
      return;
    }
    for (const child of subfolders(dir)) visit(join(dir, child));
  };
  visit(root);
  const sweepOf = (r: ListedRun) => (r.kind === 'trial' ? found.find((s) => s.path === r.sweep)! : r);
  return found.sort((a, b) => {
    const [sa, sb] = [sweepOf(a), sweepOf(b)];
    if (sa !== sb) return sa.name.localeCompare(sb.name) || sa.startedAt.localeCompare(sb.startedAt) || sa.path.localeCompare(sb.path);
    if (a.kind !== b.kind) return a.kind === 'sweep' ? -1 : 1;
    return a.path.localeCompare(b.path);
  });
}

/** The listing as a table: name, kind, status, start time, seed, backend, key metrics, folder. */
export function runsTable(runs: ListedRun[]): TextTable {
  const shown = runs.flatMap((r) => Object.keys(r.keyMetrics));
  const metricNames = [...new Set(shown.filter((m) => m.startsWith('best ')))].sort().concat(orderMetrics(shown.filter((m) => !m.startsWith('best '))));
  return {
    head: ['name', 'kind', 'status', 'started', 'seed', 'backend', ...metricNames, 'folder'],
    rows: runs.map((r) => [
      r.kind === 'trial' ? `  ${r.name}` : r.name,
      r.kind,
      r.status,
      r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      r.seed === undefined ? '' : String(r.seed),
      r.backend ?? '',
      ...metricNames.map((m) => (r.keyMetrics[m] === undefined ? '' : formatNumber(r.keyMetrics[m]))),
      r.relativePath,
    ]),
  };
}

/** The real path of `path` if it lies strictly inside the real `logdir`; a ConfigError otherwise. */
export function insideLogdir(logdir: string, path: string): string {
  const root = realpathSync(resolve(logdir));
  let target: string;
  try {
    target = realpathSync(resolve(path));
  } catch {
    throw new ConfigError(`${path}: no such folder`);
  }
  const within = relative(root, target);
  if (within === '' || within === '..' || within.startsWith(`..${sep}`) || isAbsolute(within)) {
    throw new ConfigError(`${path}: refusing to delete a folder outside the log folder ${logdir}`);
  }
  return target;
}

/** Deletes one run or sweep folder, only if it lies inside `logdir` and is not reached through a symbolic link. */
export function removeRun(logdir: string, path: string): void {
  const target = insideLogdir(logdir, path);
  // The same folder reached without links: the log folder's real path plus the path's part below it.
  const direct = join(realpathSync(resolve(logdir)), relative(resolve(logdir), resolve(path)));
  if (lstatSync(resolve(path)).isSymbolicLink() || target !== direct) {
    throw new ConfigError(`${path}: reached through a symbolic link; refusing to delete through it`);
  }
  if (!existsSync(join(target, RUN_FILES.summary)) && !hasRunFiles(target) && !existsSync(join(target, 'trials'))) {
    throw new ConfigError(`${path}: not a run or sweep folder; refusing to delete it`);
  }
  rmSync(target, { recursive: true });
}

export interface PruneOptions {
  /** How many of each experiment's runs to keep, newest first (per name; sweeps counted apart from runs). */
  keep: number;
  /** Also delete runs that are not finished (running, interrupted, incomplete). Default false. */
  includeUnfinished?: boolean;
  /** Report what would go without deleting anything. */
  dryRun?: boolean;
}

export interface PruneResult {
  removed: ListedRun[];
  kept: ListedRun[];
  /** Not counted and never deleted, and why: unfinished (unless `includeUnfinished`) or unreadable. */
  spared: { run: ListedRun; reason: string }[];
}

/**
 * Keeps the newest `keep` finished runs of each experiment (by name; a sweep with its trials counts
 * as one, and sweeps are counted apart from single runs) and deletes the older ones. Unfinished
 * runs (running, interrupted) are neither counted nor deleted unless `includeUnfinished`, so a run
 * in progress never pushes out the last finished one; unreadable ones are never deleted; nothing
 * outside `logdir` is ever deleted.
 */
export function pruneRuns(logdir: string, options: PruneOptions): PruneResult {
  if (!Number.isInteger(options.keep) || options.keep < 0) throw new ConfigError(`--keep ${options.keep}: expected a whole number ≥ 0`);
  const units = listRuns(logdir, { trials: false });
  const groups = new Map<string, ListedRun[]>();
  for (const unit of units) {
    const key = `${unit.kind}\u0000${unit.name}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(unit);
  }
  const result: PruneResult = { removed: [], kept: [], spared: [] };
  for (const group of groups.values()) {
    group.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.path.localeCompare(a.path));
    let counted = 0;
    for (const unit of group) {
      if (unit.problem !== undefined) result.spared.push({ run: unit, reason: `unreadable: ${unit.problem}` });
      else if (!FINISHED.has(unit.status) && options.includeUnfinished !== true) result.spared.push({ run: unit, reason: `${unit.status}, not finished` });
      else if (counted++ < options.keep) result.kept.push(unit);
      else result.removed.push(unit);
    }
  }
  // Check every folder before deleting any, so a refusal leaves the log folder as it was.
  for (const unit of result.removed) insideLogdir(logdir, unit.path);
  if (options.dryRun !== true) for (const unit of result.removed) removeRun(logdir, unit.path);
  return result;
}
