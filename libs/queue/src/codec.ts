/*
 * Job data, results and progress cross Redis as JSON, which has no NaN or Infinity; a diverged
 * trial's loss and a metric that never became finite must arrive as they left. Non-finite
 * numbers travel as {"$number": "NaN" | "Infinity" | "-Infinity"}.
 */

const MARK = '$number';

/** JSON text of a value, non-finite numbers kept. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { [MARK]: String(v) } : v));
}

/** The value `encodeValue` wrote. A malformed text is an Error naming what it was for. */
export function decodeValue<T>(text: string, what: string): T {
  try {
    return JSON.parse(text, (_key, v: unknown) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const keys = Object.keys(v);
        const marked = (v as Record<string, unknown>)[MARK];
        if (keys.length === 1 && (marked === 'NaN' || marked === 'Infinity' || marked === '-Infinity')) return Number(marked);
      }
      return v;
    }) as T;
  } catch (error) {
    throw new Error(`${what} is not readable (${(error as Error).message})`);
  }
}
