import { describe, expect, it } from 'vitest';
import { contourLevels, contourSegments, sampleSurface } from './contours';

describe('contours', () => {
  it('follows a circle: every segment end of x² + y² = 0.25 lies near radius 0.5', () => {
    const bowl = sampleSurface((x, y) => x * x + y * y, { x: [-1, 1], y: [-1, 1], samples: 41 });
    const segments = contourSegments(bowl, [0.25]);
    expect(segments.length).toBeGreaterThan(20);
    for (const s of segments) {
      expect(Math.hypot(s.x, s.y)).toBeCloseTo(0.5, 2);
      expect(Math.hypot(s.x2, s.y2)).toBeCloseTo(0.5, 2);
    }
  });

  it('draws the level-0 lines of the saddle x² − y² along both diagonals', () => {
    const saddle = sampleSurface((x, y) => x * x - y * y, { x: [-1, 1], y: [-1, 1], samples: 20 });
    const segments = contourSegments(saddle, [0]);
    expect(segments.length).toBeGreaterThan(0);
    for (const s of segments) expect(Math.abs(Math.abs(s.x) - Math.abs(s.y))).toBeLessThan(1e-9);
  });

  it('spaces levels strictly between the lowest and highest values, ignoring ones that are not finite', () => {
    const surface = { xs: [0, 1], ys: [0, 1], values: [[0, 4], [NaN, 2]] };
    expect(contourLevels(surface, 3)).toEqual([1, 2, 3]);
    expect(contourLevels({ xs: [0, 1], ys: [0, 1], values: [[1, 1], [1, 1]] }, 3)).toEqual([]);
    // A cell with a missing value draws nothing rather than a line through it.
    expect(contourSegments(surface, [1])).toEqual([]);
  });

  it('refuses a grid of fewer than 2 × 2 samples', () => {
    expect(() => sampleSurface(() => 0, { x: [0, 1], y: [0, 1], samples: 1 })).toThrow(/at least 2 samples per axis/);
    expect(() => contourSegments({ xs: [0], ys: [0, 1], values: [[0], [0]] }, [0])).toThrow(/at least 2 × 2 samples, got 1 × 2/);
  });
});
