import { ConfigError, DataError, didYouMean, param, type RegistryEntry } from '@dlexp/core';
import { createColumn, inMemorySplit, type DatasetContext, type InMemorySplit, type LoadedDataset, type SplitName } from './dataset';
import { readDataFile } from './files';
import { limitParam, validationCount, validationSplitParam, type SplitLimits } from './split-options';

type Entry<P> = RegistryEntry<P, DatasetContext, Promise<LoadedDataset>>;

/** One parsed row: its cells, the 1-based line it starts on and each cell's 1-based column. */
export interface CsvRow {
  line: number;
  cells: string[];
  columns: number[];
}

/**
 * RFC 4180 CSV: quoted cells may hold the delimiter, newlines and doubled quotes; CRLF or LF line
 * ends; a leading byte-order mark is skipped; blank lines are ignored. Positions are kept so
 * errors can point at the cell.
 */
export function parseCsv(text: string, file: string, delimiter = ','): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i;
  const n = text.length;
  while (i < n) {
    const row: CsvRow = { line, cells: [], columns: [] };
    let blank = true;
    for (;;) {
      row.columns.push(i - lineStart + 1);
      let cell = '';
      if (text[i] === '"') {
        const openLine = line;
        const openCol = i - lineStart + 1;
        i++;
        for (;;) {
          if (i >= n) throw new DataError(`${file}:${openLine}:${openCol}: unterminated quoted cell`);
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') {
            line++;
            lineStart = i + 1;
          }
          cell += ch;
          i++;
        }
        if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          throw new DataError(`${file}:${line}:${i - lineStart + 1}: unexpected character after a closing quote`);
        }
        blank = false;
      } else {
        const start = i;
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') i++;
        cell = text.slice(start, i);
        if (cell !== '') blank = false;
      }
      row.cells.push(cell);
      if (i < n && text[i] === delimiter) {
        blank = false;
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    lineStart = i;
    if (!blank) rows.push(row);
  }
  return rows;
}

export interface CsvParams {
  train?: string;
  validation?: string;
  test?: string;
  features: string[];
  labels: string[];
  categorical: string[];
  oneHot: boolean;
  delimiter: string;
  validationSplit: number;
  limit: SplitLimits;
}

interface Table {
  file: string;
  header: Map<string, number>;
  rows: CsvRow[];
}

function compareCategories(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readTable(file: string, delimiter: string, needed: string[]): Promise<Table> {
  const rows = parseCsv((await readDataFile(file)).toString('utf8'), file, delimiter);
  const head = rows.shift();
  if (head === undefined) throw new DataError(`${file}: the file is empty; it needs a header row naming the columns`);
  const header = new Map<string, number>();
  head.cells.forEach((name, i) => {
    if (header.has(name.trim())) throw new DataError(`${file}:${head.line}:${head.columns[i]!}: column '${name.trim()}' appears twice in the header`);
    header.set(name.trim(), i);
  });
  for (const name of needed) {
    if (!header.has(name)) {
      const known = [...header.keys()];
      throw new DataError(`${file}:${head.line}: no column '${name}'${didYouMean(name, known)} (columns: ${known.join(', ')})`);
    }
  }
  for (const row of rows) {
    if (row.cells.length !== head.cells.length) {
      throw new DataError(`${file}:${row.line}: ${row.cells.length} cells, but the header has ${head.cells.length} columns`);
    }
  }
  return { file, header, rows };
}

function cellAt(table: Table, row: CsvRow, name: string): { text: string; where: string } {
  const index = table.header.get(name)!;
  return { text: row.cells[index]!, where: `${table.file}:${row.line}:${row.columns[index]!}: column '${name}'` };
}

function numberAt(table: Table, row: CsvRow, name: string): number {
  const { text, where } = cellAt(table, row, name);
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) throw new DataError(`${where}: ${JSON.stringify(text)} is not a number (list the column under categorical if it holds categories)`);
  return value;
}

function buildSplit(table: Table, rowIndices: number[], p: CsvParams, vocab: Map<string, Map<string, number>>): InMemorySplit {
  const n = rowIndices.length;
  const widths = p.features.map((f) => vocab.get(f)?.size ?? 1);
  const width = widths.reduce((a, b) => a + b, 0);
  const x = new Float32Array(n * width);
  const idOf = (row: CsvRow, name: string): number => vocab.get(name)!.get(cellAt(table, row, name).text.trim())!;
  rowIndices.forEach((r, k) => {
    const row = table.rows[r]!;
    let at = k * width;
    p.features.forEach((name, f) => {
      if (vocab.has(name)) x[at + idOf(row, name)] = 1;
      else x[at] = numberAt(table, row, name);
      at += widths[f]!;
    });
  });
  const columns = { x: createColumn(x, [n, width]) };
  const [single] = p.labels;
  if (p.labels.length === 1 && vocab.has(single!)) {
    const classes = vocab.get(single!)!.size;
    if (p.oneHot) {
      const y = new Float32Array(n * classes);
      rowIndices.forEach((r, k) => (y[k * classes + idOf(table.rows[r]!, single!)] = 1));
      return inMemorySplit({ ...columns, y: createColumn(y, [n, classes]) });
    }
    return inMemorySplit({ ...columns, y: createColumn(Int32Array.from(rowIndices, (r) => idOf(table.rows[r]!, single!)), [n]) });
  }
  const y = new Float32Array(n * p.labels.length);
  rowIndices.forEach((r, k) =>
    p.labels.forEach((name, j) => {
      const row = table.rows[r]!;
      y[k * p.labels.length + j] = vocab.has(name) ? idOf(row, name) : numberAt(table, row, name);
    }),
  );
  return inMemorySplit({ ...columns, y: createColumn(y, [n, p.labels.length]) });
}

