import Table from 'cli-table3';
import { isPlainObject } from '@dlexp/core';
import { formatNumber } from '@dlexp/train';
import type { ParameterValues } from './parameters';
import { canonicalJson, type PlainValue } from './plain';
import { trialEpochs, type SweepSummaryFile, type TrialEntry } from './sweep-folder';
import type { TrialRecord } from './trials';

/*
 * What a sweep looks like to a person: the final table ranked by the metric (mean ± std over
 * repeats), a live table while it runs, the metric per epoch of every configuration, and the
 * best configuration. Strings only: the host decides where they go.
 */

const plain = { head: [], border: [] };

/** A parameter value in a table cell: `adam learningRate=0.001` for a `{type: adam, ...}` entry. */
export function formatValue(value: PlainValue | undefined): string {
  if (value === undefined) return '—';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  if (isPlainObject(value) && typeof value['type'] === 'string') {
    const rest = Object.entries(value).filter(([key]) => key !== 'type');
    return [value['type'], ...rest.map(([key, v]) => `${key}=${formatValue(v as PlainValue)}`)].join(' ');
  }
  return JSON.stringify(value);
}

/** A configuration in a few words: its values, each after its parameter's name when there are several. */
export function configurationLabel(values: ParameterValues, names: string[] = Object.keys(values)): string {
  if (names.length === 1) return formatValue(values[names[0]!]);
  const last = (name: string) => name.slice(name.lastIndexOf('.') + 1);
  // The last segment of each path, unless two parameters share it.
  const short = (name: string) => (names.filter((n) => last(n) === last(name)).length > 1 ? name : last(name));
  return names.map((name) => `${short(name)}=${formatValue(values[name])}`).join(', ');
}

/**
 * The parameters that tell configurations apart: one with a single value (every trial holds out
 * the same validation split, say) is left out of tables and labels, unless none varies.
 */
export function varyingParameters(configurations: readonly ParameterValues[]): string[] {
  const names = [...new Set(configurations.flatMap((values) => Object.keys(values)))];
  const varying = names.filter((name) => new Set(configurations.map((values) => canonicalJson(values[name]))).size > 1);
  return varying.length > 0 ? varying : names;
}

function formatStd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '';
  return value === 0 ? '0' : Number(value.toPrecision(2)).toString();
}

/** `mean ± std` with repeats, the mean alone for one. */
function meanCell(values: (number | null | undefined)[], repeats: number): string {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return values.some((v) => v === null) ? 'NaN' : '—';
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  if (repeats === 1 || finite.length === 1) return formatNumber(mean);
  const std = Math.sqrt(finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (finite.length - 1));
  return `${formatNumber(mean)} ± ${formatStd(std)}`;
}

/** Metric columns: the sweep's first, then held-out splits before train, then values without a split. */
function metricOrder(metric: string) {
  const rank = (key: string) => (key === metric ? 0 : key.startsWith('validation.') ? 1 : key.startsWith('test.') ? 2 : key.startsWith('train.') ? 3 : 4);
  return (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);
}

function idRange(ids: string[]): string {
  if (ids.length <= 1) return ids[0] ?? '';
  return `${ids[0]}…${ids[ids.length - 1]!.replace(/^trial-/, '')}`;
}

