import { spawn } from 'node:child_process';
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

/**
 * Runs the runner's bin as a user would (`npx runner` resolves to the same file). Asynchronous, so
 * the test worker stays responsive to vitest while a long run goes on.
 */
export function runner(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(RUNNER, args, { cwd: options.cwd ?? ROOT, env: runnerEnvironment(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

export function temporaryFolder(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
