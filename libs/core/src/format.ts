/** Numbers as people read them in a results table: 4 significant digits, no exponent for common sizes. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-4 || magnitude >= 1e6)) return value.toExponential(3);
  return Number(value.toPrecision(4)).toString();
}
