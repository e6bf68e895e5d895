import { createHash } from 'node:crypto';

/** What a run was started with, so `resume` and `evaluate` rebuild exactly the same experiment. */
export interface Invocation {
  file: string;
  quick: boolean;
  set: string[];
  seed?: number;
  backend?: string;
  threads?: number;
  /** Plugins given on the command line (`--plugin`), besides those the experiment names. */
  plugins?: string[];
  /** For a sweep trial: the values the sweep set, by path. */
  trial?: Record<string, unknown>;
  configHash: string;
}

/** sha256 of the resolved config with keys sorted, so equal configs hash equally. */
export function configHash(config: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(config))).digest('hex');
}
