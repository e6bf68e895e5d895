import { describe, expect, it } from 'vitest';
import { classifyFailure } from './retry';

describe('retry classification', () => {
  it.each([
    ['the trial process was killed by SIGKILL before reporting a result', true, 'transient'],
    ['the trial process exited with code 134 before reporting a result: FATAL ERROR: Reached heap limit', true, 'transient'],
    ['FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory', false, 'transient'],
    ['RangeError: Array buffer allocation failed', false, 'transient'],
    ['spawn ENOMEM', false, 'transient'],
    ['the CUDA backend ran out of memory (OOM) at step 12', false, 'transient'],
    ["mlp.yaml:12:5: model.layers.1.units: must be >= 1", false, 'deterministic'],
    ['the loss became NaN at step 31 (learning rate 50)', false, 'deterministic'],
    ['dataset csv: data/prices.csv is not on this worker (looked for /srv/x/data/prices.csv)', false, 'deterministic'],
    ['the zoom level is wrong', false, 'deterministic'],
  ] as const)('%s → %s', (error, lost, kind) => {
    expect(classifyFailure({ error, ...(lost ? { lost } : {}) })).toBe(kind);
  });
});
