import { ConfigError, param, RandomStream, type RegistryEntry } from '@dlexp/core';
import { createColumn, inMemorySplit, type DatasetContext, type LoadedDataset } from './dataset';

/** Classic optimizer test surfaces f(x1, x2), with their usual minima noted. */
const SURFACES = {
  /** Banana valley, minimum 0 at (1, 1). */
  rosenbrock: (a: number, b: number) => (1 - a) ** 2 + 100 * (b - a * a) ** 2,
  /** Flat regions and sharp ridges, minimum 0 at (3, 0.5). */
  beale: (a: number, b: number) => (1.5 - a + a * b) ** 2 + (2.25 - a + a * b * b) ** 2 + (2.625 - a + a * b ** 3) ** 2,
  /** Four equal minima (0 at (3, 2), (-2.805, 3.131), (-3.779, -3.283), (3.584, -1.848)). */
  himmelblau: (a: number, b: number) => (a * a + b - 11) ** 2 + (a + b * b - 7) ** 2,
  /** A plain bowl, minimum 0 at (1, 3). */
  booth: (a: number, b: number) => (a + 2 * b - 7) ** 2 + (2 * a + b - 5) ** 2,
  /** Many local minima around the global one, 0 at (0, 0). */
  rastrigin: (a: number, b: number) => 20 + a * a - 10 * Math.cos(2 * Math.PI * a) + b * b - 10 * Math.cos(2 * Math.PI * b),
  /** A saddle point at (0, 0): x1² - x2². */
  saddle: (a: number, b: number) => a * a - b * b,
} as const;
type SurfaceName = keyof typeof SURFACES;

export interface SyntheticParams {
  function: 'linear' | 'quadratic' | SurfaceName;
  samples: number;
  xMin: number;
  xMax: number;
  spacing: 'random' | 'even';
  slope: number;
  intercept: number;
  noiseStddev: number;
}

const formulas: Record<'linear' | 'quadratic', (x: number, p: SyntheticParams) => number> = {
  linear: (x, p) => p.slope * x + p.intercept,
  quadratic: (x) => x * x,
};

function isSurface(name: SyntheticParams['function']): name is SurfaceName {
  return name in SURFACES;
}

/** Points of a 2-D surface: x [samples, 2] (both coordinates in [xMin, xMax]), y [samples, 1]. */
function sampleSurface(p: SyntheticParams, name: SurfaceName, context: DatasetContext): LoadedDataset {
  const f = SURFACES[name];
  const xs = new Float32Array(2 * p.samples);
  const ys = new Float32Array(p.samples);
  const side = Math.round(Math.sqrt(p.samples));
  if (p.spacing === 'even' && side * side !== p.samples) {
    throw new ConfigError(`samples: an even grid over a 2-D function needs a square number of points (${side * side} or ${(side + 1) ** 2}), got ${p.samples}`);
  }
  const xStream = new RandomStream(context.seed, 'data', 'synthetic', 'x');
  const noiseStream = new RandomStream(context.seed, 'data', 'synthetic', 'noise');
  const step = side > 1 ? (p.xMax - p.xMin) / (side - 1) : 0;
  for (let i = 0; i < p.samples; i++) {
    const a = p.spacing === 'even' ? p.xMin + step * (i % side) : xStream.range(p.xMin, p.xMax);
    const b = p.spacing === 'even' ? p.xMin + step * Math.floor(i / side) : xStream.range(p.xMin, p.xMax);
    xs[2 * i] = a;
    xs[2 * i + 1] = b;
    ys[i] = f(a, b) + (p.noiseStddev > 0 ? noiseStream.normal(0, p.noiseStddev) : 0);
  }
  return {
    description: `synthetic ${name} surface: ${p.samples} points, x1 and x2 in [${p.xMin}, ${p.xMax}]`,
    splits: { train: inMemorySplit({ x: createColumn(xs, [p.samples, 2]), y: createColumn(ys, [p.samples, 1]) }) },
  };
}

/**
 * Regression sets from the course: `linear` is y = slope·x + intercept, `quadratic` is y = x².
 * Each is a single `train` split with features `x` and `y`, both shaped [samples, 1]. The 2-D
 * optimizer test surfaces give `x` shaped [samples, 2] instead.
 */
export const syntheticDataset: RegistryEntry<SyntheticParams, DatasetContext, Promise<LoadedDataset>> = {
  name: 'synthetic',
  description: 'Generated regression data: y = slope·x + intercept (linear) or y = x² (quadratic), plus Gaussian noise.',
  params: {
    function: param.oneOf(['linear', 'quadratic', ...(Object.keys(SURFACES) as SurfaceName[])], {
      description:
        'Which function to sample: `linear` or `quadratic` of one x; or a 2-D optimizer test surface of x = (x1, x2): ' +
        '`rosenbrock` (valley, minimum at (1, 1)), `beale` (minimum at (3, 0.5)), `himmelblau` (four minima), `booth` ' +
        '(bowl, minimum at (1, 3)), `rastrigin` (many local minima, global at (0, 0)), `saddle` (x1² - x2²).',
      default: 'linear',
    }),
    samples: param.integer({ description: 'Number of (x, y) points.', default: 100, minimum: 1, maximum: 10_000_000 }),
    xMin: param.number({ description: 'Smallest x (each coordinate, for 2-D surfaces).', default: 0 }),
    xMax: param.number({ description: 'Largest x (exclusive for random spacing, inclusive for even).', default: 1 }),
    spacing: param.oneOf(['random', 'even'], {
      description: '`random`: x drawn uniformly from [xMin, xMax); `even`: evenly spaced from xMin to xMax.',
      default: 'random',
    }),
    slope: param.number({ description: 'Slope of the linear function.', default: 0.1 }),
    intercept: param.number({ description: 'Intercept of the linear function.', default: 0.2 }),
    noiseStddev: param.number({ description: 'Standard deviation of the Gaussian noise added to y.', default: 0, minimum: 0 }),
  },
  async create(p, context) {
    if (!(p.xMax > p.xMin)) throw new Error(`xMax (${p.xMax}) must be greater than xMin (${p.xMin})`);
    if (isSurface(p.function)) return sampleSurface(p, p.function, context);
    const formula = formulas[p.function];
    const xs = new Float32Array(p.samples);
    const ys = new Float32Array(p.samples);
    const xStream = new RandomStream(context.seed, 'data', 'synthetic', 'x');
    const noiseStream = new RandomStream(context.seed, 'data', 'synthetic', 'noise');
    for (let i = 0; i < p.samples; i++) {
      const x =
        p.spacing === 'even'
          ? p.samples === 1
            ? p.xMin
            : p.xMin + ((p.xMax - p.xMin) * i) / (p.samples - 1)
          : xStream.range(p.xMin, p.xMax);
      xs[i] = x;
      ys[i] = formula(x, p) + (p.noiseStddev > 0 ? noiseStream.normal(0, p.noiseStddev) : 0);
    }
    return {
      description: `synthetic ${p.function}: ${p.samples} points, x in [${p.xMin}, ${p.xMax}]`,
      splits: {
        train: inMemorySplit({ x: createColumn(xs, [p.samples, 1]), y: createColumn(ys, [p.samples, 1]) }),
      },
    };
  },
};