function firstLine(text: string, width = 60): string {
  const line = text.split('\n')[0]!;
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

interface Row {
  configuration: number;
  trials: TrialEntry[];
  rank: number | undefined;
}

/** The configurations in table order: ranked ones best first, then the rest in proposal order. */
function tableRows(file: SweepSummaryFile): Row[] {
  const byConfiguration = new Map<number, TrialEntry[]>();
  for (const trial of file.trials) byConfiguration.set(trial.configuration, [...(byConfiguration.get(trial.configuration) ?? []), trial]);
  const ranked = file.ranking.map((c, i) => ({ configuration: c, trials: byConfiguration.get(c) ?? [], rank: i + 1 }));
  const rest = [...byConfiguration.entries()].filter(([c]) => !file.ranking.includes(c)).map(([c, trials]) => ({ configuration: c, trials, rank: undefined }));
  return [...ranked, ...rest];
}

function statusCell(trials: TrialEntry[]): string {
  const statuses = [...new Set(trials.map((t) => t.status))];
  if (statuses.length === 1 && statuses[0] === 'pruned') {
    const epochs = [...new Set(trials.map((t) => t.epoch))];
    return `pruned at epoch ${epochs.join(', ')}`;
  }
  if (statuses.includes('failed')) return trials.length === 1 ? 'failed' : `${trials.filter((t) => t.status === 'failed').length} of ${trials.length} failed`;
  if (statuses.length === 1 && statuses[0] === 'completed' && trials.some((t) => t.expectationsMet === false)) return 'expectations not met';
  return statuses.join(', ');
}

/**
 * The final table: one row per configuration, ranked by the sweep metric (mean ± std over
 * repeats; the test metrics too, other columns the mean), then those without a rank (pruned, failed, unfinished). Besides the parameters and
 * the metrics: the train−test gap of every metric measured on both, the epochs each configuration
 * trained when early termination is on, the step at which a `stopWhen` condition ended it
 * ("never" when it ran its budget; shown when some trial stopped, or when `stoppedColumn` says so),
 * and the error of a failed one.
 */
export function sweepTable(file: SweepSummaryFile, options: { stoppedColumn?: boolean } = {}): string {
  const { metric } = file.sweep;
  const repeats = file.sweep.repeats;
  const parameterNames = varyingParameters(file.trials.map((t) => t.values));
  const metricNames = [...new Set(file.trials.flatMap((t) => Object.keys(t.metrics)))].sort(metricOrder(metric));
  if (!metricNames.includes(metric)) metricNames.unshift(metric);
  const gaps = metricNames.filter((m) => m.startsWith('train.') && metricNames.includes(`test.${m.slice('train.'.length)}`)).map((m) => m.slice('train.'.length));
  const gapHead = (m: string) => (m.includes('loss') ? `test−train ${m}` : `train−test ${m}`);
  const gapOf = (t: TrialEntry, m: string): number | null | undefined => {
    const train = t.metrics[`train.${m}`];
    const test = t.metrics[`test.${m}`];
    if (train === undefined || test === undefined) return undefined;
    if (train === null || test === null) return null;
    return m.includes('loss') ? test - train : train - test;
  };
  const showEpochs = file.sweep.earlyTermination !== null;
  const showStopped = options.stoppedColumn ?? file.trials.some((t) => t.stopped !== undefined);
  const showErrors = file.trials.some((t) => t.error !== undefined);
  const head = [
    '#',
    'trial',
    ...parameterNames,
    'status',
    ...metricNames.map((m) => (m === metric ? `${m} (${file.sweep.goal === 'maximize' ? 'max' : 'min'})` : m)),
    ...gaps.map(gapHead),
    ...(showEpochs ? ['epochs'] : []),
    ...(showStopped ? ['stopped at step'] : []),
    ...(showErrors ? ['error'] : []),
  ];
  const table = new Table({ head, style: plain });
  for (const row of tableRows(file)) {
    const { trials } = row;
    const first = trials[0]!;
    const completed = trials.filter((t) => t.status === 'completed');
    const shown = completed.length > 0 ? completed : trials;
    table.push([
      row.rank === undefined ? '' : String(row.rank),
      idRange(trials.map((t) => t.id)),
      ...parameterNames.map((p) => formatValue(first.values[p])),
      statusCell(trials),
      // ± std where the ranking and the reported result are read: the metric and the test metrics.
      ...metricNames.map((m) => meanCell(shown.map((t) => t.metrics[m]), m === metric || m.startsWith('test.') ? repeats : 1)),
      ...gaps.map((m) => meanCell(shown.map((t) => gapOf(t, m)), 1)),
      ...(showEpochs ? [meanCell(trials.map(trialEpochs), repeats)] : []),
      ...(showStopped ? [trials.map((t) => (t.stopped !== undefined ? String(t.stopped.step) : t.status === 'completed' ? 'never' : '—')).join(', ')] : []),
      ...(showErrors ? [firstLine(trials.find((t) => t.error !== undefined)?.error ?? '')] : []),
    ]);
  }
  return table.toString();
}

/** The best configuration in a sentence: its trials, values, metric (mean ± std) and test metrics. */
export function bestLine(file: SweepSummaryFile): string | undefined {
  const best = file.best;
  if (best === null) return undefined;
  const { metric } = file.sweep;
  const trials = file.trials.filter((t) => best.trialIds.includes(t.id));
  const value = meanCell(trials.map((t) => t.metrics[metric]), file.sweep.repeats);
  const held = Object.keys(best.metrics)
    .filter((m) => m !== metric && m.startsWith('test.'))
    .sort()
    .map((m) => `${m} ${meanCell(trials.map((t) => t.metrics[m]), file.sweep.repeats)}`);
  const label = configurationLabel(best.values, varyingParameters(file.trials.map((t) => t.values)));
  return `best: ${idRange(best.trialIds)} (${label}): ${metric} ${value}${held.length > 0 ? `; ${held.join(', ')}` : ''}`;
}

/** Trials by how they stand, in a line: `12 of 21 trials: 8 completed, 2 pruned, 1 failed, 1 running`. */
export function progressLine(file: Pick<SweepSummaryFile, 'trials' | 'sweep'>): string {
  const count = (status: string) => file.trials.filter((t) => t.status === status).length;
  const parts = (['completed', 'pruned', 'failed', 'running'] as const).map((s) => [s, count(s)] as const).filter(([, n]) => n > 0);
  const done = count('completed') + count('pruned') + count('failed');
  return `${done} of ${file.sweep.totalTrials} trials done${parts.length > 0 ? `: ${parts.map(([s, n]) => `${n} ${s}`).join(', ')}` : ''}`;
}

/**
 * The live view of a running sweep: a progress line, then a table of the running trials (their
 * values, the last epoch reported and its metric) and the most recently finished ones.
 */
export function liveTable(records: readonly TrialRecord[], options: { metric: string; totalTrials: number; finishedOrder: readonly string[]; started: ReadonlyMap<string, number>; now: number; shownFinished?: number }): string {
  const { metric } = options;
  const byId = new Map(records.map((r) => [r.spec.trialId, r]));
  const count = (status: string) => records.filter((r) => r.status === status).length;
  const done = count('completed') + count('pruned') + count('failed');
  const head = `${done} of ${options.totalTrials} trials done (${count('completed')} completed, ${count('pruned')} pruned, ${count('failed')} failed), ${count('running')} running`;
  const table = new Table({ head: ['trial', 'values', 'status', 'epoch', metric, 'time'], style: { ...plain, compact: true } });
  const lastValue = (r: TrialRecord) => r.intermediate[r.intermediate.length - 1];
  const seconds = (id: string) => {
    const since = options.started.get(id);
    return since === undefined ? '' : `${Math.round((options.now - since) / 1000)} s`;
  };
  for (const r of records.filter((x) => x.status === 'running')) {
    table.push([r.spec.trialId, configurationLabel(r.spec.values), 'running', String(lastValue(r)?.epoch ?? ''), formatNumber(lastValue(r)?.value), seconds(r.spec.trialId)]);
  }
  for (const id of options.finishedOrder.slice(-(options.shownFinished ?? 8)).reverse()) {
    const r = byId.get(id);
    if (r === undefined || r.result === undefined) continue;
    const status = r.status === 'pruned' ? `pruned at ${r.result.epoch}` : r.status === 'failed' ? `failed: ${firstLine(r.result.error ?? '', 40)}` : r.status;
    const value = r.result.metrics[metric] ?? lastValue(r)?.value;
    table.push([r.spec.trialId, configurationLabel(r.spec.values), status, String(r.result.epoch ?? lastValue(r)?.epoch ?? ''), formatNumber(value), '']);
  }
  return `${head}\n${table.toString()}`;
}

/**
 * Column heads for configurations: only the `type` of each value when the values are registry
 * entries (`{type: adam, learningRate: 0.001}`) and the types alone tell the configurations apart.
 */
export function shortLabels(configurations: readonly ParameterValues[]): string[] {
  const names = varyingParameters(configurations);
  const typeOf = (value: PlainValue | undefined) => (isPlainObject(value) && typeof value['type'] === 'string' ? value['type'] : formatValue(value));
  const short = configurations.map((values) => names.map((name) => typeOf(values[name])).join(', '));
  if (new Set(short).size === short.length) return short;
  return configurations.map((values) => configurationLabel(values, names));
}

/**
 * The given metrics at every epoch end, one row per epoch and one column per configuration (the
 * mean over its repeats): the optimizer comparison's loss and accuracy per epoch. `rows` are each
 * trial's metrics.jsonl rows, by trial id. Undefined when no trial logged an epoch end.
 */
export function epochTable(file: SweepSummaryFile, rows: ReadonlyMap<string, readonly Record<string, number>[]>, keys: string[]): string | undefined {
  const configurations = tableRows(file);
  const epochs = new Set<number>();
  const at = new Map<string, Map<number, Record<string, number>>>();
  for (const trial of file.trials) {
    const byEpoch = new Map<number, Record<string, number>>();
    for (const row of rows.get(trial.id) ?? []) {
      const epoch = row['epoch'];
      if (epoch === undefined || !Number.isInteger(epoch) || epoch < 1 || !keys.some((k) => row[k] !== undefined)) continue;
      byEpoch.set(epoch, row);
      epochs.add(epoch);
    }
    at.set(trial.id, byEpoch);
  }
  if (epochs.size === 0) return undefined;
  const head = ['epoch', ...shortLabels(configurations.map((c) => c.trials[0]!.values))];
  const table = new Table({ head, style: plain });
  for (const epoch of [...epochs].sort((a, b) => a - b)) {
    table.push([
      String(epoch),
      ...configurations.map((c) =>
        keys
          .map((k) => {
            const values = c.trials.map((t) => at.get(t.id)?.get(epoch)?.[k]).filter((v): v is number => v !== undefined);
            return values.length === 0 ? '—' : formatNumber(values.reduce((a, b) => a + b, 0) / values.length);
          })
          .join(' / '),
      ),
    ]);
  }
  return `${keys.join(' / ')} at each epoch end${file.sweep.repeats > 1 ? ` (mean of ${file.sweep.repeats} repeats)` : ''}\n${table.toString()}`;
}
