/**
 * Where JSON text stops being valid JSON. `JSON.parse` says why but not always where (V8 quotes
 * the text around the problem instead of giving its position), so after a failed parse this
 * small recursive-descent scanner finds the offending character. Validation only: no values built.
 */
export function jsonSyntaxError(text: string): { at: number; reason: string } | undefined {
  let at = 0;
  const fail = (reason: string): never => {
    throw new ScanError(at, reason);
  };
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const expectChar = (c: string) => {
    if (at >= text.length) fail(`the text ends where '${c}' was expected`);
    if (text[at] !== c) fail(`'${text[at]}' where '${c}' was expected`);
    at++;
  };
  const string = () => {
    expectChar('"');
    for (;;) {
      if (at >= text.length) fail('the text ends inside a string');
      const c = text[at]!;
      if (c === '"') {
        at++;
        return;
      }
      if (c < ' ') fail('a control character inside a string');
      if (c === '\\') {
        at++;
        const escape = text[at];
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(at + 1, at + 5))) fail('an invalid \\u escape');
          at += 5;
        } else if (escape !== undefined && '"\\/bfnrt'.includes(escape)) at++;
        else fail('an invalid escape in a string');
      } else at++;
    }
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at, at + 400));
    if (match === null || match[0] === '' || match[0] === '-') fail(at >= text.length ? 'the text ends where a value was expected' : `'${text[at]}' where a value was expected`);
    at += match![0].length;
  };
  const value = (): void => {
    space();
    const c = text[at];
    if (c === '{') {
      at++;
      space();
      if (text[at] === '}') {
        at++;
        return;
      }
      for (;;) {
        space();
        string();
        space();
        expectChar(':');
        value();
        space();
        if (text[at] === ',') {
          at++;
          continue;
        }
        expectChar('}');
        return;
      }
    }
    if (c === '[') {
      at++;
      space();
      if (text[at] === ']') {
        at++;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[at] === ',') {
          at++;
          continue;
        }
        expectChar(']');
        return;
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return;
      }
    }
    number();
  };
  try {
    value();
    space();
    if (at < text.length) fail(`'${text[at]}' after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (error instanceof ScanError) return { at: error.at, reason: error.reason };
    // Nesting deeper than the stack: say so without a position.
    return { at: 0, reason: 'nested too deeply' };
  }
}

class ScanError {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}
