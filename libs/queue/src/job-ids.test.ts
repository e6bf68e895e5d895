import { describe, expect, it } from 'vitest';
import { parseTrialJobId, runStamp, trialJobId } from './job-ids';

const run = { sweepId: 'sweep-0123456789abcdef', startedAt: '2026-11-27T12:00:00.123Z' };
const spec = { trialId: 'trial-003', configHash: 'a'.repeat(64), experiment: { seed: 4 }, parameters: { lr: 0.1 }, seed: 4 };

describe('trial job ids', () => {
  it('are the sweep, its run, the trial and its config hash: the same trial gives the same id', () => {
    const id = trialJobId(run, spec);
    expect(id).toBe('sweep-0123456789abcdef.20261127T120000123Z.trial-003.aaaaaaaaaaaaaaaa');
    expect(trialJobId({ ...run }, { ...spec })).toBe(id);
    expect(parseTrialJobId(id)).toEqual({ sweepId: run.sweepId, runStamp: '20261127T120000123Z', trialId: 'trial-003', hash: 'aaaaaaaaaaaaaaaa' });
  });

  it('differ with the trial, the config, and the run of the sweep (another folder)', () => {
    const id = trialJobId(run, spec);
    expect(trialJobId(run, { ...spec, trialId: 'trial-004' })).not.toBe(id);
    expect(trialJobId(run, { ...spec, configHash: 'b'.repeat(64) })).not.toBe(id);
    expect(trialJobId({ ...run, startedAt: '2026-11-27T12:00:01.000Z' }, spec)).not.toBe(id);
    expect(trialJobId({ ...run, sweepId: 'sweep-ffff' }, spec)).not.toBe(id);
  });

  it('a trial whose experiment could not be resolved (no config hash) is named by its values and seed', () => {
    const { configHash: _hash, ...unresolved } = spec;
    const id = trialJobId(run, unresolved);
    expect(parseTrialJobId(id)?.hash).toMatch(/^x[0-9a-f]{16}$/);
    expect(trialJobId(run, { ...unresolved, seed: 5, experiment: { seed: 5 } })).not.toBe(id);
  });

  it('are ids BullMQ accepts: no colon, never an integer', () => {
    const id = trialJobId({ sweepId: 'a:b', startedAt: '' }, { ...spec, trialId: '12' });
    expect(id).not.toContain(':');
    expect(String(Number.parseInt(id, 10))).not.toBe(id);
    expect(runStamp('')).toBe('unstarted');
    expect(parseTrialJobId('not-a-trial')).toBeUndefined();
  });
});
