/**
 * Contour lines of a surface sampled on a grid, as straight segments (marching squares), so a
 * Vega-Lite chart can draw them as rules: Vega-Lite has no contour mark of its own. Pure functions
 * on plain data, usable in a browser as well as in Node.
 */

/** A surface sampled on a grid: `values[j][i]` is the height at (`xs[i]`, `ys[j]`). */
export interface SurfaceGrid {
  xs: number[];
  ys: number[];
  values: number[][];
}

export interface ContourSegment {
  level: number;
  x: number;
  y: number;
  x2: number;
  y2: number;
}

/** Samples `height(x, y)` on an evenly spaced grid over the given ranges. */
export function sampleSurface(
  height: (x: number, y: number) => number,
  range: { x: [number, number]; y: [number, number]; samples?: number | [number, number] },
): SurfaceGrid {
  const [nx, ny] = typeof range.samples === 'number' ? [range.samples, range.samples] : (range.samples ?? [41, 41]);
  if (!(nx >= 2 && ny >= 2)) throw new RangeError(`a surface grid needs at least 2 samples per axis, got ${nx} × ${ny}`);
  const steps = (from: number, to: number, n: number) => Array.from({ length: n }, (_, i) => from + ((to - from) * i) / (n - 1));
  const xs = steps(range.x[0], range.x[1], nx);
  const ys = steps(range.y[0], range.y[1], ny);
  return { xs, ys, values: ys.map((y) => xs.map((x) => height(x, y))) };
}

/** Checks the grid's shape; a ragged or empty grid is an error that says where. */
export function checkSurfaceGrid(surface: SurfaceGrid): void {
  if (surface.xs.length < 2 || surface.ys.length < 2) throw new RangeError(`a surface grid needs at least 2 × 2 samples, got ${surface.xs.length} × ${surface.ys.length}`);
  if (surface.values.length !== surface.ys.length) throw new RangeError(`the surface has ${surface.values.length} rows of values for ${surface.ys.length} y samples`);
  surface.values.forEach((row, j) => {
    if (row.length !== surface.xs.length) throw new RangeError(`row ${j} of the surface has ${row.length} values for ${surface.xs.length} x samples`);
  });
}

/** `count` heights evenly spaced strictly between the surface's lowest and highest finite values. */
export function contourLevels(surface: SurfaceGrid, count: number): number[] {
  let low = Infinity;
  let high = -Infinity;
  for (const row of surface.values) {
    for (const value of row) {
      if (!Number.isFinite(value)) continue;
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  if (!(high > low)) return [];
  return Array.from({ length: count }, (_, k) => low + ((high - low) * (k + 1)) / (count + 1));
}

/** The segments of every contour line at the given levels. */
export function contourSegments(surface: SurfaceGrid, levels: number[]): ContourSegment[] {
  checkSurfaceGrid(surface);
  const { xs, ys, values } = surface;
  const segments: ContourSegment[] = [];
  for (const level of levels) {
    for (let j = 0; j + 1 < ys.length; j++) {
      for (let i = 0; i + 1 < xs.length; i++) {
        const corners = [
          { x: xs[i]!, y: ys[j]!, v: values[j]![i]! },
          { x: xs[i + 1]!, y: ys[j]!, v: values[j]![i + 1]! },
          { x: xs[i + 1]!, y: ys[j + 1]!, v: values[j + 1]![i + 1]! },
          { x: xs[i]!, y: ys[j + 1]!, v: values[j + 1]![i]! },
        ] as const;
        if (corners.some((c) => !Number.isFinite(c.v))) continue;
        // Edges in order bottom, right, top, left; each crossed edge gives one point of the line.
        const crossings: ({ x: number; y: number } | undefined)[] = [0, 1, 2, 3].map((edge) => {
          const a = corners[edge]!;
          const b = corners[(edge + 1) % 4]!;
          if (a.v < level === b.v < level) return undefined;
          const t = (level - a.v) / (b.v - a.v);
          return { x: a.x + t * (b.x - a.x), y: a.y + t * (b.y - a.y) };
        });
        const crossed = crossings.flatMap((point, edge) => (point === undefined ? [] : [edge]));
        const pairs: [number, number][] = [];
        if (crossed.length === 2) pairs.push([crossed[0]!, crossed[1]!]);
        else if (crossed.length === 4) {
          // An ambiguous cell (two opposite corners above the level): the cell's mean decides
          // whether the first corner joins the centre, and so which corners the two lines cut off.
          const centre = (corners[0].v + corners[1].v + corners[2].v + corners[3].v) / 4;
          if (centre < level === corners[0].v < level) pairs.push([0, 1], [2, 3]);
          else pairs.push([3, 0], [1, 2]);
        }
        for (const [from, to] of pairs) {
          const a = crossings[from]!;
          const b = crossings[to]!;
          segments.push({ level, x: a.x, y: a.y, x2: b.x, y2: b.y });
        }
      }
    }
  }
  return segments;
}
