import { formatNumber } from '@dlexp/core';

export { formatNumber };

/** A config or parameter value as one table cell: strings bare, everything else as JSON. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value);
  return JSON.stringify(value);
}

/** A name usable as a file name stem: letters, digits, dots, dashes and underscores. */
export function fileStem(name: string): string {
  const stem = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return stem === '' ? 'figure' : stem;
}
