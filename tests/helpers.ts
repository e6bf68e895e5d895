import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const RUNNER = join(ROOT, 'node_modules', '.bin', 'runner');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export const RUNNER_BIN = RUNNER;

/**
 * The environment for a runner started by a test. npm sets INIT_CWD to the folder it was started
 * from (the runner resolves paths against it), so it is removed: the tests pass `cwd` instead.
 */
export function runnerEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env['INIT_CWD'];
  return env;
}

/** Runs the runner's bin as a user would (`npx runner` resolves to the same file). */
export function runner(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const result = spawnSync(RUNNER, args, { cwd: options.cwd ?? ROOT, env: runnerEnvironment(options.env), encoding: 'utf8', timeout: 300_000 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function temporaryFolder(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
