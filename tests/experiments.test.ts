import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from './helpers';

/*
 * Every experiment's quick form runs in `npm test` as its Nx target `exp-<name>:quick` (inferred
 * by tools/nx-experiments, cached by everything the run depends on), not from this suite. This
 * suite checks that none can slip out of that: every experiment file is a project with a quick
 * target, and its quick: block asks something of the run.
 */

const experiments = readdirSync(join(ROOT, 'experiments')).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));

type Mapping = Record<string, unknown>;
const isMapping = (value: unknown): value is Mapping => value !== null && typeof value === 'object' && !Array.isArray(value);

/** An experiment as written, with the files it extends merged under it (mappings key by key). */
function written(file: string): Mapping {
  const data = parse(readFileSync(file, 'utf8')) as Mapping;
  if (typeof data['extends'] !== 'string') return data;
  const merge = (base: Mapping, over: Mapping): Mapping =>
    Object.fromEntries([...new Set([...Object.keys(base), ...Object.keys(over)])].map((k) => [k, isMapping(base[k]) && isMapping(over[k]) ? merge(base[k], over[k]) : k in over ? over[k] : base[k]]));
  return merge(written(join(dirname(file), data['extends'])), data);
}

function quickProjects(): string[] {
  const env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false' };
  delete env['INIT_CWD'];
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules', '.bin', 'nx'), 'show', 'projects', '--with-target', 'quick', '--json'], { cwd: ROOT, env, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as string[];
}

describe('experiments/', () => {
  it('holds experiments', () => {
    expect(experiments.length).toBeGreaterThan(0);
  });

  it('has an Nx project with a quick target for every experiment, which npm test runs', () => {
    const projects = quickProjects();
    for (const file of experiments) {
      const { name } = written(join(ROOT, 'experiments', file)) as { name: string };
      expect(projects, `experiments/${file}`).toContain(`exp-${name}`);
    }
    const test = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['test'];
    expect(test).toMatch(/nx run-many -t (\w+ )*quick\b/);
  }, 60_000);

  it.each(experiments)('%s has a quick: block that shortens the run and checks expectations', (file) => {
    const { quick } = written(join(ROOT, 'experiments', file)) as { quick?: { set?: Mapping; expect?: Mapping } };
    expect(Object.keys(quick?.set ?? {}).length, 'quick.set').toBeGreaterThan(0);
    expect(Object.keys(quick?.expect ?? {}).length, 'quick.expect').toBeGreaterThan(0);
  });
});
