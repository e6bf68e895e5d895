import type { ExpectationConfig } from '@dlexp/config';

export interface ExpectationResult {
  metric: string;
  min?: number;
  max?: number;
  actual: number | undefined;
  met: boolean;
}

/** Checks final metrics against `expect:` (or `quick.expect:`). A missing metric is unmet. */
export function checkExpectations(expectations: Record<string, ExpectationConfig>, metrics: Record<string, number>): ExpectationResult[] {
  return Object.entries(expectations).map(([metric, bounds]) => {
    const actual = metrics[metric];
    const met =
      actual !== undefined &&
      Number.isFinite(actual) &&
      (bounds.min === undefined || actual >= bounds.min) &&
      (bounds.max === undefined || actual <= bounds.max);
    const result: ExpectationResult = { metric, actual, met };
    if (bounds.min !== undefined) result.min = bounds.min;
    if (bounds.max !== undefined) result.max = bounds.max;
    return result;
  });
}
