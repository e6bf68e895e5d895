import { param, RandomStream, type RegistryEntry } from '@dlexp/core';
import { createColumn, inMemorySplit, type DatasetContext, type LoadedDataset } from './dataset';

export interface SyntheticParams {
  function: 'linear' | 'quadratic';
  samples: number;
  xMin: number;
  xMax: number;
  spacing: 'random' | 'even';
  slope: number;
  intercept: number;
  noiseStddev: number;
}

const formulas: Record<SyntheticParams['function'], (x: number, p: SyntheticParams) => number> = {
  linear: (x, p) => p.slope * x + p.intercept,
  quadratic: (x) => x * x,
};

/**
 * Regression sets from the course: `linear` is y = slope·x + intercept, `quadratic` is y = x².
 * Each is a single `train` split with features `x` and `y`, both shaped [samples, 1].
 */
export const syntheticDataset: RegistryEntry<SyntheticParams, DatasetContext, Promise<LoadedDataset>> = {
  name: 'synthetic',
  description: 'Generated regression data: y = slope·x + intercept (linear) or y = x² (quadratic), plus Gaussian noise.',
  params: {
    function: param.oneOf(['linear', 'quadratic'], { description: 'Which function y(x) to sample.', default: 'linear' }),
    samples: param.integer({ description: 'Number of (x, y) points.', default: 100, minimum: 1, maximum: 10_000_000 }),
    xMin: param.number({ description: 'Smallest x.', default: 0 }),
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
      ys[i] = formulas[p.function](x, p) + (p.noiseStddev > 0 ? noiseStream.normal(0, p.noiseStddev) : 0);
    }
    return {
      description: `synthetic ${p.function}: ${p.samples} points, x in [${p.xMin}, ${p.xMax}]`,
      splits: {
        train: inMemorySplit({ x: createColumn(xs, [p.samples, 1]), y: createColumn(ys, [p.samples, 1]) }),
      },
    };
  },
};
