import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runner, runnerEnvironment, temporaryFolder } from './helpers';

describe('runner CLI', () => {
  it('--help lists the commands and options', async () => {
    const result = await runner(['--help']);
    expect(result.status).toBe(0);
    for (const word of ['validate', 'list', '--set', '--quick', '--backend', '--seed', '--out']) expect(result.stdout).toContain(word);
  });
  it('unknown options and commands are usage errors (exit 2) with a suggestion', async () => {
    const option = await runner(['experiments/linear-regression.yaml', '--sed', '3']);
    expect(option.status).toBe(2);
    expect(option.stderr.trim()).toBe('unknown option --sed; did you mean --seed? (see --help)');
    expect((await runner(['frobnicate'])).status).toBe(2);
    expect((await runner(['experiments/linear-regression.yaml', '--seed', 'x'])).stderr).toContain('--seed must be an integer');
  });
  it('list prints every registry with parameters, defaults and descriptions', async () => {
    const result = await runner(['list']);
    expect(result.status).toBe(0);
    for (const heading of ['datasets:', 'models:', 'optimizers:', 'schedules:', 'initializers:', 'ops:', 'backends:']) expect(result.stdout).toContain(heading);
    expect(result.stdout).toMatch(/ {2}adam: .+\n {4}learningRate \(.*default 0\.001\): /);
    const one = await runner(['list', 'optimizers']);
    expect(one.stdout).not.toContain('datasets:');
    expect((await runner(['list', 'optimisers'])).status).toBe(2);
  });
  it('validate reports every file and exits 2 when any is invalid', async () => {
    const result = await runner(['validate', 'experiments/linear-regression.yaml', 'no-such.yaml']);
    expect(result.status).toBe(2);
    expect(result.stdout).toContain('experiments/linear-regression.yaml: ok');
    expect(result.stderr).toContain('no-such.yaml:1:1: cannot read the experiment: no such file');
  });
  it('backend auto says what it picked and why it passed over the others, without native noise', async () => {
    const result = await runner(['experiments/mnist-softmax.yaml', '--quick', '--out', join(temporaryFolder('auto-'), 'run')]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^backend: \w+ \(picked by auto; .*\)$/m);
    expect(result.stdout).toMatch(/^backend: skipped cuda: /m);
    expect(result.stderr).not.toMatch(/artificially reduced/);
  });
  it('schema --check agrees with the committed schema', async () => {
    expect((await runner(['schema', '--check'])).status).toBe(0);
  });
  it('resolves paths against the folder it was run from, and writes runs/<name>/<run-id>/ there', async () => {
    const cwd = temporaryFolder('cwd-');
    const result = await runner([join(ROOT, 'experiments/linear-regression.yaml'), '--quick'], { cwd });
    expect(result.status).toBe(0);
    const runs = readdirSync(join(cwd, 'runs', 'linear-regression'));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^\d{8}-\d{6}-s1$/);
    expect(existsSync(join(cwd, 'runs', 'linear-regression', runs[0]!, 'summary.json'))).toBe(true);
  });
  it('gives exact exit codes through npx, and runs through Nx from a subfolder', () => {
    const npx = spawnSync('npx', ['runner', 'experiments/linear-regression.yaml', '--set', 'seed=-1'], { cwd: ROOT, encoding: 'utf8', env: runnerEnvironment() });
    expect(npx.status).toBe(2);
    const sub = join(ROOT, 'experiments');
    const out = join(temporaryFolder('nx-'), 'run');
    mkdirSync(sub, { recursive: true });
    const nx = spawnSync('npx', ['nx', 'run', 'runner', '--', 'linear-regression.yaml', '--quick', '--out', out], {
      cwd: sub,
      encoding: 'utf8',
      env: runnerEnvironment({ NX_DAEMON: 'false', NX_NO_CLOUD: 'true' }),
    });
    expect(nx.status).toBe(0);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  });
});
