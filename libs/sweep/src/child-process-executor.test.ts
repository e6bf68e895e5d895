import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createChildProcessExecutor } from './child-process-executor';
import type { TrialChannel } from './executor';
import type { PruneVerdict } from './pruners';
import type { TrialSpec } from './trials';

/*
 * Trial processes written by hand in plain JavaScript, speaking the protocol of trial-process.ts
 * directly: what the executor sees of a real trial (start, epochs, verdicts, crashes, stops).
 */
const folder = mkdtempSync(join(tmpdir(), 'child-executor-'));
function script(name: string, body: string): string {
  const file = join(folder, `${name}.mjs`);
  writeFileSync(file, `process.send({ type: 'ready' });\n${body}\n`);
  return file;
}

const REPORTS_EPOCHS = script(
  'reports',
  `
let epoch = 0;
let request;
const next = () => {
  epoch++;
  if (epoch > 3) return finish('completed');
  process.send({ type: 'epoch', epoch, metrics: { 'validation.loss': epoch === 2 ? NaN : 1 / epoch, 'train.loss': 0.5 } });
};
const finish = (status) => process.send({ type: 'result', outcome: { trialId: request.spec.trialId, status, metrics: { 'validation.loss': 0.3 }, intermediate: [], epoch, run: { timing: { train: 5 } } } }, () => process.exit(0));
process.on('message', (m) => {
  if (m.type === 'run') { request = m; console.log('running ' + m.runDirectory + (m.resume ? ' (resume)' : '')); console.error('a warning'); next(); }
  if (m.type === 'verdict') { if (m.prune) finish('pruned'); else next(); }
});
`,
);
const CRASHES = script('crashes', `process.on('message', () => { console.error('Error: out of memory'); console.error('  at step 12'); process.exit(3); });`);
const STOPS = script(
  'stops',
  `process.on('message', (m) => {
  if (m.type === 'abort') process.send({ type: 'result', outcome: { trialId: 'trial-001', status: 'interrupted' } }, () => process.exit(0));
});`,
);
const STUBBORN = script('stubborn', `process.on('message', () => undefined); setInterval(() => undefined, 1000);`);

const spec: TrialSpec = {
  sweepId: 'sweep-a',
  trialId: 'trial-001',
  index: 0,
  configuration: 0,
  values: { lr: 0.1 },
  parameters: { lr: 0.1 },
  seed: 1,
  repeat: 0,
  experiment: {},
};

function channel(decide: (epoch: number, metrics: Record<string, number>) => PruneVerdict, signal = new AbortController().signal, resume = false): TrialChannel & { reports: [number, Record<string, number>][] } {
  const reports: [number, Record<string, number>][] = [];
  return {
    resume,
    signal,
    reports,
    report: (epoch, metrics) => {
      reports.push([epoch, metrics as Record<string, number>]);
      return decide(epoch, metrics as Record<string, number>);
    },
  };
}

const executor = (entry: string, lines: string[] = [], stopTimeoutMs?: number) =>
  createChildProcessExecutor({
    entry,
    context: { file: 'x.yaml' },
    runDirectory: (s) => `/sweep/trials/${s.trialId}`,
    onOutput: (id, line) => lines.push(`${id}: ${line}`),
    ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}),
  });

describe('child-process executor', () => {
  it('runs a trial in a process of its own: epoch reports up (NaN intact), verdicts down, its lines, its result', async () => {
    const lines: string[] = [];
    const trialChannel = channel(() => ({ prune: false, reason: '' }), undefined, true);
    const outcome = await executor(REPORTS_EPOCHS, lines).submit(spec, trialChannel);
    expect(outcome).toMatchObject({ trialId: 'trial-001', status: 'completed', metrics: { 'validation.loss': 0.3 }, epoch: 4 });
    expect(trialChannel.reports.map(([e]) => e)).toEqual([1, 2, 3]);
    expect(trialChannel.reports[1]![1]['validation.loss']).toBeNaN();
    expect(lines).toEqual(['trial-001: running /sweep/trials/trial-001 (resume)', 'trial-001: a warning']);
    // The time from launching the process to its ready message, besides what the trial measured.
    expect(outcome.status !== 'interrupted' && outcome.run?.timing).toEqual({ train: 5, start: expect.any(Number) });
  });

  it('stops a trial when the sweep prunes it', async () => {
    const outcome = await executor(REPORTS_EPOCHS).submit(spec, channel((epoch) => ({ prune: epoch === 2, reason: 'worse' })));
    expect(outcome).toMatchObject({ status: 'pruned', epoch: 2 });
  });

  it('a process that dies without a result fails its trial with the exit code and the end of its stderr', async () => {
    const outcome = await executor(CRASHES).submit(spec, channel(() => ({ prune: false, reason: '' })));
    expect(outcome).toEqual({
      trialId: 'trial-001',
      status: 'failed',
      metrics: {},
      intermediate: [],
      error: 'the trial process exited with code 3 before reporting a result: Error: out of memory\n  at step 12',
      // Lost, not failed by its own account: a queue may try it again.
      lost: true,
    });
  });

  it('waits for verdicts that come later (a coordinator on another machine) before the trial goes on', async () => {
    const asked: number[] = [];
    const later = {
      resume: false,
      signal: new AbortController().signal,
      report: (epoch: number) => {
        asked.push(epoch);
        return new Promise<PruneVerdict>((resolve) => setTimeout(() => resolve({ prune: epoch === 2, reason: 'worse' }), 50));
      },
    };
    const outcome = await executor(REPORTS_EPOCHS).submit(spec, later);
    expect(outcome).toMatchObject({ status: 'pruned', epoch: 2 });
    expect(asked).toEqual([1, 2]);
  });

  it('asks a trial to stop on abort, and kills one that does not stop in time', async () => {
    const polite = new AbortController();
    const pending = executor(STOPS).submit(spec, channel(() => ({ prune: false, reason: '' }), polite.signal));
    setTimeout(() => polite.abort(), 300);
    expect(await pending).toEqual({ trialId: 'trial-001', status: 'interrupted' });

    const stubborn = new AbortController();
    const started = Date.now();
    const killed = executor(STUBBORN, [], 500).submit(spec, channel(() => ({ prune: false, reason: '' }), stubborn.signal));
    setTimeout(() => stubborn.abort(), 300);
    expect(await killed).toEqual({ trialId: 'trial-001', status: 'interrupted' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a missing entry script fails the trial, it does not throw', async () => {
    const outcome = await executor(join(folder, 'missing.mjs')).submit(spec, channel(() => ({ prune: false, reason: '' })));
    expect(outcome).toMatchObject({ status: 'failed', error: expect.stringMatching(/^the trial process exited with code 1 before reporting a result: .*Cannot find module/s) });
  });
});