export const csvDataset: Entry<CsvParams> = {
  name: 'csv',
  description:
    'A table from CSV files with a header row: the `features` columns become `x` (float32 [N, width], categorical columns ' +
    'one-hot), the `labels` columns become `y`. A single categorical label gives int32 class ids (or one-hot), numeric ' +
    'labels give float32 [N, labels].',
  params: {
    train: param.string({ description: 'CSV file of the training split, relative to the experiment file.' }),
    validation: param.string({ description: 'CSV file of the validation split (same columns).' }),
    test: param.string({ description: 'CSV file of the test split (same columns).' }),
    features: param.stringList({ description: 'Header names of the input columns, in the order they take in `x`.', minItems: 1, required: true }),
    labels: param.stringList({ description: 'Header names of the target columns, in the order they take in `y`.', minItems: 1, required: true }),
    categorical: param.stringList({
      description:
        'Columns holding categories rather than numbers. Each gets a vocabulary: its distinct values over all splits, sorted ' +
        '(numerically when all are numbers), id i naming the i-th. Categorical features are one-hot in `x`. Every other ' +
        'feature and label cell must be a number.',
      default: [],
    }),
    oneHot: param.boolean({ description: 'With a single categorical label: `y` as one-hot float32 [N, classes] instead of int32 ids [N].', default: false }),
    delimiter: param.string({ description: 'The cell separator, one character (`,` or `;` or a tab).', default: ',', pattern: '^[^"\\r\\n]$' }),
    validationSplit: validationSplitParam,
    limit: limitParam,
  },
  async create(p, context) {
    for (const name of p.categorical) {
      if (!p.features.includes(name) && !p.labels.includes(name)) throw new ConfigError(`categorical: '${name}' is neither a feature nor a label`);
    }
    if (p.oneHot && !(p.labels.length === 1 && p.categorical.includes(p.labels[0]!))) {
      throw new ConfigError('oneHot: needs exactly one label, listed under categorical');
    }
    const needed = [...p.features, ...p.labels];
    const tables: Partial<Record<SplitName, Table>> = {};
    for (const name of ['train', 'validation', 'test'] as const) {
      const file = p[name];
      if (file !== undefined) tables[name] = await readTable(context.resolvePath(file), p.delimiter, needed);
    }
    if (Object.keys(tables).length === 0) throw new ConfigError('csv: give the file of at least one of train, validation, test');
    const vocab = new Map<string, Map<string, number>>();
    for (const name of p.categorical) {
      const values = new Set<string>();
      for (const table of Object.values(tables)) for (const row of table.rows) values.add(cellAt(table, row, name).text.trim());
      vocab.set(name, new Map([...values].sort(compareCategories).map((v, i) => [v, i])));
    }
    const selections: [SplitName, Table, number[]][] = [];
    if (tables.train !== undefined) {
      const count = tables.train.rows.length;
      const v = validationCount(p.validationSplit, count);
      const indices = [...Array(count).keys()];
      if (v > 0) {
        if (tables.validation !== undefined) throw new ConfigError('validationSplit: the validation split is already given by its own file');
        selections.push(['validation', tables.train, indices.slice(count - v)]);
      }
      selections.push(['train', tables.train, indices.slice(0, count - v)]);
    } else if (p.validationSplit > 0) throw new ConfigError('validationSplit: there is no train split to take validation rows from');
    if (tables.validation !== undefined) selections.push(['validation', tables.validation, [...tables.validation.rows.keys()]]);
    if (tables.test !== undefined) selections.push(['test', tables.test, [...tables.test.rows.keys()]]);
    const splits: Partial<Record<SplitName, InMemorySplit>> = {};
    for (const [name, table, rows] of selections) {
      const limit = p.limit[name];
      splits[name] = buildSplit(table, limit === undefined ? rows : rows.slice(0, limit), p, vocab);
    }
    const vocabularies: Record<string, string[]> = {};
    for (const [name, map] of vocab) vocabularies[name] = [...map.keys()];
    if (p.labels.length === 1 && vocab.has(p.labels[0]!)) vocabularies['y'] = [...vocab.get(p.labels[0]!)!.keys()];
    const sizes = Object.entries(splits).map(([s, split]) => `${split.size} ${s}`);
    return { description: `csv: ${sizes.join(' / ')}, x = ${p.features.join(', ')}; y = ${p.labels.join(', ')}`, splits, vocabularies };
  },
};
