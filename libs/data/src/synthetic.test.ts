import { describe, expect, it } from 'vitest';
import { asInMemory, createDatasetRegistry } from './index';
import { fillDefaults } from '@dlexp/core';

const context = { seed: 1, resolvePath: (p: string) => p };

async function load(written: Record<string, unknown>) {
  const entry = createDatasetRegistry().get('synthetic');
  return entry.create(fillDefaults(entry.params, written, () => undefined), context);
}

describe('synthetic dataset', () => {
  it('samples the linear function without noise exactly', async () => {
    const data = await load({ function: 'linear', samples: 100 });
    const train = asInMemory(data.splits.train!);
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
    const trainA = asInMemory(a.splits.train!);
    const x = trainA.columns['x']!.data;
    expect(x[0]).toBeCloseTo(-0.5, 6);
    expect(x[199]).toBeCloseTo(0.5, 6);
    expect(trainA.columns['y']!.data).toEqual(asInMemory(b.splits.train!).columns['y']!.data);
    const residuals = Array.from(x, (xi, i) => trainA.columns['y']!.data[i]! - xi * xi);
    const std = Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / residuals.length);
    expect(std).toBeGreaterThan(0.015);
    expect(std).toBeLessThan(0.025);
  });
});

describe('2-D optimizer test surfaces', () => {
  it('samples each surface at its known minimum and on an even grid', async () => {
    const minima: [string, number, number][] = [
      ['rosenbrock', 1, 1],
      ['beale', 3, 0.5],
      ['himmelblau', 3, 2],
      ['booth', 1, 3],
      ['rastrigin', 0, 0],
      ['saddle', 0, 0],
    ];
    for (const [name, a, b] of minima) {
      // A 101x101 grid over [-5, 5] steps by 0.1, so every listed minimum is a grid point.
      const data = await load({ function: name, samples: 101 * 101, xMin: -5, xMax: 5, spacing: 'even' });
      const train = asInMemory(data.splits.train!);
      expect(train.columns['x']!.shape).toEqual([101 * 101, 2]);
      const x = train.columns['x']!.data;
      const y = train.columns['y']!.data;
      const at = Array.from(y.keys()).find((i) => Math.abs(x[2 * i]! - a) < 1e-4 && Math.abs(x[2 * i + 1]! - b) < 1e-4)!;
      expect(y[at], name).toBeCloseTo(0, 6);
      if (name !== 'saddle') expect(Math.min(...y), name).toBeGreaterThanOrEqual(-1e-6);
    }
    await expect(load({ function: 'booth', samples: 10, spacing: 'even' })).rejects.toThrow(/square number of points \(9 or 16\)/);
  });
});
