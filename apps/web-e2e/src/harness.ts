import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * What the dashboard's end-to-end tests share: the runner CLI as a child process (runs, and
 * `runner ui` itself), Debian's Chromium driven headless through playwright-core (nothing
 * downloaded), and screenshots in this project's test-results/.
 */

export const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
export const RUNNER = join(WORKSPACE, 'apps', 'runner', 'bin', 'runner.js');
export const EXPERIMENTS = join(WORKSPACE, 'experiments');
export const SCREENSHOTS = fileURLToPath(new URL('../test-results/', import.meta.url));

export const CHROMIUM = process.env['DLEXP_CHROMIUM'] ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** CI sets DLEXP_REQUIRE_BROWSER=1: there a missing browser fails the tests instead of skipping them. */
export const BROWSER_REQUIRED = process.env['DLEXP_REQUIRE_BROWSER'] === '1';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function temporaryFolder(name: string): string {
  return mkdtempSync(join(tmpdir(), `dlexp-web-e2e-${name}-`));
}

export interface Finished {
  code: number | null;
  output: string;
}

/** Runs the runner CLI to the end. */
export function runner(args: string[], options: { timeoutMs?: number } = {}): Promise<Finished> {
  const child = startRunner(args);
  return finished(child, options.timeoutMs ?? 300_000);
}

/** Starts the runner CLI and leaves it running; its output collects in `output()`. */
export function startRunner(args: string[]): ChildProcess & { output(): string } {
  const child = spawn(process.execPath, [RUNNER, ...args], { cwd: WORKSPACE, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INIT_CWD: WORKSPACE } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return Object.assign(child, { output: () => output });
}

export function finished(child: ChildProcess & { output?: () => string }, timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the runner did not finish in ${timeoutMs} ms:\n${child.output?.() ?? ''}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: child.output?.() ?? '' });
    });
  });
}

/** `runner ui` on a log folder, on a free port; resolves once it prints its URL. */
export async function startDashboardCli(logdir: string, extra: string[] = []): Promise<{ url: string; port: number; child: ChildProcess & { output(): string } }> {
  const child = startRunner(['ui', '--logdir', logdir, '--port', '0', ...extra]);
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.output());
    if (match !== null) return { url: match[0], port: Number(match[1]), child };
    if (child.exitCode !== null) throw new Error(`runner ui exited with ${child.exitCode}:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`runner ui printed no URL:\n${child.output()}`);
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A fresh page (its own storage) that fails the test on any script error. */
export async function openPage(browser: Browser, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export interface RawResponse {
  status: number;
  body: string;
}

/** A request with the path sent exactly as written (fetch would normalize `..` away). */
export function rawGet(port: number, path: string, host = '127.0.0.1'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
