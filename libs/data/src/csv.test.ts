import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '@dlexp/core';
import { asInMemory } from './index';
import { parseCsv } from './csv';
import { loadDataset, tempDir } from './test-helpers';

const tmp = tempDir('csv');
afterAll(tmp.cleanup);

function file(name: string, text: string): string {
  writeFileSync(join(tmp.dir, name), text);
  return name;
}

const IRIS = `sepal_length,sepal_width,species,soil
5.1,3.5,setosa,clay
7.0,3.2,versicolor,sand
6.3,3.3,virginica,clay

4.9,3.0,setosa,loam
`;

describe('CSV parsing', () => {
  it('handles quotes, doubled quotes, newlines in cells, CRLF and a byte-order mark', () => {
    const rows = parseCsv('\ufeffa,b\r\n"x, ""y""",2\r\n"multi\nline",3\r\n', 'q.csv');
    expect(rows.map((r) => r.cells)).toEqual([
      ['a', 'b'],
      ['x, "y"', '2'],
      ['multi\nline', '3'],
    ]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3]);
    expect(rows[1]!.columns).toEqual([1, 12]);
  });

  it('reports an unterminated quote where it opens', () => {
    expect(() => parseCsv('a,b\n1,"oops\n', 'u.csv')).toThrow(/u.csv:2:3: unterminated quoted cell/);
  });
});

describe('csv dataset', () => {
  it('builds numeric and one-hot categorical features and sorted label vocabularies', async () => {
    file('iris.csv', IRIS);
    const data = await loadDataset(
      'csv',
      { train: 'iris.csv', features: ['sepal_length', 'soil', 'sepal_width'], labels: ['species'], categorical: ['species', 'soil'] },
      1,
      tmp.dir,
    );
    const train = asInMemory(data.splits.train!);
    expect(train.size).toBe(4);
    // sepal_length, soil one-hot over [clay, loam, sand], sepal_width.
    expect(train.columns['x']!.shape).toEqual([4, 5]);
    expect(Array.from(train.columns['x']!.data.subarray(0, 5))).toEqual([5.1, 1, 0, 0, 3.5].map(Math.fround));
    expect(Array.from(train.columns['x']!.data.subarray(5, 10))).toEqual([7, 0, 0, 1, 3.2].map(Math.fround));
    expect(Array.from(train.columns['y']!.data)).toEqual([0, 1, 2, 0]);
    expect(data.vocabularies).toMatchObject({ y: ['setosa', 'versicolor', 'virginica'], soil: ['clay', 'loam', 'sand'] });
  });

  it('takes validation rows from the end, limits, one-hot labels and numeric targets', async () => {
    file('iris2.csv', IRIS);
    const data = await loadDataset(
      'csv',
      { train: 'iris2.csv', features: ['sepal_width'], labels: ['species'], categorical: ['species'], oneHot: true, validationSplit: 1 },
      1,
      tmp.dir,
    );
    expect(asInMemory(data.splits.train!).size).toBe(3);
    expect(Array.from(asInMemory(data.splits.validation!).columns['y']!.data)).toEqual([1, 0, 0]);
    const regression = await loadDataset('csv', { train: 'iris2.csv', features: ['sepal_width'], labels: ['sepal_length'], limit: { train: 2 } }, 1, tmp.dir);
    const y = asInMemory(regression.splits.train!).columns['y']!;
    expect(y.shape).toEqual([2, 1]);
    expect(Array.from(y.data)).toEqual([5.1, 7.0].map(Math.fround));
  });

  const bad: [string, string, Record<string, unknown>, RegExp][] = [
    ['a bad number', 'a,b\n1,2\n3,x7\n', { features: ['a', 'b'], labels: ['a'] }, /bad-a-bad-number.csv:3:3: column 'b': "x7" is not a number/],
    ['an empty number', 'a,b\n1,\n', { features: ['a', 'b'], labels: ['a'] }, /:2:3: column 'b': "" is not a number/],
    ['a short row', 'a,b\n1,2\n3\n', { features: ['a'], labels: ['b'] }, /bad-a-short-row.csv:3: 1 cells, but the header has 2 columns/],
    ['an unknown column', 'alpha,beta\n1,2\n', { features: ['alpah'], labels: ['beta'] }, /:1: no column 'alpah'; did you mean 'alpha'\? \(columns: alpha, beta\)/],
    ['an empty file', '', { features: ['a'], labels: ['b'] }, /the file is empty/],
    ['a repeated header name', 'a,b,a\n1,2,3\n', { features: ['a'], labels: ['b'] }, /:1:5: column 'a' appears twice in the header/],
  ];
  for (const [what, text, params, message] of bad) {
    it(`rejects ${what} naming file, line and column`, async () => {
      const name = file(`bad-${what.replace(/ /g, '-')}.csv`, text);
      const error = await loadDataset('csv', { train: name, ...params }, 1, tmp.dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('reports a missing file as a DataError', async () => {
    await expect(loadDataset('csv', { train: 'nope.csv', features: ['a'], labels: ['b'] }, 1, tmp.dir)).rejects.toThrow(/nope.csv: cannot read: no such file/);
  });
});
