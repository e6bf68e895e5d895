import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DataError } from '@dlexp/core';
import { formatNumber, formatValue } from './format';
import { renderSvg, scopeSvgIds, type RenderOptions } from './render';
import { folderKind, isRecord, readRun, readSweep, type RunFolder, type SweepFolder } from './run-files';
import { orderMetrics } from './compare';
import { readTrialRuns, runFigures, sweepFigures, sweepMetric, type Figure, type FigureOptions } from './run-plots';

/**
 * The self-contained HTML report of a run or a sweep: one file with the figures inline as SVG,
 * styles inline, no scripts and no external resources (its Content-Security-Policy forbids them).
 */

export interface ReportOptions extends FigureOptions, RenderOptions {
  /** Replaces the report's time stamp (for reproducible output in tests). */
  now?: Date;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
:root { color-scheme: light; }
body { font-family: 'DejaVu Sans', Verdana, sans-serif; color: #222; margin: 0 auto; max-width: 1180px; padding: 24px 32px 48px; line-height: 1.45; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; margin: 2px 0; font-size: 14px; }
.status { display: inline-block; padding: 1px 10px; border-radius: 10px; font-size: 13px; font-weight: bold; background: #eee; }
.status-completed { background: #d9f2dd; color: #135c1f; }
.status-failed, .status-unmet { background: #fadcdc; color: #8a1414; }
.status-interrupted, .status-running, .status-incomplete, .status-pruned { background: #fdf0cf; color: #6b4b00; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #eef7ee; font-weight: bold; }
.error { border-left: 4px solid #c62828; background: #fdecec; padding: 8px 12px; white-space: pre-wrap; font-family: 'DejaVu Sans Mono', monospace; font-size: 13px; }
.problems li { color: #8a1414; }
figure { margin: 18px 0 28px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 10px 12px; font-size: 12px; overflow-x: auto; font-family: 'DejaVu Sans Mono', monospace; }
footer { margin-top: 40px; color: #888; font-size: 12px; }
`;

function statusBadge(status: string): string {
  return `<span class="status status-${escapeHtml(status.replace(/[^a-z-]/gi, ''))}">${escapeHtml(status)}</span>`;
}

function table(head: string[], rows: { cells: { text: string; number?: boolean }[]; className?: string }[]): string {
  const headRow = `<tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows
    .map((row) => `<tr${row.className !== undefined ? ` class="${row.className}"` : ''}>${row.cells.map((c) => `<td${c.number === true ? ' class="number"' : ''}>${escapeHtml(c.text)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table>\n<thead>${headRow}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

async function figuresSection(figures: Figure[], options: RenderOptions): Promise<string> {
  if (figures.length === 0) return '<h2>Figures</h2>\n<p class="meta">Nothing to plot: no metrics were logged.</p>';
  const parts: string[] = [];
  for (const [index, figure] of figures.entries()) {
    // Inline SVGs share one id space in the document: give each chart's ids its own prefix.
    const svg = scopeSvgIds(await renderSvg(figure.spec, options), `f${index}-`).replace(/^<\?xml[^>]*>\s*/, '');
    parts.push(`<figure id="figure-${escapeHtml(figure.name)}" aria-label="${escapeHtml(figure.title)}">\n${svg}\n</figure>`);
  }
  return `<h2>Figures</h2>\n${parts.join('\n')}`;
}

function metricsTable(metrics: Record<string, number>): string {
  const keys = orderMetrics(Object.keys(metrics));
  if (keys.length === 0) return '<p class="meta">No final metrics.</p>';
  return table(['metric', 'value'], keys.map((k) => ({ cells: [{ text: k }, { text: formatNumber(metrics[k]), number: true }] })));
}

function problemsList(problems: string[]): string {
  if (problems.length === 0) return '';
  return `<h2>Problems reading the folder</h2>\n<ul class="problems">${problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>`;
}

function page(title: string, body: string, now: Date): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<footer>Report written ${escapeHtml(now.toISOString())}. Self-contained: figures are inline SVG; nothing is loaded from elsewhere.</footer>
</body>
</html>
`;
}

function durationText(ms: unknown): string | undefined {
  if (typeof ms !== 'number') return undefined;
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

async function runReport(run: RunFolder, options: ReportOptions): Promise<string> {
  const summary = run.summary;
  const name = summary?.name ?? (typeof run.config?.['name'] === 'string' ? run.config['name'] : 'run');
  const status = summary?.status ?? 'running';
  const unmet = summary?.expectations.filter((e) => !e.met) ?? [];
  const facts = [
    summary?.startedAt !== undefined ? `started ${summary.startedAt}` : undefined,
    durationText(summary?.timing['totalMs']) !== undefined ? `took ${durationText(summary?.timing['totalMs'])}` : undefined,
    typeof summary?.timing['steps'] === 'number' ? `${summary.timing['steps']} steps` : undefined,
    summary?.seed !== undefined ? `seed ${summary.seed}` : undefined,
    summary?.backend !== undefined ? `backend ${summary.backend.name}${typeof summary.backend['device'] === 'string' ? ` (${summary.backend['device']})` : ''}` : undefined,
  ].filter((f): f is string => f !== undefined);
  const description = typeof run.config?.['description'] === 'string' ? run.config['description'] : undefined;
  const sections: string[] = [
    `<header>\n<h1>${escapeHtml(name)} ${statusBadge(status)}${unmet.length > 0 ? ` ${statusBadge('unmet')}` : ''}</h1>`,
    description !== undefined ? `<p class="meta">${escapeHtml(description)}</p>` : '',
    `<p class="meta">${escapeHtml(facts.join(' · '))}</p>`,
    `<p class="meta">${escapeHtml(run.dir)}</p>\n</header>`,
  ];
  if (summary === undefined) sections.push('<p class="error">No summary.json yet: the run is still going, or it was killed before it finished.</p>');
  if (summary?.error !== undefined) sections.push(`<h2>Error</h2>\n<p class="error">${escapeHtml(summary.error)}</p>`);
  sections.push(`<h2>Final metrics</h2>\n${metricsTable(summary?.metrics ?? {})}`);
  if (summary !== undefined && summary.expectations.length > 0) {
    sections.push(
      `<h2>Expectations</h2>\n<p class="meta">${summary.expectations.length - unmet.length} of ${summary.expectations.length} met</p>\n` +
        table(
          ['metric', 'expected', 'actual', ''],
          summary.expectations.map((e) => ({
            cells: [
              { text: e.metric },
              { text: [e.min !== undefined ? `≥ ${e.min}` : '', e.max !== undefined ? `≤ ${e.max}` : ''].filter((b) => b !== '').join(' and ') },
              { text: e.actual === undefined ? 'not produced' : formatNumber(e.actual), number: true },
              { text: e.met ? 'met' : 'NOT MET' },
            ],
            ...(e.met ? {} : { className: 'unmet' }),
          })),
        ),
    );
  }
  sections.push(await figuresSection(runFigures(run, options), options));
  sections.push(problemsList(run.problems));
  if (run.configText !== undefined) sections.push(`<h2>Config</h2>\n<pre>${escapeHtml(run.configText)}</pre>`);
  if (summary !== undefined) {
    const details = [
      ...Object.entries(summary.timing).map(([k, v]) => ({ cells: [{ text: `timing.${k}` }, { text: typeof v === 'number' ? formatNumber(v) : formatValue(v) }] })),
      ...(summary.backend !== undefined ? Object.entries(summary.backend).map(([k, v]) => ({ cells: [{ text: `backend.${k}` }, { text: formatValue(v) }] })) : []),
      ...Object.entries(summary.versions).map(([k, v]) => ({ cells: [{ text: `versions.${k}` }, { text: v }] })),
      ...(summary.configHash !== undefined ? [{ cells: [{ text: 'configHash' }, { text: summary.configHash }] }] : []),
    ];
    sections.push(`<h2>Run details</h2>\n${table(['field', 'value'], details)}`);
  }
  return page(`${name}: ${status}`, sections.join('\n'), options.now ?? new Date());
}

async function sweepReport(sweep: SweepFolder, options: ReportOptions): Promise<string> {
  const { runs, problems } = readTrialRuns(sweep);
  const metric = sweepMetric(sweep);
  const parameters = sweep.parameterNames;
  const metricKeys = orderMetrics(sweep.trials.flatMap((t) => Object.keys(t.metrics)));
  const ordered = metric !== undefined ? [metric, ...metricKeys.filter((m) => m !== metric)] : metricKeys;
  const bestTrial = sweep.trials.find((t) => t.id === sweep.bestId);
  const facts = [
    sweep.method !== undefined ? `${sweep.method} search` : undefined,
    `${sweep.trials.length} trial${sweep.trials.length === 1 ? '' : 's'}`,
    metric !== undefined ? `${sweep.goal ?? 'maximize'} ${metric}` : undefined,
    bestTrial !== undefined && metric !== undefined ? `best ${bestTrial.id} (${metric} = ${formatNumber(bestTrial.metrics[metric])})` : undefined,
  ].filter((f): f is string => f !== undefined);
  const best = new Set(sweep.bestIds);
  // A seed column when the trials ran with different seeds (repeats of each configuration).
  const seeds = new Set(sweep.trials.map((t) => t.seed));
  const showSeed = seeds.size > 1;
  const trialRows = sweep.trials.map((trial) => ({
    cells: [
      { text: best.has(trial.id) ? `${trial.id} ★` : trial.id },
      ...parameters.map((p) => ({ text: formatValue(trial.parameters[p]) })),
      ...(showSeed ? [{ text: formatValue(trial.seed), number: true }] : []),
      { text: trial.status === 'completed' && trial.expectationsMet === false ? 'expectations not met' : trial.status },
      ...ordered.map((m) => ({ text: formatNumber(trial.metrics[m]), number: true })),
    ],
    ...(best.has(trial.id) ? { className: 'best' } : {}),
  }));
  const withMetric = sweep.configurations.filter((c) => c.metric !== undefined);
  const configurationsTable =
    withMetric.length > 0 && metric !== undefined
      ? `<h2>Configurations</h2>\n<p class="meta">${escapeHtml(metric)} over each configuration's completed repeats</p>\n` +
        table(
          ['configuration', ...parameters, 'status', 'trials', `${metric} mean`, 'std', 'repeats'],
          sweep.configurations.map((c) => ({
            cells: [
              { text: String(c.configuration + 1) },
              ...parameters.map((p) => ({ text: formatValue(c.values[p]) })),
              { text: c.status },
              { text: c.trialIds.join(', ') },
              { text: formatNumber(c.metric?.mean), number: true },
              { text: formatNumber(c.metric?.std), number: true },
              { text: c.metric === undefined ? '—' : String(c.metric.count), number: true },
            ],
            ...(c.trialIds.some((id) => best.has(id)) ? { className: 'best' } : {}),
          })),
        )
      : '';
  const sections = [
    `<header>\n<h1>${escapeHtml(sweep.name === '' ? 'sweep' : sweep.name)} ${statusBadge(sweep.status)}</h1>`,
    `<p class="meta">${escapeHtml(facts.join(' · '))}</p>`,
    `<p class="meta">${escapeHtml(sweep.dir)}</p>\n</header>`,
    configurationsTable,
    `<h2>Trials</h2>\n${table(['trial', ...parameters, ...(showSeed ? ['seed'] : []), 'status', ...ordered], trialRows)}`,
    await figuresSection(
      sweepFigures(sweep, runs, options),
      options,
    ),
    problemsList([...problems, ...[...runs.values()].flatMap((r) => r.problems)]),
  ];
  const definition = isRecord(sweep.raw?.['sweep']) ? sweep.raw['sweep'] : undefined;
  if (definition !== undefined) sections.push(`<h2>Sweep</h2>\n<pre>${escapeHtml(stringify({ sweep: definition }))}</pre>`);
  const firstConfig = sweep.trials.map((t) => runs.get(t.id)?.configText).find((t) => t !== undefined);
  if (firstConfig !== undefined) sections.push(`<h2>Config of ${escapeHtml(sweep.trials.find((t) => runs.get(t.id)?.configText !== undefined)!.id)}</h2>\n<pre>${escapeHtml(firstConfig)}</pre>`);
  return page(`${sweep.name}: sweep ${sweep.status}`, sections.join('\n'), options.now ?? new Date());
}

/** The report of a run folder or a sweep folder, as one HTML document. */
export async function renderReport(dir: string, options: ReportOptions = {}): Promise<string> {
  const kind = folderKind(dir);
  if (kind === undefined) throw new DataError(`${dir}: neither a run folder nor a sweep folder (no summary.json, metrics.jsonl or trials/)`);
  return kind === 'sweep' ? sweepReport(readSweep(dir), options) : runReport(readRun(dir), options);
}

/** Writes `<dir>/report.html` and returns its path. */
export async function writeReport(dir: string, options: ReportOptions = {}): Promise<string> {
  const html = await renderReport(dir, options);
  const file = join(dir, 'report.html');
  writeFileSync(`${file}.tmp`, html);
  renameSync(`${file}.tmp`, file);
  return file;
}

