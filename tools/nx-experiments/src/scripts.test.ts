import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentLines, fileLines, packageVersion } from '../identity.js';
import { isUnderRuns, lastOption, runnerArguments } from '../run-target.js';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'nx-experiments-scripts-'));
});
afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('run-target.js', () => {
  it('finds the option value the runner will use: the last, in either form', () => {
    expect(lastOption(['a.yaml', '--out', 'runs/x', '--quick'], 'out')).toBe('runs/x');
    expect(lastOption(['--out', 'runs/x', '--out=runs/y'], 'out')).toBe('runs/y');
    expect(lastOption(['--junit=r.xml', '--junit', 'runs/r.xml'], 'junit')).toBe('runs/r.xml');
    expect(lastOption(['--output', 'runs/x', '--out'], 'out')).toBeUndefined();
  });

  it('empties only what lies inside the workspace runs/ folder', () => {
    expect(isUnderRuns('/w', 'runs/nx/a/quick')).toBe(true);
    expect(isUnderRuns('/w', '/w/runs/nx/a/quick.junit.xml')).toBe(true);
    expect(isUnderRuns('/w', 'runs')).toBe(false);
    expect(isUnderRuns('/w', 'runs/../src')).toBe(false);
    expect(isUnderRuns('/w', 'runsx/a')).toBe(false);
    expect(isUnderRuns('/w', '/tmp/out')).toBe(false);
    expect(isUnderRuns('/w', 'experiments')).toBe(false);
  });

  it('puts DLEXP_BACKEND first, so a --backend given to the target still wins', () => {
    expect(runnerArguments(['a.yaml', '--quick'], { DLEXP_BACKEND: 'wasm' })).toEqual(['--backend', 'wasm', 'a.yaml', '--quick']);
    expect(runnerArguments(['a.yaml'], { DLEXP_BACKEND: '' })).toEqual(['a.yaml']);
    expect(runnerArguments(['a.yaml'], {})).toEqual(['a.yaml']);
  });
});

describe('identity.js', () => {
  it('lists a folder by relative name, size and time, sorted, never by absolute path', () => {
    mkdirSync(join(folder, 'sub'));
    writeFileSync(join(folder, 'b.gz'), 'bb');
    writeFileSync(join(folder, 'sub', 'a.gz'), 'a');
    utimesSync(join(folder, 'b.gz'), 1000, 1000);
    utimesSync(join(folder, 'sub', 'a.gz'), 2000, 2000);
    expect(fileLines(folder)).toEqual(['b.gz 2 1000000', 'sub/a.gz 1 2000000']);
    expect(fileLines(join(folder, 'b.gz'))).toEqual(['b.gz 2 1000000']);
    expect(fileLines(join(folder, 'none'))).toEqual(['none missing']);
    expect(fileLines(folder).join('\n')).not.toContain(folder);
  });

  it('hashes the contents of a folder file by file, so any edit changes it and a touch does not', () => {
    writeFileSync(join(folder, 'a.yaml'), 'name: a\n');
    const before = contentLines(folder);
    expect(before).toEqual([`a.yaml ${createHash('sha256').update('name: a\n').digest('hex')}`]);
    utimesSync(join(folder, 'a.yaml'), 5000, 5000);
    expect(contentLines(folder)).toEqual(before);
    writeFileSync(join(folder, 'a.yaml'), 'name: b\n');
    expect(contentLines(folder)).not.toEqual(before);
  });

  it('reads an installed package version, and says when it is missing', () => {
    expect(packageVersion('yaml')).toMatch(/^\d+\.\d+\.\d+/);
    expect(packageVersion('no-such-package-for-sure')).toBe('not installed');
  });
});
