import { useEffect, useMemo, useState } from 'preact/hooks';
import { chooseStepAxis, comparisonCurvesSpec, finalMetricsSpec, formatNumber } from '@dlexp/plots';
import type { ComparisonResponse } from '@dlexp/dashboard';
import { fetchComparison } from '../api';
import { VegaChart } from '../components/vega-chart';
import { ErrorBox, formatValue, Section, StatusBadge } from '../components/tables';
import { links } from '../router';

/** Keys every row has that are axes, not metrics. */
const AXES = new Set(['step', 'epoch', 'timeMs']);

/**
 * Runs side by side: the config keys that differ, the final metrics as a table and as bars, and
 * the curves of one metric overlaid (the same charts as `runner`'s comparison figure).
 */
export function ComparePage({ paths }: { paths: string[] }) {
  const [comparison, setComparison] = useState<ComparisonResponse | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [metric, setMetric] = useState('train.loss');
  useEffect(() => {
    if (paths.length === 0) return;
    setComparison(undefined);
    fetchComparison(paths)
      .then(setComparison)
      .catch((error: Error) => setProblem(error.message));
  }, [paths.join('\n')]);

  const curveMetrics = useMemo(() => [...new Set((comparison?.runs ?? []).flatMap((r) => r.rows.flatMap((row) => Object.keys(row))))].filter((k) => !AXES.has(k)).sort(), [comparison]);
  const charts = useMemo(() => {
    if (comparison === undefined) return [];
    const out = [];
    if (comparison.metricKeys.length > 0) {
      out.push({ name: 'final-metrics', spec: finalMetricsSpec({ runs: comparison.runs.map((r) => ({ label: r.label, metrics: r.metrics })), metrics: comparison.metricKeys }) });
    }
    const withCurve = comparison.runs.map((r) => ({ label: r.label, rows: r.rows.filter((row) => row[metric] !== undefined) })).filter((c) => c.rows.length > 0);
    if (withCurve.length > 0) {
      const x = withCurve.every((c) => chooseStepAxis(c.rows) === 'epoch') ? 'epoch' : 'step';
      const curves = withCurve.map((c) => ({
        name: c.label,
        points: c.rows.map((row, i) => ({ step: row['step'] ?? i + 1, ...(row['epoch'] !== undefined ? { epoch: row['epoch'] } : {}), value: row[metric]! })),
      }));
      out.push({ name: `curves-${metric}`, spec: comparisonCurvesSpec({ metric, curves, x }) });
    }
    return out;
  }, [comparison, metric]);

  if (paths.length === 0) return <main><p>Pick runs to compare on the <a href={links.runs()}>runs page</a>.</p></main>;
  if (problem !== undefined) return <main><ErrorBox message={problem} /></main>;
  if (comparison === undefined) return <main><p class="muted">reading {paths.length} folders…</p></main>;
  const { runs } = comparison;
  return (
    <main class="compare-page">
      <header class="page-header">
        <p class="breadcrumbs">
          <a href={links.runs()}>Runs</a>
        </p>
        <h1>Comparison of {runs.length} runs</h1>
      </header>
      <Section title="What differs" id="differences">
        <table class="comparison" id="comparison-table">
          <thead>
            <tr>
              <th />
              {runs.map((r) => (
                <th key={r.path} scope="col">
                  <a href={links.run(r.path)}>{r.label}</a>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {comparison.differingKeys.length === 0 && (
              <tr>
                <td colSpan={runs.length + 1} class="muted">
                  The configs are the same.
                </td>
              </tr>
            )}
            {comparison.differingKeys.map((key) => (
              <tr key={key} class="config-key">
                <th scope="row">{key}</th>
                {runs.map((r) => (
                  <td key={r.path}>{formatValue(r.config[key])}</td>
                ))}
              </tr>
            ))}
            <tr>
              <th scope="row">status</th>
              {runs.map((r) => (
                <td key={r.path}>
                  <StatusBadge status={r.status === 'completed' && r.expectationsMet === false ? 'expectations not met' : r.status} />
                </td>
              ))}
            </tr>
            {comparison.metricKeys.map((m) => (
              <tr key={m} class="metric">
                <th scope="row">{m}</th>
                {runs.map((r) => (
                  <td key={r.path} class="number">
                    {formatNumber(r.metrics[m])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Charts" id="charts">
        <label>
          curves of{' '}
          <select value={metric} onChange={(e) => setMetric(e.currentTarget.value)} aria-label="curve metric">
            {curveMetrics.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <div class="figures">
          {charts.map((c) => (
            <VegaChart key={c.name} name={c.name} spec={c.spec} />
          ))}
        </div>
      </Section>
    </main>
  );
}
