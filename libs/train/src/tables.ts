import Table from 'cli-table3';
import { formatNumber } from '@dlexp/core';
import type { ExpectationResult } from './expectations';

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

export { formatNumber };
