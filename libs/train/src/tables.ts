import Table from 'cli-table3';
import type { ExpectationResult } from './expectations';

/** Numbers as people read them in a results table: 4 significant digits, no exponent for common sizes. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e6)) return value.toExponential(3);
  return Number(value.toPrecision(4)).toString();
}

const plain = { head: [], border: [] };

export function metricsTable(metrics: Record<string, number>): string {
  const table = new Table({ head: ['metric', 'value'], style: plain });
  for (const [key, value] of Object.entries(metrics).sort(([a], [b]) => a.localeCompare(b))) table.push([key, formatNumber(value)]);
  return table.toString();
}

export function expectationsTable(results: ExpectationResult[]): string {
  const table = new Table({ head: ['metric', 'expected', 'actual', ''], style: plain });
  for (const r of results) {
    const bounds = [r.min !== undefined ? `≥ ${r.min}` : '', r.max !== undefined ? `≤ ${r.max}` : ''].filter(Boolean).join(' and ');
    table.push([r.metric, bounds, r.actual === undefined ? 'not produced' : formatNumber(r.actual), r.met ? 'ok' : 'FAILED']);
  }
  return table.toString();
}
