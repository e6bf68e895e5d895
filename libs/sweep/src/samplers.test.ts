import { describe, expect, it } from 'vitest';
import { ConfigError, RandomStream } from '@dlexp/core';
import { createSamplerRegistry, createSweepState, createTpeSampler, goodCount, observationWeights, parseSweepConfig, type Observation, type ParameterValues, type SweepConfig } from './index';
import { createCategoricalParzen, createNumericParzen } from './parzen';
import { logNormalMass, truncatedNormalLogPdf, truncatedNormalQuantile } from './normal';

const parameters = {
  x: { min: -5, max: 5 },
  lr: { min: 1e-6, max: 1, scale: 'log' },
  units: { min: 8, max: 256, integer: true, scale: 'log' },
  act: { values: ['relu', 'tanh', 'sigmoid'] },
};

function resolve(written: Partial<SweepConfig>) {
  const { config, problems } = parseSweepConfig({ metric: 'validation.loss', goal: 'minimize', parameters, ...written });
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!;
}

/** Runs a sweep one trial at a time on an analytic objective; returns the proposals and values. */
function runSequential(written: Partial<SweepConfig>, objective: (values: ParameterValues) => number) {
  const state = createSweepState(resolve(written));
  const proposals: ParameterValues[] = [];
  const values: number[] = [];
  for (let step = state.ask(); step.type === 'trial'; step = state.ask()) {
    const y = objective(step.spec.values);
    proposals.push(step.spec.values);
    values.push(y);
    state.tell({ trialId: step.spec.trialId, status: 'completed', metrics: { 'validation.loss': y }, intermediate: [] });
  }
  return { proposals, values };
}

// A shifted quadratic in x and log10(lr), a categorical factor, and units that do not matter.
const offsets: Record<string, number> = { relu: 0, tanh: 1, sigmoid: 3 };
const objective = (v: ParameterValues) => ((v['x'] as number) - 1.5) ** 2 + (Math.log10(v['lr'] as number) + 3) ** 2 + offsets[v['act'] as string]!;
const inGoodRegion = (v: ParameterValues) => Math.abs((v['x'] as number) - 1.5) < 1 && Math.abs(Math.log10(v['lr'] as number) + 3) < 1 && v['act'] === 'relu';

describe('determinism', () => {
  for (const method of ['random', 'tpe']) {
    it(`${method}: the same seed proposes the same trials; another seed, others`, () => {
      const a = runSequential({ method, seed: 5, maxTrials: 20 }, objective).proposals;
      const b = runSequential({ method, seed: 5, maxTrials: 20 }, objective).proposals;
      const c = runSequential({ method, seed: 6, maxTrials: 20 }, objective).proposals;
      expect(a).toHaveLength(20);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
      expect(c.filter((v, i) => JSON.stringify(v) === JSON.stringify(a[i])).length).toBe(0);
    });
  }

  it('random: each parameter has its own stream, so adding a parameter leaves the others unchanged', () => {
    const space = (extra: object) => parseSweepConfig({ method: 'random', maxTrials: 5, metric: 'm', parameters: { ...parameters, ...extra } }).config!.space;
    const sampler = (extra: object) => createSamplerRegistry().get('random').create({}, { space: space(extra), seed: 1, goal: 'minimize' });
    const without = Array.from({ length: 5 }, (_, i) => sampler({}).ask(i, []));
    const withExtra = Array.from({ length: 5 }, (_, i) => sampler({ momentum: { min: 0, max: 1 } }).ask(i, []));
    expect(withExtra.map(({ momentum: _momentum, ...rest }) => rest)).toEqual(without);
  });

  it('tpe starts with the random sampler’s proposals', () => {
    const random = runSequential({ method: 'random', seed: 3, maxTrials: 10 }, objective).proposals;
    const tpe = runSequential({ method: 'tpe', seed: 3, maxTrials: 10 }, objective).proposals;
    expect(tpe).toEqual(random);
  });

  it('proposals stay in their domain: ranges, integers, log scales and listed values', () => {
    for (const method of ['random', 'tpe']) {
      for (const v of runSequential({ method, seed: 9, maxTrials: 40 }, objective).proposals) {
        expect(v['x']).toBeGreaterThanOrEqual(-5);
        expect(v['x']).toBeLessThanOrEqual(5);
        expect(v['lr']).toBeGreaterThanOrEqual(1e-6);
        expect(v['lr']).toBeLessThanOrEqual(1);
        expect(Number.isInteger(v['units'])).toBe(true);
        expect(v['units']).toBeGreaterThanOrEqual(8);
        expect(v['units']).toBeLessThanOrEqual(256);
        expect(['relu', 'tanh', 'sigmoid']).toContain(v['act']);
      }
    }
  });
});

