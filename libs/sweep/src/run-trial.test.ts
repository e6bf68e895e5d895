import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRegistries } from '@dlexp/train';
import { runTrial, type TrialHostContext } from './run-trial';
import type { TrialHooks } from './trial-process';
import type { TrialSpec } from './trials';

const folder = mkdtempSync(join(tmpdir(), 'dlexp-run-trial-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** y = 0.1·x + 0.2 fitted in 3 epochs of 5 batches: small enough to run in-process. */
const file = join(folder, 'fit.yaml');
writeFileSync(
  file,
  `name: fit
seed: 1
backend: cpu
tensorboard: false
plots: false
data: {type: synthetic, function: linear, samples: 100, xMin: 0, xMax: 1, slope: 0.1, intercept: 0.2}
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables: {k: {initializer: {type: zeros}}, b: {initializer: {type: zeros}}}
  nodes:
    prediction: k * x + b
    loss: reduceMean(square(y - prediction))
  loss: loss
  fetch: [k, b]
train: {optimizer: {type: sgd, learningRate: 0.2}, epochs: 3, batchSize: 20}
`,
);

const context: TrialHostContext = { file, open: {}, invocation: { file, quick: false, set: [] }, root: folder, argv: [] };
const spec = { sweepId: 's', trialId: 'trial-001', parameters: {}, values: {}, seed: 1 } as unknown as TrialSpec;

function hooks(resume: boolean, onReport: (epoch: number) => void, signal: AbortSignal): TrialHooks & { epochs: number[] } {
  const epochs: number[] = [];
  return {
    request: { type: 'run', spec, runDirectory: join(folder, 'trial-001'), resume, context: {} },
    report: async (epoch) => {
      epochs.push(epoch);
      onReport(epoch);
      return { prune: false, reason: '' };
    },
    log: () => undefined,
    signal,
    epochs,
  };
}

describe('a trial run in its folder', () => {
  it('reports again, when resumed, the epoch ends it logged before its checkpoint (a coordinator killed meanwhile missed them)', async () => {
    const registries = createRegistries();
    const stop = new AbortController();
    const first = hooks(false, (epoch) => epoch === 1 && stop.abort(), stop.signal);
    expect(await runTrial(first, { registries, context })).toMatchObject({ status: 'interrupted' });
    expect(first.epochs).toEqual([1]);

    const resumed = hooks(true, () => undefined, new AbortController().signal);
    const outcome = await runTrial(resumed, { registries, context });
    expect(outcome).toMatchObject({ status: 'completed' });
    expect(resumed.epochs).toEqual([1, 2, 3]);
  });
});
