import Table from 'cli-table3';
import { ConfigError } from '@dlexp/core';
import { compareRuns, listRuns, pruneRuns, runsTable, writeComparisonChart, writeReport, type TextTable } from '@dlexp/plots';
import { displayPath, EXIT, userPath, type Command } from '../cli/context';
import { flag, integerOption, stringOption } from '../cli/options';

function render(table: TextTable): string {
  const out = new Table({ head: table.head, style: { head: [], border: [] } });
  out.push(...table.rows);
  return out.toString();
}

/** Wide comparisons (many differing keys) read better with one row per key. */
const MAX_COLUMNS = 12;

export const compareCommand: Command = {
  name: 'compare',
  usage: [['compare <run-or-sweep-dir>... [--json] [--chart FILE]', 'the config keys that differ and the final metrics of runs (a sweep counts as its trials), and a comparison chart']],
  options: {
    json: { type: 'boolean', help: 'print the comparison as one JSON document (for scripts)' },
    chart: { type: 'string', arg: 'FILE', help: 'where the comparison chart goes, .svg or .png (default comparison.svg)' },
  },
  async run(dirs, values, { io }) {
    if (dirs.length === 0) throw new ConfigError('compare needs at least one run or sweep folder');
    const comparison = await compareRuns(dirs.map(userPath));
    const chart = writeComparisonChart(comparison, userPath(stringOption(values, 'chart') ?? 'comparison.svg'));
    if (flag(values, 'json')) {
      io.out(JSON.stringify(comparison.json, null, 2));
      io.err(`chart: ${displayPath(chart)}`);
    } else {
      io.out(render(comparison.table.head.length > MAX_COLUMNS ? comparison.transposed : comparison.table));
      io.out(`chart: ${displayPath(chart)}`);
    }
    return EXIT.ok;
  },
};

export const runsCommand: Command = {
  name: 'runs',
  usage: [
    ['runs [--logdir runs] list [--json]', 'the runs and sweeps under a folder, with status and key metrics (a run is any folder holding summary.json)'],
    ['runs [--logdir runs] prune --keep N [--dry-run] [--include-unfinished]', 'remove all but the newest N finished runs of each experiment'],
  ],
  options: {
    logdir: { type: 'string', arg: 'DIR', help: 'the folder holding runs (default runs)' },
    keep: { type: 'string', arg: 'N', help: '(prune) finished runs to keep per experiment' },
    'dry-run': { type: 'boolean', help: '(prune) say what would be removed, remove nothing' },
    'include-unfinished': { type: 'boolean', help: '(prune) count and remove interrupted and unfinished runs too' },
    json: { type: 'boolean', help: '(list) print the runs as one JSON document' },
  },
  async run(rest, values, { io }) {
    const [action = 'list', ...extra] = rest;
    if (extra.length > 0) throw new ConfigError(`runs ${action} takes no more arguments, got ${extra.join(' ')}`);
    const logdir = userPath(stringOption(values, 'logdir') ?? 'runs');
    if (action === 'list') {
      const runs = listRuns(logdir);
      if (flag(values, 'json')) io.out(JSON.stringify(runs, null, 2));
      else io.out(runs.length === 0 ? `no runs under ${displayPath(logdir)}` : render(runsTable(runs)));
      return EXIT.ok;
    }
    if (action === 'prune') {
      const keep = integerOption(values, 'keep', 0, 1_000_000);
      if (keep === undefined) throw new ConfigError('runs prune needs --keep N');
      const dryRun = flag(values, 'dry-run');
      const result = pruneRuns(logdir, { keep, dryRun, includeUnfinished: flag(values, 'include-unfinished') });
      for (const run of result.removed) io.out(`${dryRun ? 'would remove' : 'removed'} ${run.relativePath} (${run.status})`);
      for (const { run, reason } of result.spared) io.out(`kept ${run.relativePath}: ${reason}`);
      io.out(`${result.removed.length} ${dryRun ? 'to remove' : 'removed'}, ${result.kept.length} kept`);
      return EXIT.ok;
    }
    throw new ConfigError(`unknown runs command '${action}': expected list or prune`);
  },
};

export const reportCommand: Command = {
  name: 'report',
  usage: [['report <run-or-sweep-dir>', 'write <dir>/report.html: config, metrics and figures in one self-contained page']],
  options: {},
  async run(dirs, _values, { io }) {
    if (dirs.length !== 1) throw new ConfigError('report takes exactly one run or sweep folder');
    io.out(`report: ${displayPath(await writeReport(userPath(dirs[0]!)))}`);
    return EXIT.ok;
  },
};