describe('grid', () => {
  it('runs every combination in order, the first parameter slowest, and stops after maxTrials', () => {
    const grid = { a: { values: [1, 2] }, b: { values: ['x', 'y'] } };
    const all = runSequential({ method: 'grid', parameters: grid }, () => 0).proposals;
    expect(all).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
    ]);
    expect(runSequential({ method: 'grid', parameters: grid, maxTrials: 3 }, () => 0).proposals).toEqual(all.slice(0, 3));
    expect(runSequential({ method: 'grid', parameters: grid, maxTrials: 30 }, () => 0).proposals).toEqual(all);
  });

  it('refuses a range without values, at the parameter', () => {
    const { problems } = parseSweepConfig({ method: 'grid', metric: 'm', parameters: { a: { values: [1] }, lr: { min: 0.001, max: 0.1, scale: 'log' } } });
    expect(problems).toEqual([
      { path: ['sweep', 'parameters', 'lr'], severity: 'error', message: 'grid tries listed values only: give values: [...], or sample the range with method random or tpe' },
    ]);
    // A caller that skips the check gets a config error from the state.
    const tpe = resolve({ method: 'tpe', maxTrials: 3 });
    expect(() => createSweepState({ ...tpe, method: 'grid' })).toThrow(ConfigError);
    expect(() => createSweepState({ ...tpe, method: 'grid' })).toThrow(/^sweep\.parameters\.x: grid tries listed values only/);
  });
});

describe('tpe', () => {
  it('beats random search on average and concentrates on the good region (30 trials × 10 seeds)', () => {
    const seeds = Array.from({ length: 10 }, (_, i) => i + 1);
    const outcome = (method: string) =>
      seeds.map((seed) => {
        const { proposals, values } = runSequential({ method, seed, maxTrials: 30 }, objective);
        return { best: Math.min(...values), lateInGoodRegion: proposals.slice(20).filter(inGoodRegion).length };
      });
    const random = outcome('random');
    const tpe = outcome('tpe');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const meanBest = { random: mean(random.map((r) => r.best)), tpe: mean(tpe.map((r) => r.best)) };
    expect(meanBest.tpe).toBeLessThan(meanBest.random);
    const late = { random: mean(random.map((r) => r.lateInGoodRegion)), tpe: mean(tpe.map((r) => r.lateInGoodRegion)) };
    expect(late.tpe).toBeGreaterThan(2 * late.random);
  });

  it('maximizes as well as it minimizes', () => {
    const { values } = runSequential({ method: 'tpe', seed: 2, maxTrials: 30, goal: 'maximize' }, (v) => -objective(v));
    const { values: random } = runSequential({ method: 'random', seed: 2, maxTrials: 30, goal: 'maximize' }, (v) => -objective(v));
    const lateMean = (xs: number[]) => xs.slice(20).reduce((a, b) => a + b, 0) / 10;
    expect(lateMean(values)).toBeGreaterThan(lateMean(random));
  });

  it('ranks completed observations above pruned ones, and pruned ones that got further above the rest; ignores failed ones', () => {
    const space = resolve({ method: 'tpe', maxTrials: 1, parameters: { c: { values: ['a', 'b', 'c', 'd'] } } }).space;
    const sampler = createTpeSampler(space, 1, 'minimize', { startupTrials: 1, candidates: 64, priorWeight: 1, gamma: 0.25 });
    // Four observations → the good group is the single best one. 'c' has the lowest value but was
    // pruned; 'b' completed; 'a' failed with an even lower value, which must not count.
    const observations: Observation[] = [
      { index: 0, values: { c: 'a' }, state: 'failed', value: -100 },
      { index: 1, values: { c: 'b' }, state: 'completed', value: 5 },
      { index: 2, values: { c: 'c' }, state: 'pruned', epoch: 3, value: 1 },
      { index: 3, values: { c: 'd' }, state: 'pruned', epoch: 1, value: 0 },
      { index: 4, values: { c: 'c' }, state: 'pruned', epoch: 3, value: 2 },
    ];
    const proposals = Array.from({ length: 20 }, (_, i) => sampler.ask(10 + i, observations)['c']);
    expect(proposals.filter((c) => c === 'b').length).toBeGreaterThan(15);
  });

  it('uses Optuna’s group size and weights: ⌈0.1·n⌉ good observations (at most 25), older ones weighted down past 25', () => {
    expect([1, 10, 11, 100, 300].map((n) => goodCount(n, 0.1))).toEqual([1, 1, 2, 10, 25]);
    expect(observationWeights(3)).toEqual([1, 1, 1]);
    const w = observationWeights(30);
    expect(w).toHaveLength(30);
    expect(w[0]).toBeCloseTo(1 / 30);
    expect(w[4]).toBeCloseTo(1);
    expect(w.slice(5)).toEqual(new Array(25).fill(1));
  });
});

