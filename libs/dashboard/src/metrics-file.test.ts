import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRowsFrom } from './metrics-file';
import { temporaryFolder } from './test-fixtures';

describe('reading metrics.jsonl by byte ranges', () => {
  it('reads whole lines only, and continues where the last read ended', () => {
    const file = join(temporaryFolder('metrics'), 'metrics.jsonl');
    writeFileSync(file, '{"step":1,"train.loss":0.5,"note":"text"}\n{"step":2,');
    const first = readRowsFrom(file, 0);
    expect(first.rows).toEqual([{ step: 1, 'train.loss': 0.5 }]);
    expect(first.offset).toBe('{"step":1,"train.loss":0.5,"note":"text"}\n'.length);
    expect(readRowsFrom(file, first.offset)).toEqual({ rows: [], offset: first.offset, reset: false });
    appendFileSync(file, '"train.loss":0.25}\nnot json\n[1]\n{"step":3}\n');
    const second = readRowsFrom(file, first.offset);
    // Lines that are not JSON objects are left out of the live view.
    expect(second.rows).toEqual([{ step: 2, 'train.loss': 0.25 }, { step: 3 }]);
    expect(second.reset).toBe(false);
  });

  it('starts again from the beginning when the file was cut back, and reads a missing file as empty', () => {
    const dir = temporaryFolder('metrics-reset');
    const file = join(dir, 'metrics.jsonl');
    writeFileSync(file, '{"step":1}\n{"step":2}\n');
    const all = readRowsFrom(file, 0);
    writeFileSync(file, '{"step":1}\n');
    expect(readRowsFrom(file, all.offset)).toEqual({ rows: [{ step: 1 }], offset: 11, reset: true });
    expect(readRowsFrom(join(dir, 'none.jsonl'), 0)).toEqual({ rows: [], offset: 0, reset: false });
  });
});
