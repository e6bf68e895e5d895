import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from './codec';

describe('values through Redis', () => {
  it('keep NaN and the infinities, and everything else as JSON does', () => {
    const value = { loss: NaN, up: Infinity, down: -Infinity, rows: [1, NaN, { x: -0.5 }], name: 'a', none: null };
    const back = decodeValue<typeof value>(encodeValue(value), 'a result');
    expect(back.loss).toBeNaN();
    expect(back.up).toBe(Infinity);
    expect(back.down).toBe(-Infinity);
    expect(back.rows[1]).toBeNaN();
    expect(back.rows[2]).toEqual({ x: -0.5 });
    expect(back.none).toBeNull();
    // An object that only looks like a marker is left alone.
    expect(decodeValue(encodeValue({ $number: 'seven' }), 'x')).toEqual({ $number: 'seven' });
  });

  it('a malformed text is an error naming what it was', () => {
    expect(() => decodeValue('{"truncated', 'the result of job 7')).toThrow(/^the result of job 7 is not readable/);
  });
});
