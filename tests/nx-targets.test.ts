import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers';

/*
 * The experiments' Nx targets end to end, in a scratch copy of this workspace (its tracked and
 * untracked files, git-ignored ones left out, node_modules linked), with a cache of its own: what
 * runs, what is read from the cache, and what `nx affected` picks after a change. Three small
 * experiments keep it quick: two cpu regressions and a two-trial sweep.
 */

let scratch: string;

/** The workspace's files as git sees them (tracked or not, ignored ones left out), copied. */
function copyWorkspace(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 })
    .toString()
    .split('\0')
    .filter((f) => f !== '');
  for (const file of files) {
    const from = join(ROOT, file);
    const stat = statSync(from, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile()) continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(from, join(to, file));
  }
  // Installed packages are linked, not installed again; the workspace's own packages point at the copy.
  mkdirSync(join(to, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    const from = join(ROOT, 'node_modules', entry);
    if (entry === '@dlexp') {
      mkdirSync(join(to, 'node_modules', entry));
      for (const name of readdirSync(from)) symlinkSync(readlinkSync(join(from, name)), join(to, 'node_modules', entry, name));
    } else symlinkSync(from, join(to, 'node_modules', entry));
  }
  for (const file of files.filter((f) => f.endsWith('/package.json'))) {
    const nested = join(ROOT, dirname(file), 'node_modules');
    if (existsSync(nested) && !existsSync(join(to, dirname(file), 'node_modules'))) symlinkSync(nested, join(to, dirname(file), 'node_modules'));
  }
}

interface Result {
  status: number;
  output: string;
  ms: number;
}

/** Runs a command in the scratch workspace, with caching on (whatever CI set) and no daemon. */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const environment: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_CACHE_DIRECTORY: join(scratch, '.nx-cache'), NX_TUI: 'false' };
  for (const name of ['NX_SKIP_NX_CACHE', 'INIT_CWD', 'DLEXP_BACKEND']) delete environment[name];
  Object.assign(environment, env);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: scratch, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, output, ms: Date.now() - started }));
  });
}

const nx = (args: string[], env?: Record<string, string>) => run(process.execPath, [join(scratch, 'node_modules', '.bin', 'nx'), ...args, '--outputStyle=static'], env);

/** How each task of a run-many ended: 'ran', or 'cache' when Nx read it from the cache. */
function tasksOf(output: string): Record<string, 'ran' | 'cache'> {
  const tasks: Record<string, 'ran' | 'cache'> = {};
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  for (const [, task, marker] of plain.matchAll(/^> nx run (\S+)(.*)$/gm)) tasks[task!] = /\[(local cache|existing outputs match the cache, left as is)\]/.test(marker!) ? 'cache' : 'ran';
  return tasks;
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: scratch, stdio: 'pipe' }).toString();

const EXPERIMENTS = ['exp-linear-regression', 'exp-nonlinear-regression', 'exp-tiny-sweep'];
const QUICK = EXPERIMENTS.map((p) => `${p}:quick`).sort();

/** The affected experiments, had these files changed. */
async function affectedExperiments(files: string[]): Promise<string[]> {
  const result = await nx(['show', 'projects', '--affected', `--files=${files.join(',')}`]);
  expect(result.status, result.output).toBe(0);
  return result.output.split('\n').filter((line) => line.startsWith('exp-')).sort();
}

const readSummary = (name: string, target: string) => JSON.parse(readFileSync(join(scratch, 'runs', 'nx', name, target, 'summary.json'), 'utf8')) as { status: string; timing: { startedAt: string }; trials?: unknown[] };

