import { describe, expect, it } from 'vitest';
import { Registry, UnknownNameError, RandomStream, deriveSeed, parsePath, formatPath, closestMatch, param, fillDefaults } from './index';

describe('Registry', () => {
  const make = () =>
    new Registry<void, string>('optimizer', 'optimizers').register({
      name: 'adam',
      description: 'Adam',
      params: { learningRate: param.number({ description: 'step size', default: 0.001 }) },
      create: (p: { learningRate: number }) => `adam(${p.learningRate})`,
    });
  it('creates entries by name', () => {
    expect(make().get('adam').create({ learningRate: 0.1 }, undefined)).toBe('adam(0.1)');
  });
  it('rejects a duplicate name', () => {
    expect(() => make().register({ name: 'adam', description: '', params: {}, create: () => '' })).toThrow(/registered twice/);
  });
  it('names the closest known entry for an unknown name', () => {
    const error = (() => {
      try {
        make().get('adma');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UnknownNameError);
    expect(String((error as Error).message)).toContain("did you mean 'adam'");
  });
});

describe('RandomStream', () => {
  it('is a pure function of seed and purpose', () => {
    const a = new RandomStream(7, 'shuffle', 3);
    const b = new RandomStream(7, 'shuffle', 3);
    const c = new RandomStream(7, 'shuffle', 4);
    const seqA = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(seqA);
    expect(deriveSeed(1, 'x')).not.toBe(deriveSeed(2, 'x'));
  });
  it('restarts from its state, a pending normal included', () => {
    const a = new RandomStream(1);
    a.uniform();
    const resumed = RandomStream.fromState(a.state());
    expect(resumed.nextUint32()).toBe(a.nextUint32());
    a.normal();
    const halfway = RandomStream.fromState(JSON.parse(JSON.stringify(a.state())));
    expect(halfway.normal()).toBe(a.normal());
    expect(halfway.normal()).toBe(a.normal());
  });
  it('draws normals with the right moments', () => {
    const r = new RandomStream(3);
    const xs = Array.from({ length: 20000 }, () => r.normal(1, 2));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(mean).toBeCloseTo(1, 1);
    expect(Math.sqrt(variance)).toBeCloseTo(2, 1);
  });
});

describe('paths', () => {
  it('parses keys, list indices and bracketed keys', () => {
    expect(parsePath('model.layers.2.rate')).toEqual(['model', 'layers', 2, 'rate']);
    expect(parsePath('expect[test.accuracy].min')).toEqual(['expect', 'test.accuracy', 'min']);
    expect(formatPath(['expect', 'test.accuracy', 'min'])).toBe('expect[test.accuracy].min');
  });
  it('rejects malformed paths with an offset', () => {
    expect(() => parsePath('a..b')).toThrow(/offset 2/);
    expect(() => parsePath('a.')).toThrow(/ends with a dot/);
    expect(() => parsePath('a[b')).toThrow(/never closed/);
  });
});

describe('suggestions and defaults', () => {
  it('suggests plausible typos only', () => {
    expect(closestMatch('learningRat', ['learningRate', 'momentum'])).toBe('learningRate');
    expect(closestMatch('zzz', ['learningRate', 'momentum'])).toBeUndefined();
  });
  it('fills defaults without overwriting written zeros', () => {
    const params = { rate: param.number({ description: 'r', default: 0.5 }), decay: param.number({ description: 'd', default: 0.1 }) };
    expect(fillDefaults(params, { decay: 0 }, () => undefined)).toEqual({ rate: 0.5, decay: 0 });
  });
});
