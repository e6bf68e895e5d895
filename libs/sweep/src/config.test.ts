import { describe, expect, it } from 'vitest';
import Ajv2020 from 'ajv/dist/2020';
import { parseSweepConfig, selectionMetricWarning, sweepSchema } from './index';

const minimal = { parameters: { 'train.epochs': { values: [1, 2] } }, metric: 'validation.accuracy' };

describe('parseSweepConfig', () => {
  it("fills today's defaults: grid, maximize, one repeat, no early termination", () => {
    const { config, problems } = parseSweepConfig(minimal);
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ method: 'grid', goal: 'maximize', repeats: 1, maxTrials: undefined, seed: undefined, parallel: undefined, earlyTermination: undefined });
  });

  it('reads every key and the method defaults', () => {
    const { config, problems } = parseSweepConfig({
      method: 'tpe',
      parameters: { 'train.optimizer.learningRate': { min: 1e-4, max: 0.1, scale: 'log' } },
      metric: 'validation.loss',
      goal: 'minimize',
      maxTrials: 30,
      seed: 7,
      parallel: 2,
      earlyTermination: { type: 'asha', minEpochs: 1, reductionFactor: 3 },
      repeats: 3,
    });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      method: 'tpe',
      methodParams: { startupTrials: 10, candidates: 24, priorWeight: 1, gamma: 0.1 },
      goal: 'minimize',
      maxTrials: 30,
      seed: 7,
      parallel: 2,
      earlyTermination: { type: 'asha', minEpochs: 1, reductionFactor: 3, minTrials: 1 },
      repeats: 3,
    });
    expect(parseSweepConfig({ ...minimal, earlyTermination: { type: 'median' } }).config!.earlyTermination).toEqual({ type: 'median', minEpochs: 1, reductionFactor: 3, minTrials: 3 });
  });

  it('reports every problem at the path of its key, with did-you-mean for names', () => {
    const { config, problems } = parseSweepConfig({
      method: 'tpee',
      parameters: { lr: { min: 1, max: 0 } },
      goal: 'minimise',
      maxTrial: 3,
      seed: -1,
      parallel: 0,
      repeats: 1.5,
      earlyTermination: { type: 'hyperband', minEpoch: 2, reductionFactor: 1 },
    });
    expect(config).toBeUndefined();
    const found = problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "sweep.maxTrial: unknown key 'maxTrial'; did you mean 'maxTrials'?",
        "sweep.method: unknown sweep method 'tpee'; did you mean 'tpe'? (known: grid, random, tpe)",
        'sweep.parameters.lr.max: max (0) must be greater than min (1); a single value is written values: [1]',
        'sweep: metric is missing: name the metric that ranks the trials, e.g. validation.accuracy',
        'sweep.goal: goal is minimize or maximize, not "minimise"',
        'sweep.seed: seed is a whole number of at least 0, not -1',
        'sweep.parallel: parallel is a whole number of at least 1, not 0',
        'sweep.repeats: repeats is a whole number of at least 1, not 1.5',
        "sweep.earlyTermination.minEpoch: unknown key 'minEpoch'; did you mean 'minEpochs'?",
        "sweep.earlyTermination.type: unknown early termination 'hyperband' (known: median, asha)",
        'sweep.earlyTermination.reductionFactor: reductionFactor is a number above 1 (3 keeps the best third at each rung), not 1',
      ]),
    );
    expect(problems.find((p) => p.path.join('.') === 'sweep.maxTrial')!.atKey).toBe(true);
  });

  it('takes a method with its parameters as an entry, each problem at its key', () => {
    const { config } = parseSweepConfig({ ...minimal, method: { type: 'tpe', startupTrials: 4, gamma: 0.2 }, maxTrials: 12 });
    expect(config).toMatchObject({ method: 'tpe', methodParams: { startupTrials: 4, gamma: 0.2, candidates: 24, priorWeight: 1 } });
    expect(parseSweepConfig({ ...minimal, method: { type: 'grid' } }).config?.method).toBe('grid');
    const { problems } = parseSweepConfig({ ...minimal, method: { type: 'tpe', startupTrial: 4, gamma: 2, candidates: 2.5 }, maxTrials: 12 });
    expect(problems).toEqual([
      { path: ['sweep', 'method', 'startupTrial'], message: "unknown key 'startupTrial'; did you mean 'startupTrials'? (the method takes startupTrials, candidates, priorWeight, gamma)", severity: 'error', atKey: true },
      { path: ['sweep', 'method', 'gamma'], message: 'gamma is a number above 0 and at most 1, not 2', severity: 'error' },
      { path: ['sweep', 'method', 'candidates'], message: 'candidates is a whole number at least 1, not 2.5', severity: 'error' },
    ]);
    expect(parseSweepConfig({ ...minimal, method: { type: 'tpee' } }).problems[0]).toMatchObject({ path: ['sweep', 'method', 'type'], message: expect.stringMatching(/unknown sweep method 'tpee'; did you mean 'tpe'\?/) });
    expect(parseSweepConfig({ ...minimal, method: { type: 'random', seed: 1 } }).problems[0]!.message).toBe("unknown key 'seed' (the method takes no parameters)");
  });

  it('random and tpe need maxTrials; median takes no reductionFactor', () => {
    const random = parseSweepConfig({ ...minimal, method: 'random' }).problems;
    expect(random.map((p) => [p.path.join('.'), p.message])).toEqual([['sweep', 'maxTrials is missing: method random samples until it has tried maxTrials configurations']]);
    const median = parseSweepConfig({ ...minimal, earlyTermination: { type: 'median', reductionFactor: 2 } }).problems;
    expect(median.map((p) => p.path.join('.'))).toEqual(['sweep.earlyTermination.reductionFactor']);
  });

  it('a sweep that ranks on test metrics is valid but warned about', () => {
    const { config, problems } = parseSweepConfig({ ...minimal, metric: 'test.accuracy' });
    expect(config).toBeDefined();
    expect(problems).toEqual([
      {
        path: ['sweep', 'metric'],
        severity: 'warning',
        message:
          "the sweep ranks its trials on the test set (test.accuracy): choosing the best of several trials on test data overstates its result; rank on a validation metric (validation.accuracy) and report the best trial's test metrics",
      },
    ]);
    expect(selectionMetricWarning('validation.accuracy')).toBeUndefined();
    expect(selectionMetricWarning('train.loss')).toBeUndefined();
    expect(selectionMetricWarning('test.head.loss')?.message).toMatch(/validation\.head\.loss/);
  });

  it('places problems under another root when the block lives elsewhere', () => {
    const { problems } = parseSweepConfig({ ...minimal, goal: 'up' }, { at: ['experiments', 0, 'sweep'] });
    expect(problems[0]!.path).toEqual(['experiments', 0, 'sweep', 'goal']);
  });

  it('rejects a block that is not a map', () => {
    expect(parseSweepConfig('grid').problems[0]!.message).toMatch(/^sweep is a map with parameters, metric/);
  });
});

