import { describe, expect, it } from 'vitest';
import { createTrialProcess, type TrialProcessMessage, type TrialRequest } from './trial-process';
import type { TrialSpec } from './trials';

const spec: TrialSpec = {
  sweepId: 'sweep-a',
  trialId: 'trial-001',
  index: 0,
  configuration: 0,
  values: { lr: 0.1 },
  parameters: { 'train.optimizer.learningRate': 0.1 },
  seed: 1,
  repeat: 0,
  experiment: {},
};
const request: TrialRequest = { type: 'run', spec, runDirectory: '/runs/t1', resume: false, context: { file: 'x.yaml' } };

describe('the trial side of the protocol', () => {
  it('says ready, runs the request once, and waits for the verdict of each epoch it reports', async () => {
    const sent: TrialProcessMessage[] = [];
    const verdicts: boolean[] = [];
    const trial = createTrialProcess(
      (m) => sent.push(m),
      async (hooks) => {
        expect(hooks.request.context).toEqual({ file: 'x.yaml' });
        hooks.log('training');
        for (let epoch = 1; epoch <= 3; epoch++) {
          const verdict = await hooks.report(epoch, { 'validation.loss': 1 / epoch });
          verdicts.push(verdict.prune);
          if (verdict.prune) return { trialId: hooks.request.spec.trialId, status: 'pruned', metrics: {}, intermediate: [], epoch };
        }
        return { trialId: hooks.request.spec.trialId, status: 'completed', metrics: {}, intermediate: [] };
      },
    );
    expect(sent).toEqual([{ type: 'ready' }]);
    trial.receive(request);
    trial.receive(request); // a second request is ignored
    await Promise.resolve();
    expect(sent.slice(1)).toEqual([
      { type: 'log', line: 'training' },
      { type: 'epoch', epoch: 1, metrics: { 'validation.loss': 1 } },
    ]);
    trial.receive({ type: 'verdict', epoch: 1, prune: false, reason: '' });
    await new Promise((r) => setImmediate(r));
    trial.receive({ type: 'verdict', epoch: 2, prune: true, reason: 'worse than the median' });
    const outcome = await trial.finished;
    expect(verdicts).toEqual([false, true]);
    expect(outcome).toMatchObject({ status: 'pruned', epoch: 2 });
    expect(sent[sent.length - 1]).toEqual({ type: 'result', outcome });
  });

  it('an abort before the request ends the trial as interrupted without running it', async () => {
    const sent: TrialProcessMessage[] = [];
    let ran = false;
    const trial = createTrialProcess(
      (m) => sent.push(m),
      async () => {
        ran = true;
        return { trialId: 't', status: 'completed', metrics: {}, intermediate: [] };
      },
    );
    trial.receive({ type: 'abort' });
    trial.receive(request);
    expect(await trial.finished).toEqual({ trialId: '', status: 'interrupted' });
    expect(ran).toBe(false);
  });

  it('an abort while waiting for a verdict lets the trial go on to its stop; a thrown error fails it', async () => {
    const trial = createTrialProcess(
      () => undefined,
      async (hooks) => {
        const verdict = await hooks.report(1, { 'validation.loss': 1 });
        expect(verdict.prune).toBe(false);
        expect(hooks.signal.aborted).toBe(true);
        throw new Error('stopped while loading the data');
      },
    );
    trial.receive(request);
    trial.receive({ type: 'abort' });
    expect(await trial.finished).toEqual({ trialId: 'trial-001', status: 'failed', metrics: {}, intermediate: [], error: 'stopped while loading the data' });
  });

  it('ignores messages that are not the protocol’s', async () => {
    const trial = createTrialProcess(
      () => undefined,
      async (hooks) => ({ trialId: hooks.request.spec.trialId, status: 'completed', metrics: { a: 1 }, intermediate: [] }),
    );
    trial.receive('hello');
    trial.receive(null);
    trial.receive({ type: 'verdict', epoch: 9, prune: true, reason: '' });
    trial.receive(request);
    expect((await trial.finished).status).toBe('completed');
  });
});
