import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The folder where generated data (and anything else worth keeping between runs, such as the
 * trained source models of transfer learning) is cached: `$DLEXP_CACHE_DIR` when set, else
 * `$XDG_CACHE_HOME/dlexp`, else `~/.cache/dlexp`. Deleting it only costs the time to make it again.
 */
export function userCacheDirectory(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const own = env['DLEXP_CACHE_DIR'];
  if (own !== undefined && own !== '') return own;
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg !== undefined && xdg !== '') return join(xdg, 'dlexp');
  return join(homedir(), '.cache', 'dlexp');
}

/** A short, stable key for a JSON-able value (keys sorted): equal options give equal keys. */
export function cacheKey(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex').slice(0, 16);
}
