import { describe, expect, it } from 'vitest';
import { jsonSyntaxError } from './json-position';

describe('jsonSyntaxError', () => {
  it('accepts what JSON.parse accepts', () => {
    for (const text of ['{}', ' [1, -2.5e3, "a\\u00e9\\n", true, false, null, {"k": []}] ', '"x"', '0']) {
      expect(jsonSyntaxError(text), text).toBeUndefined();
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  it('finds the first character that is not JSON', () => {
    expect(jsonSyntaxError('{"a": 1,, }')).toEqual({ at: 8, reason: `',' where '"' was expected` });
    expect(jsonSyntaxError('[1, 2')).toEqual({ at: 5, reason: "the text ends where ']' was expected" });
    expect(jsonSyntaxError('{"a": tru}')).toEqual({ at: 6, reason: "'t' where a value was expected" });
    expect(jsonSyntaxError('{"a": "b\nc"}')).toEqual({ at: 8, reason: 'a control character inside a string' });
    expect(jsonSyntaxError('{} x')).toEqual({ at: 3, reason: "'x' after the end of the JSON value" });
    expect(jsonSyntaxError('[01]')).toEqual({ at: 2, reason: "'1' where ']' was expected" });
  });
});