describe('Parzen estimators', () => {
  it('a numeric estimator is a density: it integrates to 1 over the range, in log space too', () => {
    for (const scale of ['linear', 'log'] as const) {
      const parameter = { kind: 'float' as const, name: 'p', paths: ['p'], min: 0.01, max: 10, scale };
      const parzen = createNumericParzen(parameter, [0.05, 0.3, 2], [1, 1, 1], { priorWeight: 1 });
      // Densities in log space are per unit of log(x): integrate over log(x) there.
      const n = 20000;
      const [lo, hi] = scale === 'log' ? [Math.log(0.01), Math.log(10)] : [0.01, 10];
      let total = 0;
      for (let i = 0; i < n; i++) {
        const t = lo + ((i + 0.5) * (hi - lo)) / n;
        total += (Math.exp(parzen.logDensity(scale === 'log' ? Math.exp(t) : t)) * (hi - lo)) / n;
      }
      expect(total).toBeCloseTo(1, 3);
    }
  });

  it('an integer estimator gives probabilities that sum to 1 and draws integers in range', () => {
    const parameter = { kind: 'integer' as const, name: 'n', paths: ['n'], min: 1, max: 12, scale: 'log' as const };
    const parzen = createNumericParzen(parameter, [2, 3, 9], [1, 1, 1], { priorWeight: 1 });
    let total = 0;
    for (let k = 1; k <= 12; k++) total += Math.exp(parzen.logDensity(k));
    expect(total).toBeCloseTo(1, 10);
    const stream = new RandomStream(1, 'parzen');
    for (let i = 0; i < 200; i++) {
      const k = parzen.sample(stream);
      expect(Number.isInteger(k) && k >= 1 && k <= 12).toBe(true);
    }
  });

  it('a categorical estimator smooths the counts with the prior', () => {
    const parameter = { kind: 'categorical' as const, name: 'c', paths: ['c'], values: ['a', 'b', 'c'] };
    const parzen = createCategoricalParzen(parameter, [0, 0, 1], [1, 1, 1], { priorWeight: 1 });
    // Kernels weigh 1/4 each; an observation's kernel is (1 + 1/4 on its value, 1/4 elsewhere) / 1.75; the prior is uniform.
    const observed = (hit: boolean) => (hit ? 1.25 : 0.25) / 1.75;
    const expected = [0.25 * (observed(true) * 2 + observed(false)) + 0.25 / 3, 0.25 * (observed(false) * 2 + observed(true)) + 0.25 / 3, 0.25 * observed(false) * 3 + 0.25 / 3];
    expect([0, 1, 2].map((c) => Math.exp(parzen.logDensity(c)))).toEqual(expected.map((p) => expect.closeTo(p, 12)));
    expect(expected.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('bandwidths follow the neighbour rule, clipped below at range / min(100, kernels + 1)', () => {
    // Range [0, 10], prior centre 5; observations 1 and 9: sorted centres 1, 5, 9 between 0 and 10.
    // Outermost kernels take the gap to their inner neighbour (4 each); the minimum width is 10/4.
    const parameter = { kind: 'float' as const, name: 'p', paths: ['p'], min: 0, max: 10, scale: 'linear' as const };
    const parzen = createNumericParzen(parameter, [1, 9], [1, 1], { priorWeight: 1 });
    const kernel = (x: number, mu: number, sigma: number) => Math.exp(truncatedNormalLogPdf(x, mu, sigma, 0, 10));
    for (const x of [0.5, 3, 7.25]) {
      const expected = (kernel(x, 1, 4) + kernel(x, 9, 4) + kernel(x, 5, 10)) / 3;
      expect(Math.exp(parzen.logDensity(x))).toBeCloseTo(expected, 12);
    }
  });
});

describe('normal distribution helpers', () => {
  it('interval masses match reference values, far into the tails', () => {
    expect(Math.exp(logNormalMass(-1, 1))).toBeCloseTo(0.6826894921370859, 14);
    expect(Math.exp(logNormalMass(0.5, 2.9))).toBeCloseTo(0.30667172542560284, 14);
    expect(logNormalMass(10, Infinity)).toBeCloseTo(Math.log(7.619853024160527e-24), 10);
    expect(logNormalMass(-Infinity, -40)).toBeCloseTo(-804.60844, 4);
    expect(logNormalMass(2.5, 3.5)).toBeCloseTo(logNormalMass(-3.5, -2.5), 14);
    expect(Math.exp(logNormalMass(-1e-9, 1e-9)) / 2e-9).toBeCloseTo(0.3989422804014327, 9);
    expect(logNormalMass(1, 1)).toBe(-Infinity);
  });

  it('the truncated quantile inverts the truncated distribution function', () => {
    for (const u of [0.001, 0.3, 0.5, 0.9, 0.999]) {
      const x = truncatedNormalQuantile(u, 0.2, 0.5, 0, 1);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
      expect(Math.exp(logNormalMass(-0.4, (x - 0.2) / 0.5) - logNormalMass(-0.4, 1.6))).toBeCloseTo(u, 9);
    }
  });
});
