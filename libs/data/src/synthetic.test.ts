import { describe, expect, it } from 'vitest';
import { createDatasetRegistry } from './index';
import { fillDefaults } from '@dlexp/core';

const context = { seed: 1, resolvePath: (p: string) => p };

async function load(written: Record<string, unknown>) {
  const entry = createDatasetRegistry().get('synthetic');
  return entry.create(fillDefaults(entry.params, written, () => undefined), context);
}

describe('synthetic dataset', () => {
  it('samples the linear function without noise exactly', async () => {
    const data = await load({ function: 'linear', samples: 100 });
    const train = data.splits.train!;
    expect(train.size).toBe(100);
    const x = train.columns['x']!.data;
    const y = train.columns['y']!.data;
    for (let i = 0; i < 100; i++) {
      expect(x[i]).toBeGreaterThanOrEqual(0);
      expect(x[i]).toBeLessThan(1);
      expect(y[i]).toBeCloseTo(0.1 * x[i]! + 0.2, 6);
    }
  });
  it('spaces x evenly and adds seeded noise to x²', async () => {
    const a = await load({ function: 'quadratic', samples: 200, xMin: -0.5, xMax: 0.5, spacing: 'even', noiseStddev: 0.02 });
    const b = await load({ function: 'quadratic', samples: 200, xMin: -0.5, xMax: 0.5, spacing: 'even', noiseStddev: 0.02 });
    const x = a.splits.train!.columns['x']!.data;
    expect(x[0]).toBeCloseTo(-0.5, 6);
    expect(x[199]).toBeCloseTo(0.5, 6);
    expect(a.splits.train!.columns['y']!.data).toEqual(b.splits.train!.columns['y']!.data);
    const residuals = Array.from(x, (xi, i) => a.splits.train!.columns['y']!.data[i]! - xi * xi);
    const std = Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / residuals.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
  });
});
