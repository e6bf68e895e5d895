import { describe, expect, it } from 'vitest';
import { ConfigError, RandomStream } from '@dlexp/core';
import { applyParameters, drawUniform, gridPoint, gridSize, parametersByPath, parseParameterSpace, type Parameter } from './index';

const parse = (written: unknown) => parseParameterSpace(written);
const messages = (written: unknown) => parse(written).problems.map((p) => `${p.path.join('.')}: ${p.message}`);

describe('parseParameterSpace', () => {
  it('reads the three kinds and the paths form, in written order', () => {
    const { space, problems } = parse({
      'train.optimizer.type': { values: ['sgd', 'adam'] },
      'train.optimizer.learningRate': { min: 0.0001, max: 0.1, scale: 'log' },
      'model.layers.0.units': { min: 16, max: 256, integer: true, scale: 'log' },
      dropout: { paths: ['model.layers.1.rate', 'model.layers.3.rate'], min: 0, max: 0.6 },
      flags: { values: [true, null, 3, [1, 2], { a: 1 }] },
    });
    expect(problems).toEqual([]);
    expect(space!.parameters).toEqual([
      { kind: 'categorical', name: 'train.optimizer.type', paths: ['train.optimizer.type'], values: ['sgd', 'adam'] },
      { kind: 'float', name: 'train.optimizer.learningRate', paths: ['train.optimizer.learningRate'], min: 0.0001, max: 0.1, scale: 'log' },
      { kind: 'integer', name: 'model.layers.0.units', paths: ['model.layers.0.units'], min: 16, max: 256, scale: 'log' },
      { kind: 'float', name: 'dropout', paths: ['model.layers.1.rate', 'model.layers.3.rate'], min: 0, max: 0.6, scale: 'linear' },
      { kind: 'categorical', name: 'flags', paths: ['flags'], values: [true, null, 3, [1, 2], { a: 1 }] },
    ]);
  });

  it('reports every bad parameter at the path of its key', () => {
    const problems = parse({
      'train.optimizer.learningRate': { min: 0.1, max: 0.01 },
      'model.layers.0.units': { min: 1.5, max: 8, integer: true },
      'train.l2': { min: 0, max: 1, scale: 'log' },
      'train.batchSize': { values: [] },
      'train.epochs': { values: [1, 2, 1] },
      'model..rate': { values: [0] },
      both: { paths: ['a'], values: [1], min: 0 },
      neither: { paths: ['b'] },
      typo: { paths: ['c'], valuse: [1] },
      badScale: { paths: ['d'], min: 1, max: 2, scale: 'logarithmic' },
      noMax: { paths: ['e'], min: 1 },
      notAMap: 5,
      scaleOnValues: { paths: ['f'], values: [1, 2], scale: 'log' },
      badPaths: { paths: ['g', 'g', 'h..i', 7] },
    }).problems;
    const at = (...path: (string | number)[]) => problems.filter((p) => p.path.join('\u0000') === ['sweep', 'parameters', ...path].join('\u0000')).map((p) => p.message);
    expect(at('train.optimizer.learningRate', 'max')[0]).toMatch(/max \(0\.01\) must be greater than min \(0\.1\)/);
    expect(at('model.layers.0.units', 'min')[0]).toMatch(/whole number, not 1\.5/);
    expect(at('train.l2', 'min')[0]).toMatch(/log-scale range starts above 0/);
    expect(at('train.batchSize', 'values')[0]).toMatch(/non-empty list/);
    expect(at('train.epochs', 'values', 2)[0]).toMatch(/1 is already listed \(at index 0\)/);
    expect(at('model..rate')[0]).toMatch(/invalid path 'model\.\.rate' at offset 6/);
    expect(problems.find((p) => p.path[2] === 'model..rate')!.atKey).toBe(true);
    expect(at('both')[0]).toMatch(/either values or min and max/);
    expect(at('neither')[0]).toMatch(/give the values to try/);
    expect(at('typo', 'valuse')[0]).toMatch(/unknown key 'valuse'; did you mean 'values'\?/);
    expect(at('badScale', 'scale')[0]).toMatch(/scale is linear or log, not "logarithmic"/);
    expect(at('noMax')[0]).toMatch(/max is missing/);
    expect(at('notAMap')[0]).toMatch(/a parameter is \{values/);
    expect(at('scaleOnValues', 'scale')[0]).toMatch(/scale applies to a min\/max range/);
    expect(at('badPaths', 'paths', 1)[0]).toMatch(/g is listed twice/);
    expect(at('badPaths', 'paths', 2)[0]).toMatch(/invalid path 'h\.\.i'/);
    expect(at('badPaths', 'paths', 3)[0]).toMatch(/a path is a string/);
    expect(problems.every((p) => p.severity === 'error')).toBe(true);
    expect(parse({ x: { values: [1] } }).space).toBeDefined();
  });

  it('reports a path set by two parameters, and an empty or missing block', () => {
    expect(messages({ 'model.layers.1.rate': { values: [0] }, dropout: { paths: ['model.layers.1.rate'], values: [0.5] } })).toEqual([
      "sweep.parameters.dropout.paths.0: model.layers.1.rate is already set by parameter 'model.layers.1.rate'",
    ]);
    expect(messages({})).toEqual(['sweep.parameters: give at least one parameter to sweep']);
    expect(messages([1])[0]).toMatch(/^sweep\.parameters: parameters is a map/);
  });
});

describe('grid', () => {
  it('enumerates every combination, the first parameter slowest', () => {
    const space = parse({ a: { values: [1, 2] }, b: { values: ['x', 'y', 'z'] } }).space!;
    expect(gridSize(space)).toBe(6);
    expect(Array.from({ length: 6 }, (_, i) => gridPoint(space, i))).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
  });

  it('sets a named parameter at each of its paths', () => {
    const space = parse({ dropout: { paths: ['model.layers.1.rate', 'model.layers.3.rate'], values: [0.3] }, 'train.epochs': { values: [2] } }).space!;
    expect(parametersByPath(space, { dropout: 0.3, 'train.epochs': 2 })).toEqual({ 'model.layers.1.rate': 0.3, 'model.layers.3.rate': 0.3, 'train.epochs': 2 });
  });
});

describe('drawUniform', () => {
  const draws = (parameter: Parameter, n = 4000) => {
    const stream = new RandomStream(3, 'test');
    return Array.from({ length: n }, () => drawUniform(parameter, stream) as number);
  };

  it('samples a log range uniformly in log space', () => {
    const values = draws({ kind: 'float', name: 'lr', paths: ['lr'], min: 1e-5, max: 1e-1, scale: 'log' });
    expect(Math.min(...values)).toBeGreaterThanOrEqual(1e-5);
    expect(Math.max(...values)).toBeLessThanOrEqual(1e-1);
    // Each decade holds about a quarter of the draws; a linear sampler would put 90 % in the top one.
    for (let decade = -5; decade < -1; decade++) {
      const share = values.filter((v) => v >= 10 ** decade && v < 10 ** (decade + 1)).length / values.length;
      expect(share).toBeGreaterThan(0.2);
      expect(share).toBeLessThan(0.3);
    }
  });

  it('samples integers over the whole range, ends included, evenly on a linear scale', () => {
    const values = draws({ kind: 'integer', name: 'n', paths: ['n'], min: 1, max: 4, scale: 'linear' });
    expect(values.every(Number.isInteger)).toBe(true);
    for (let k = 1; k <= 4; k++) expect(values.filter((v) => v === k).length / values.length).toBeCloseTo(0.25, 1);
  });

  it('samples integers in log space: small values more often, ends included', () => {
    const values = draws({ kind: 'integer', name: 'units', paths: ['units'], min: 8, max: 512, scale: 'log' });
    expect(values.every((v) => Number.isInteger(v) && v >= 8 && v <= 512)).toBe(true);
    expect(values).toContain(8);
    expect(values).toContain(512);
    const belowGeometricMean = values.filter((v) => v <= 64).length / values.length;
    expect(belowGeometricMean).toBeGreaterThan(0.45);
    expect(belowGeometricMean).toBeLessThan(0.55);
  });

  it('picks categorical values evenly, as written', () => {
    const values = draws({ kind: 'categorical', name: 'c', paths: ['c'], values: ['a', 'b', 'c'] }, 3000) as unknown as string[];
    for (const v of ['a', 'b', 'c']) expect(values.filter((x) => x === v).length / values.length).toBeCloseTo(1 / 3, 1);
  });
});

describe('applyParameters', () => {
  it('sets values at dotted, indexed and bracketed paths on a copy', () => {
    const layers: Record<string, string | number>[] = [{ type: 'dense' }, { type: 'dropout', rate: 0 }];
    const base = { seed: 1, model: { layers }, expect: {} };
    const out = applyParameters(base, { 'model.layers.1.rate': 0.5, 'expect[test.accuracy].min': 0.9, 'train.optimizer.type': 'adam' });
    expect(out).toEqual({
      seed: 1,
      model: { layers: [{ type: 'dense' }, { type: 'dropout', rate: 0.5 }] },
      expect: { 'test.accuracy': { min: 0.9 } },
      train: { optimizer: { type: 'adam' } },
    });
    expect(base.model.layers[1]!['rate']).toBe(0);
  });

  it('names the path that runs through a value that is not an object or list', () => {
    expect(() => applyParameters({ seed: 1 }, { 'seed.x': 2 })).toThrow(ConfigError);
    expect(() => applyParameters({ seed: 1 }, { 'seed.x': 2 })).toThrow(/seed\.x: 'seed' is not an object, so it has no key 'x'/);
    expect(() => applyParameters({ layers: {} }, { 'layers.0': 2 })).toThrow(/'layers' is not a list/);
  });
});
