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

/** Runs the runner's bin as a user would (`npx runner` resolves to the same file). */
export function runner(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const env = { ...process.env, ...options.env };
  delete env['INIT_CWD'];
  const result = spawnSync(RUNNER, args, { cwd: options.cwd ?? ROOT, env, encoding: 'utf8', timeout: 300_000 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function temporaryFolder(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
