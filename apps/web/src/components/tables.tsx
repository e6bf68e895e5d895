import type { ComponentChildren } from 'preact';
import { formatNumber, orderMetrics } from '@dlexp/plots';
import type { ExpectationRecord, ModelSummary } from '@dlexp/dashboard';

/** A config or parameter value as one table cell: strings bare, numbers rounded, the rest as JSON. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value);
  return JSON.stringify(value);
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`status status-${status.replace(/[^a-z]+/g, '-')}`}>{status}</span>;
}

/** Final metrics, test first; each value also in data-value with all its digits (for tests and copying). */
export function MetricsTable({ metrics, caption }: { metrics: Record<string, number>; caption?: string }) {
  const keys = orderMetrics(Object.keys(metrics));
  if (keys.length === 0) return <p class="muted">No final metrics yet.</p>;
  return (
    <table class="metrics">
      {caption !== undefined && <caption>{caption}</caption>}
      <tbody>
        {keys.map((key) => (
          <tr key={key}>
            <th scope="row">{key}</th>
            <td class="number" data-metric={key} data-value={String(metrics[key])} title={String(metrics[key])}>
              {formatNumber(metrics[key])}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExpectationsTable({ expectations }: { expectations: ExpectationRecord[] }) {
  if (expectations.length === 0) return <p class="muted">The experiment states no expectations.</p>;
  const met = expectations.filter((e) => e.met).length;
  return (
    <table class="expectations">
      <caption>
        {met} of {expectations.length} met
      </caption>
      <thead>
        <tr>
          <th>metric</th>
          <th>min</th>
          <th>max</th>
          <th>actual</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {expectations.map((e) => (
          <tr key={e.metric} class={e.met ? 'met' : 'not-met'}>
            <td>{e.metric}</td>
            <td class="number">{formatNumber(e.min)}</td>
            <td class="number">{formatNumber(e.max)}</td>
            <td class="number">{formatNumber(e.actual)}</td>
            <td>{e.met ? '✓ met' : '✗ not met'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const shapeText = (shape: (number | null)[]) => `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;

export function ModelSummaryTable({ model }: { model: ModelSummary }) {
  return (
    <table class="model-summary">
      <caption>
        {model.totalParams.toLocaleString('en')} parameters (from {model.source})
      </caption>
      <thead>
        <tr>
          <th>name</th>
          <th>type</th>
          <th>settings</th>
          <th>output</th>
          <th>weights</th>
          <th>parameters</th>
        </tr>
      </thead>
      <tbody>
        {model.rows.map((row) => (
          <tr key={row.name}>
            <td>{row.name}</td>
            <td>{row.type}</td>
            <td>{row.details}</td>
            <td>{row.outputShape === undefined ? '' : shapeText(row.outputShape)}</td>
            <td>{row.shapes.map(shapeText).join(' ')}</td>
            <td class="number">{row.params.toLocaleString('en')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section id={id}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function ErrorBox({ message }: { message: string }) {
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}
