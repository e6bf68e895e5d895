import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers';

const ESLINT = join(ROOT, 'node_modules', '.bin', 'eslint');

/** Lints one file written for the test (then removed) and returns what eslint printed. */
function lintPlanted(folder: string, source: string): { status: number; output: string } {
  const file = join(ROOT, folder, `planted-import-${process.pid}.ts`);
  writeFileSync(file, source);
  try {
    const result = spawnSync(ESLINT, ['--no-warn-ignored', relative(ROOT, file)], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    return { status: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(file, { force: true });
  }
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (name === 'node_modules' || name === 'test-results') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('module boundaries', () => {
  it('lint refuses a library importing the runner app', () => {
    const result = lintPlanted('libs/train/src', "import { main } from '@dlexp/runner';\nexport const planted = main;\n");
    expect(result.status).toBe(1);
    expect(result.output).toContain('@nx/enforce-module-boundaries');
  });

  it('lint refuses a benchmark importing the runner app', () => {
    const result = lintPlanted('bench', "import { main } from '@dlexp/runner';\nexport const planted = main;\n");
    expect(result.status).toBe(1);
    expect(result.output).toContain('@nx/enforce-module-boundaries');
  });

  it('lint refuses a leaf library importing the engine', () => {
    const result = lintPlanted('libs/graph/src', "import { runExperiment } from '@dlexp/train';\nexport const planted = runExperiment;\n");
    expect(result.status).toBe(1);
    expect(result.output).toContain('@nx/enforce-module-boundaries');
  });

  it('no library touches the process: no process.on/once/exit( and no console output, strings included', () => {
    const offending: string[] = [];
    for (const file of sourceFiles(join(ROOT, 'libs'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/process\.(on|once|exit)\(|console\.[a-zA-Z]+\(/.test(line)) offending.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });

  it('the runner app stays a thin command line: under 1 500 lines of non-test code', () => {
    const lines = sourceFiles(join(ROOT, 'apps', 'runner', 'src')).reduce((total, file) => total + readFileSync(file, 'utf8').split('\n').length, 0);
    expect(lines).toBeLessThan(1500);
  });
});