describe('experiments as Nx targets', () => {
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'nx-targets-'));
    copyWorkspace(scratch);
    // Only the quick cpu experiments, and a sweep of one of them.
    for (const file of readdirSync(join(scratch, 'experiments'))) {
      if (!['linear-regression.yaml', 'nonlinear-regression.yaml'].includes(file)) rmSync(join(scratch, 'experiments', file));
    }
    const linear = readFileSync(join(scratch, 'experiments', 'linear-regression.yaml'), 'utf8');
    writeFileSync(
      join(scratch, 'experiments', 'tiny-sweep.yaml'),
      `${linear.replace('name: linear-regression', 'name: tiny-sweep')}sweep:\n  method: grid\n  parameters:\n    train.optimizer.learningRate: {values: [0.1, 0.2]}\n  metric: train.loss\n  goal: minimize\n`,
    );
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('-c', 'user.name=test', '-c', 'user.email=test@example.com', 'commit', '-q', '-m', 'scratch', '--no-verify');
  }, 120_000);

  afterAll(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('infers a project with train, quick and validate targets for every experiment file', async () => {
    const result = await nx(['show', 'projects', '--with-target', 'quick']);
    expect(result.status, result.output).toBe(0);
    expect(result.output.split('\n').filter((l) => l.startsWith('exp-')).sort()).toEqual(EXPERIMENTS);
  }, 60_000);

  it('runs every quick target from a clean copy, each into its fixed run directory with a JUnit report', async () => {
    const result = await nx(['run-many', '-t', 'quick']);
    expect(result.status, result.output).toBe(0);
    expect(tasksOf(result.output)).toEqual(Object.fromEntries(QUICK.map((t) => [t, 'ran'])));
    expect(readSummary('linear-regression', 'quick').status).toBe('completed');
    expect(readFileSync(join(scratch, 'runs', 'nx', 'linear-regression', 'quick.junit.xml'), 'utf8')).toContain('<testcase name="train.loss &lt;= 0.01" classname="linear-regression"');
    // The sweep's quick form: every trial, under the run directory.
    expect(readdirSync(join(scratch, 'runs', 'nx', 'tiny-sweep', 'quick', 'trials'))).toHaveLength(2);
    console.log(`run-many -t quick, cold: ${(result.ms / 1000).toFixed(1)} s`);
  }, 300_000);

  it('reads a second run-many from the cache, restoring the run directories; CI=true keeps the cache', async () => {
    const before = readSummary('linear-regression', 'quick');
    rmSync(join(scratch, 'runs'), { recursive: true, force: true });
    const result = await nx(['run-many', '-t', 'quick'], { CI: 'true' });
    expect(result.status, result.output).toBe(0);
    expect(tasksOf(result.output)).toEqual(Object.fromEntries(QUICK.map((t) => [t, 'cache'])));
    expect(readSummary('linear-regression', 'quick')).toEqual(before);
    expect(existsSync(join(scratch, 'runs', 'nx', 'nonlinear-regression', 'quick.junit.xml'))).toBe(true);
    expect(readdirSync(join(scratch, 'runs', 'nx', 'tiny-sweep', 'quick', 'trials'))).toHaveLength(2);
    console.log(`run-many -t quick, warm: ${(result.ms / 1000).toFixed(1)} s`);
  }, 120_000);

  it('runs again only the experiment whose file changed', async () => {
    const file = join(scratch, 'experiments', 'nonlinear-regression.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^seed: 1$/m, 'seed: 2'));
    const result = await nx(['run-many', '-t', 'quick']);
    expect(result.status, result.output).toBe(0);
    expect(tasksOf(result.output)).toEqual({ 'exp-linear-regression:quick': 'cache', 'exp-nonlinear-regression:quick': 'ran', 'exp-tiny-sweep:quick': 'cache' });
  }, 120_000);

  it('runs every experiment again after a change to a library the runner imports, none after a change to bench/', async () => {
    appendFileSync(join(scratch, 'bench', 'README.md'), '\nA line that changes no result.\n');
    const benchOnly = await nx(['run-many', '-t', 'quick']);
    expect(benchOnly.status, benchOnly.output).toBe(0);
    expect(Object.values(tasksOf(benchOnly.output))).toEqual(['cache', 'cache', 'cache']);

    appendFileSync(join(scratch, 'libs', 'core', 'src', 'index.ts'), '\n// A comment is a change of source all the same.\n');
    const core = await nx(['run-many', '-t', 'quick']);
    expect(core.status, core.output).toBe(0);
    expect(tasksOf(core.output)).toEqual(Object.fromEntries(QUICK.map((t) => [t, 'ran'])));
  }, 300_000);

  it('keys on the backend asked for through DLEXP_BACKEND', async () => {
    const result = await nx(['run', 'exp-linear-regression:quick'], { DLEXP_BACKEND: 'cpu' });
    expect(result.status, result.output).toBe(0);
    expect(tasksOf(result.output)['exp-linear-regression:quick']).toBe('ran');
    const again = await nx(['run', 'exp-linear-regression:quick']);
    expect(tasksOf(again.output)['exp-linear-regression:quick']).toBe('cache');
  }, 120_000);

  it('picks, with nx affected, the experiments a change can alter', async () => {
    expect(await affectedExperiments(['bench/README.md'])).toEqual([]);
    expect(await affectedExperiments(['libs/core/src/index.ts'])).toEqual(EXPERIMENTS);
    expect(await affectedExperiments(['experiments/linear-regression.yaml'])).toEqual(['exp-linear-regression']);
    expect(await affectedExperiments(['tools/nx-experiments/run-target.js'])).toEqual(EXPERIMENTS);
  }, 120_000);

  it('runs the full experiment with train, checking expect: into its own JUnit report', async () => {
    const result = await nx(['run', 'exp-linear-regression:train']);
    expect(result.status, result.output).toBe(0);
    expect(readSummary('linear-regression', 'train').status).toBe('completed');
    const junit = readFileSync(join(scratch, 'runs', 'nx', 'linear-regression', 'train.junit.xml'), 'utf8');
    expect([...junit.matchAll(/<testcase name="([^"]+)"/g)].map((m) => m[1])).toEqual(['k &gt;= 0.09', 'k &lt;= 0.11', 'b &gt;= 0.19', 'b &lt;= 0.21']);
  }, 120_000);

  it('fails a quick target whose expectation is not met, with the measured value in its report', async () => {
    const file = join(scratch, 'experiments', 'linear-regression.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('train.loss: {max: 0.01}', 'train.loss: {max: 0.00000000001}'));
    const result = await nx(['run', 'exp-linear-regression:quick']);
    expect(result.status).not.toBe(0);
    expect(readFileSync(join(scratch, 'runs', 'nx', 'linear-regression', 'quick.junit.xml'), 'utf8')).toMatch(/<failure message="train\.loss = [0-9.e-]+, expected train\.loss &lt;= 1e-11" type="expectation">/);
  }, 120_000);

  it('validates every experiment through cached targets, and the pre-commit hook validates what is staged', async () => {
    const cold = await nx(['run-many', '-t', 'validate']);
    expect(cold.status, cold.output).toBe(0);
    const warm = await nx(['run-many', '-t', 'validate']);
    expect(Object.values(tasksOf(warm.output))).toEqual(['cache', 'cache', 'cache']);
    console.log(`run-many -t validate: cold ${(cold.ms / 1000).toFixed(1)} s, warm ${(warm.ms / 1000).toFixed(1)} s`);

    const file = join(scratch, 'experiments', 'nonlinear-regression.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^seed: 2$/m, 'seeed: 2'));
    git('add', 'experiments/nonlinear-regression.yaml');
    const hook = await run('sh', ['tools/nx-experiments/pre-commit.sh']);
    expect(hook.status).not.toBe(0);
    expect(hook.output).toMatch(/experiments\/nonlinear-regression\.yaml:\d+:1: .*seeed/);
    expect(tasksOf(hook.output)).toEqual({ 'exp-nonlinear-regression:validate': 'ran' });
  }, 180_000);
});
