import type { OptionSpec, OptionValues } from './cli/options';
import { integerOption, stringOption } from './cli/options';
import { ConfigError } from '@dlexp/core';
import type { QueueChoice } from '@dlexp/host';
import { createSamplerRegistry, type SweepMethodRegistry } from '@dlexp/sweep';

/** The sweep methods (grid, random, tpe), from the sweep library; they also define the `sweep:` block's schema. */
export function createSweepMethodRegistry(): SweepMethodRegistry {
  return createSamplerRegistry();
}

/** Options of a sweep that runs its trials on workers (`run --queue`), shared with `runner worker`. */
export const QUEUE_OPTIONS: Record<string, OptionSpec> = {
  queue: {
    type: 'string',
    arg: 'URL',
    help: "a sweep's trials go to workers (runner worker) through this Redis: redis://[:password@]host[:port][/db], rediss:// for TLS",
  },
  'queue-name': { type: 'string', arg: 'NAME', help: 'the queue on that Redis (default dlexp-trials; the same on the coordinator and its workers)' },
};

/** `run`'s options for a sweep through a queue. */
export const SWEEP_QUEUE_OPTIONS: Record<string, OptionSpec> = {
  ...QUEUE_OPTIONS,
  retries: { type: 'string', arg: 'N', help: 'with --queue: tries after the first for a trial whose worker was lost or ran out of memory (default 2)' },
};

export function queueChoice(values: OptionValues): QueueChoice | undefined {
  const url = stringOption(values, 'queue');
  const name = stringOption(values, 'queue-name');
  const retries = integerOption(values, 'retries', 0, 100);
  if (url === undefined) {
    const stray = [name !== undefined ? '--queue-name' : undefined, retries !== undefined ? '--retries' : undefined].filter((o) => o !== undefined);
    if (stray.length > 0) throw new ConfigError(`${stray.join(' and ')} ${stray.length === 1 ? 'needs' : 'need'} --queue URL`);
    return undefined;
  }
  return { url, ...(name !== undefined ? { name } : {}), ...(retries !== undefined ? { retries } : {}) };
}