describe('sweepSchema', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, discriminator: true });
  const validate = ajv.compile(sweepSchema());

  it('compiles in strict mode and accepts what the parser accepts', () => {
    for (const written of [
      minimal,
      { ...minimal, method: 'random', maxTrials: 5, parallel: 2, repeats: 3, seed: 1, goal: 'minimize' },
      { metric: 'validation.loss', method: 'tpe', maxTrials: 20, parameters: { lr: { min: 1e-4, max: 1, scale: 'log' }, units: { min: 8, max: 64, integer: true }, d: { paths: ['a', 'b'], min: 0, max: 1 } }, earlyTermination: { type: 'asha', minEpochs: 1, reductionFactor: 3 } },
      { ...minimal, method: { type: 'tpe', startupTrials: 5 }, maxTrials: 20 },
    ]) {
      expect(validate(written), JSON.stringify(validate.errors)).toBe(true);
      expect(parseSweepConfig(written).problems.filter((p) => p.severity === 'error')).toEqual([]);
    }
  });

  it('rejects unknown keys and parameters without values or a range', () => {
    expect(validate({ ...minimal, maxTrial: 3 })).toBe(false);
    expect(validate({ ...minimal, parameters: { a: { paths: ['x'] } } })).toBe(false);
    expect(validate({ ...minimal, parameters: { a: { min: 1 } } })).toBe(false);
    expect(validate({ ...minimal, earlyTermination: { type: 'hyperband' } })).toBe(false);
    expect(validate({ ...minimal, method: { type: 'tpe', startup: 5 } })).toBe(false);
    expect(validate({ ...minimal, method: { type: 'grid', startupTrials: 5 } })).toBe(false);
  });
});
