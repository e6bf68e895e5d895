import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';

/**
 * The web app, built once and cached. `npx runner ui` must work right after `npm ci`, with no
 * build step of its own, and serve only the app's files: so the first start builds the app with
 * Vite into a cache folder named by a hash of everything the bundle is made from (the app's
 * sources, the libraries' sources, the lock file), and every later start with the same sources
 * serves that folder at once. A Vite dev server would serve the workspace's source files on
 * request (and its /@fs/ route files outside it); a built folder holds exactly the app.
 */

export interface WebAppSources {
  /** The Vite app's folder (holding vite.config.ts and index.html). */
  appRoot: string;
  /** Files and folders whose contents make the bundle: a change in any of them means a new build. */
  inputs: string[];
  /** Where builds are kept, one folder per hash. */
  cacheDir: string;
  /** Progress for the person waiting ("building the web app ..."). */
  log?: (line: string) => void;
  /** The build command (default: this Node running the app's own Vite); tests pass a stand-in. */
  buildCommand?: (outDir: string) => { command: string; args: string[] };
}

export interface WebApp {
  /** The folder the app's files are in. */
  dir: string;
  /** URL path (`/assets/index-abc.js`) → file, for every file of the app. */
  files: Map<string, string>;
  /** Whether this call built it (false: taken from the cache). */
  built: boolean;
}

/** Folders that never hold sources: installed packages, builds, test output, caches. */
const SKIPPED = new Set(['node_modules', 'dist', 'test-results', 'coverage', 'build', 'runs']);

/** How many builds the cache keeps (the newest). */
const KEPT_BUILDS = 3;

function collectFiles(path: string, into: string[]): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return;
  }
  if (stats.isFile()) {
    into.push(path);
    return;
  }
  if (!stats.isDirectory()) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIPPED.has(entry.name)) continue;
    if (entry.isDirectory() || entry.isFile()) collectFiles(join(path, entry.name), into);
  }
}

/** A hash of the inputs' file names and contents (sorted, so the order of listing does not matter). */
export function hashSources(inputs: string[]): string {
  const files: string[] = [];
  for (const input of inputs) collectFiles(input, files);
  const hash = createHash('sha256');
  for (const file of [...new Set(files)].sort()) {
    hash.update(file);
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** URL path → file for every file of a built app. */
export function appFiles(dir: string): Map<string, string> {
  const files: string[] = [];
  collectFiles(dir, files);
  return new Map(files.map((file) => [`/${relative(dir, file).split(sep).join('/')}`, file]));
}

function viteCommand(appRoot: string, outDir: string): { command: string; args: string[] } {
  // The app's own Vite (its package.json pins the version), found from the app's folder.
  const vitePackage = createRequire(join(appRoot, 'package.json')).resolve('vite/package.json');
  return {
    command: process.execPath,
    args: [join(dirname(vitePackage), 'bin', 'vite.js'), 'build', '--config', join(appRoot, 'vite.config.ts'), '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
  };
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

export class WebAppBuildError extends Error {}

/** The built app for these sources: from the cache, or built now (about 10-30 s on two cores) and cached. */
export async function prepareWebApp(sources: WebAppSources): Promise<WebApp> {
  const hash = hashSources(sources.inputs);
  const dir = join(sources.cacheDir, hash);
  if (existsSync(join(dir, 'index.html'))) return { dir, files: appFiles(dir), built: false };
  mkdirSync(sources.cacheDir, { recursive: true });
  // Built beside the final folder and renamed into place, so a second server starting at the
  // same time never serves half a build (whichever finishes second keeps the first one's).
  const temporary = join(sources.cacheDir, `${hash}.building-${process.pid}-${Date.now()}`);
  sources.log?.(`building the web app (once for these sources; cached in ${dir})`);
  const started = Date.now();
  const { command, args } = sources.buildCommand?.(temporary) ?? viteCommand(sources.appRoot, temporary);
  const result = await run(command, args, sources.appRoot);
  if (result.code !== 0 || !existsSync(join(temporary, 'index.html'))) {
    rmSync(temporary, { recursive: true, force: true });
    throw new WebAppBuildError(`building the web app failed (exit ${result.code}):\n${result.output.trim().split('\n').slice(-30).join('\n')}`);
  }
  try {
    renameSync(temporary, dir);
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    if (!existsSync(join(dir, 'index.html'))) throw error;
  }
  sources.log?.(`built the web app in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  pruneBuilds(sources.cacheDir, hash);
  return { dir, files: appFiles(dir), built: true };
}

/** Keeps the newest builds (and any still being built), removes the older ones. */
function pruneBuilds(cacheDir: string, current: string): void {
  const builds = readdirSync(cacheDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[0-9a-f]{16}$/.test(e.name) && e.name !== current)
    .map((e) => ({ name: e.name, time: statSync(join(cacheDir, e.name)).mtimeMs }))
    .sort((a, b) => b.time - a.time);
  for (const old of builds.slice(KEPT_BUILDS - 1)) rmSync(join(cacheDir, old.name), { recursive: true, force: true });
}
