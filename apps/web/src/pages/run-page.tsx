import { useEffect, useRef, useState } from 'preact/hooks';
import type { MetricsRow, RunDetail } from '@dlexp/dashboard';
import { fetchRun, followRun } from '../api';
import { RunFigures } from '../components/figures';
import { ErrorBox, ExpectationsTable, MetricsTable, ModelSummaryTable, Section, StatusBadge } from '../components/tables';
import { links } from '../router';

/** How often, at most, new rows of a live run redraw the charts. */
const REDRAW_MS = 400;

function Timing({ summary }: { summary: Record<string, unknown> | undefined }) {
  const timing = summary?.['timing'];
  if (typeof timing !== 'object' || timing === null) return null;
  const t = timing as Record<string, unknown>;
  const parts = [
    typeof t['steps'] === 'number' ? `${t['steps']} steps` : undefined,
    typeof t['trainMs'] === 'number' ? `trained in ${(t['trainMs'] / 1000).toFixed(1)} s` : undefined,
    typeof t['msPerStep'] === 'number' ? `${t['msPerStep'].toFixed(2)} ms per step` : undefined,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? null : <span>{parts.join(' · ')}</span>;
}

/**
 * One run: what it is, its curves (following it live while it trains: rows arrive as the runner
 * appends them to metrics.jsonl), final metrics, expectations, model and config.
 */
export function RunPage({ path }: { path: string }) {
  const [run, setRun] = useState<RunDetail | undefined>();
  const [rows, setRows] = useState<MetricsRow[]>([]);
  const [problem, setProblem] = useState<string | undefined>();
  const [live, setLive] = useState<'no' | 'following' | 'interrupted'>('no');
  const pending = useRef<{ rows: MetricsRow[]; timer?: ReturnType<typeof setTimeout> }>({ rows: [] });

  useEffect(() => {
    let close: (() => void) | undefined;
    let cancelled = false;
    setRun(undefined);
    setRows([]);
    setProblem(undefined);
    fetchRun(path)
      .then((detail) => {
        if (cancelled) return;
        setRun(detail);
        setRows(detail.rows);
        if (detail.summary !== undefined) return;
        setLive('following');
        const flush = () => {
          const arrived = pending.current.rows;
          pending.current = { rows: [] };
          if (arrived.length > 0) setRows((before) => [...before, ...arrived]);
        };
        close = followRun(
          path,
          detail.metricsOffset,
          (event) => {
            if (event.type === 'rows') {
              pending.current.rows.push(...event.rows);
              pending.current.timer ??= setTimeout(flush, REDRAW_MS);
            } else if (event.type === 'reset') {
              pending.current = { rows: [] };
              setRows(event.rows);
            } else {
              flush();
              setRun(event.run);
              setRows(event.run.rows);
              setLive('no');
            }
          },
          () => setLive('interrupted'),
        );
      })
      .catch((error: Error) => !cancelled && setProblem(error.message));
    return () => {
      cancelled = true;
      close?.();
      if (pending.current.timer !== undefined) clearTimeout(pending.current.timer);
      pending.current = { rows: [] };
    };
  }, [path]);

  if (problem !== undefined) return <main><ErrorBox message={problem} /></main>;
  if (run === undefined) return <main><p class="muted">reading {path}…</p></main>;
  const description = typeof run.config?.['description'] === 'string' ? run.config['description'] : undefined;
  return (
    <main class="run-page" data-status={run.status}>
      <header class="page-header">
        <p class="breadcrumbs">
          <a href={links.runs()}>Runs</a>
          {run.sweep !== undefined && (
            <>
              {' / '}
              <a href={links.sweep(run.sweep)}>{run.sweep}</a>
            </>
          )}
        </p>
        <h1>
          {run.name === '' ? run.path : run.name} <StatusBadge status={run.status} />
          {live === 'following' && <span class="live" id="live-indicator">● live</span>}
          {live === 'interrupted' && <span class="muted"> (connection lost; reload to continue following)</span>}
        </h1>
        {description !== undefined && <p>{description}</p>}
        <p class="facts">
          <span>{run.path}</span>
          {run.seed !== undefined && <span>seed {run.seed}</span>}
          {run.backend !== undefined && <span>backend {run.backend}</span>}
          {run.startedAt !== undefined && <span>started {run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, '')}</span>}
          <span id="row-count" data-rows={rows.length}>
            {rows.length} logged rows
          </span>
          <Timing summary={run.summary} />
        </p>
        {run.error !== undefined && <ErrorBox message={run.error} />}
        {run.problems.map((p) => (
          <ErrorBox key={p} message={p} />
        ))}
      </header>
      <Section title="Curves" id="curves">
        <RunFigures run={{ dir: run.path, rows, ...(run.config !== undefined ? { config: run.config } : {}), ...(run.predictions !== undefined ? { predictions: run.predictions } : {}) }} />
      </Section>
      <div class="columns">
        <Section title="Final metrics" id="final-metrics">
          <MetricsTable metrics={run.metrics} />
        </Section>
        <Section title="Expectations" id="expectations">
          {run.summary === undefined ? <p class="muted">Checked when the run ends.</p> : <ExpectationsTable expectations={run.expectations} />}
        </Section>
      </div>
      <Section title="Model" id="model">
        {run.model === undefined ? <p class="muted">No graph.json in this run.</p> : <ModelSummaryTable model={run.model} />}
      </Section>
      <Section title="Config" id="config">
        {run.configText === undefined ? <p class="muted">No config.resolved.yaml in this run.</p> : <pre class="config">{run.configText}</pre>}
      </Section>
    </main>
  );
}
