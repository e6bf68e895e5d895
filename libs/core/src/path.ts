/**
 * The one grammar for paths into an experiment, used by `--set`, `quick.set`, sweep parameters and
 * diagnostics: dot-separated keys, numeric segments index lists (`model.layers.2.rate`), and a key
 * that itself holds dots is written in brackets (`expect[test.accuracy].min`).
 */
export type PathSegment = string | number;

export class PathSyntaxError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`invalid path '${path}' at offset ${offset}: ${reason}`);
    this.name = 'PathSyntaxError';
  }
}

const KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function parsePath(text: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  if (text.length === 0) throw new PathSyntaxError(text, 0, 'the path is empty');
  while (i < text.length) {
    if (text[i] === '[') {
      const close = text.indexOf(']', i + 1);
      if (close < 0) throw new PathSyntaxError(text, i, "'[' is never closed");
      const key = text.slice(i + 1, close);
      if (key.length === 0) throw new PathSyntaxError(text, i, 'empty key in brackets');
      segments.push(key);
      i = close + 1;
    } else {
      let end = i;
      while (end < text.length && text[end] !== '.' && text[end] !== '[') end++;
      const raw = text.slice(i, end);
      if (raw.length === 0) throw new PathSyntaxError(text, i, 'empty segment');
      if (/^\d+$/.test(raw)) segments.push(Number(raw));
      else if (KEY.test(raw)) segments.push(raw);
      else throw new PathSyntaxError(text, i, `'${raw}' is not a key or a list index`);
      i = end;
    }
    if (i < text.length) {
      if (text[i] === '.') {
        i++;
        if (i === text.length) throw new PathSyntaxError(text, i, 'the path ends with a dot');
      } else if (text[i] !== '[') {
        throw new PathSyntaxError(text, i, "expected '.' or '['");
      }
    }
  }
  return segments;
}

export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += out === '' ? `${segment}` : `.${segment}`;
    else if (KEY.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${segment}]`;
  }
  return out;
}
