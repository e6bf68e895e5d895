import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectRunFiles, writeRunFiles } from './run-files';

function runFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'run-files-'));
  writeFileSync(join(dir, 'summary.json'), '{"status":"completed"}\n');
  writeFileSync(join(dir, 'metrics.jsonl'), '{"step":1}\n{"step":2}\n');
  mkdirSync(join(dir, 'model'));
  writeFileSync(join(dir, 'model', 'weights.bin'), Buffer.from([0, 1, 2, 255]));
  mkdirSync(join(dir, 'checkpoints', 'step-10'), { recursive: true });
  writeFileSync(join(dir, 'checkpoints', 'step-10', 'state.json'), '{}');
  return dir;
}

describe('run folders through the queue', () => {
  it('travel whole but for checkpoints, text as text and the rest as base64, and are written back the same', () => {
    const source = runFolder();
    const collected = collectRunFiles(source);
    expect(collected.files.map((f) => [f.path, f.encoding])).toEqual([
      ['metrics.jsonl', 'utf8'],
      ['model/weights.bin', 'base64'],
      ['summary.json', 'utf8'],
    ]);
    expect(collected.leftOut).toEqual([]);
    const target = join(mkdtempSync(join(tmpdir(), 'run-files-back-')), 'trial-001');
    mkdirSync(target);
    writeFileSync(join(target, 'stale.txt'), 'from an earlier delivery');
    writeRunFiles(target, collected.files);
    expect(readdirSync(target).sort()).toEqual(['metrics.jsonl', 'model', 'summary.json']);
    expect(readFileSync(join(target, 'metrics.jsonl'), 'utf8')).toBe('{"step":1}\n{"step":2}\n');
    expect([...readFileSync(join(target, 'model', 'weights.bin'))]).toEqual([0, 1, 2, 255]);
  });

  it('beyond the size limit the largest files stay on the worker, named', () => {
    const source = runFolder();
    writeFileSync(join(source, 'model', 'weights.bin'), Buffer.alloc(5000));
    const collected = collectRunFiles(source, 1000);
    expect(collected.files.map((f) => f.path)).toEqual(['metrics.jsonl', 'summary.json']);
    expect(collected.leftOut).toEqual(['model/weights.bin']);
  });

  it('a missing folder sends nothing; a result naming a file outside its folder is refused', () => {
    expect(collectRunFiles(join(tmpdir(), 'no-such-run-folder-x'))).toEqual({ files: [], leftOut: [] });
    const target = mkdtempSync(join(tmpdir(), 'run-files-evil-'));
    for (const path of ['../escape.txt', '/etc/passwd', '']) {
      expect(() => writeRunFiles(join(target, 'trial-001'), [{ path, encoding: 'utf8', content: 'x' }])).toThrow(/outside its run folder/);
    }
    expect(readdirSync(target)).toEqual([]);
  });
});
