import { describe, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { parseCommandLine, USAGE } from './cli-args';

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('the command line', () => {
  it('parses every option into its typed field', () => {
    const args = parseCommandLine(['exp.yaml', '--threads', '2', '--seed', '7', '--set', 'a=1', '--set', 'b=2', '--plugin', 'p.ts', '--checkpoint', 'best', '--quick']);
    expect(args).toMatchObject({ positionals: ['exp.yaml'], threads: 2, seed: 7, set: ['a=1', 'b=2'], plugin: ['p.ts'], checkpoint: 'best', quick: true });
  });
  it('refuses bad values and unknown options with a clear message', () => {
    expect(usageError(['x.yaml', '--threads', '0'])).toBe("--threads must be an integer from 1 to 256, got '0'");
    expect(usageError(['x.yaml', '--checkpoint', 'first'])).toBe("--checkpoint must be best or last, got 'first'");
    expect(usageError(['x.yaml', '--thread', '2'])).toMatch(/unknown option --thread; did you mean --threads\?/);
  });
  it('documents every option in --help', () => {
    for (const option of ['--backend', '--threads', '--seed', '--set', '--out', '--quick', '--split', '--checkpoint', '--plugin']) expect(USAGE).toContain(option);
  });
});
