import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { checkOptionsOf, choiceOption, EXPERIMENT_OPTIONS, GLOBAL_OPTIONS, integerOption, parseOptions } from './options';
import { experimentArguments } from './context';
import { usage } from '../main';

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a usage error');
}

const known = { ...GLOBAL_OPTIONS, ...EXPERIMENT_OPTIONS, checkpoint: { type: 'string' as const, help: '' } };

describe('the command line', () => {
  it('parses the experiment options into their typed form', () => {
    const { positionals, values } = parseOptions(['exp.yaml', '--threads', '2', '--seed', '7', '--set', 'a=1', '--set', 'b=2', '--quick'], known);
    expect(positionals).toEqual(['exp.yaml']);
    expect(experimentArguments(values)).toEqual({ set: ['a=1', 'b=2'], quick: true, seed: 7, threads: 2 });
  });
  it('refuses bad values, unknown options and options of another command with a clear message', () => {
    expect(usageError(() => integerOption({ threads: '0' }, 'threads', 1, 256))).toBe("--threads must be an integer from 1 to 256, got '0'");
    expect(usageError(() => choiceOption({ checkpoint: 'first' }, 'checkpoint', ['best', 'last']))).toBe("--checkpoint must be best or last, got 'first'");
    expect(usageError(() => parseOptions(['x.yaml', '--thread', '2'], known))).toMatch(/unknown option --thread; did you mean --threads\?/);
    expect(usageError(() => checkOptionsOf('run', { checkpoint: 'best' }, EXPERIMENT_OPTIONS))).toBe("--checkpoint is not an option of 'run' (see runner run --help)");
  });
  it('documents every command and option in --help', () => {
    const text = usage();
    for (const word of ['runner validate', 'runner resume', 'runner evaluate', 'runner data export', '--backend', '--threads', '--seed', '--set', '--out', '--quick', '--split', '--checkpoint', '--plugin']) {
      expect(text).toContain(word);
    }
  });
});
