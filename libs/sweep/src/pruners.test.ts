import { describe, expect, it } from 'vitest';
import { ashaRungs, createAshaPruner, createMedianPruner, createSweepState, parseSweepConfig, type EpochValue, type ReferenceTrial, type SweepConfig } from './index';

const curve = (...values: number[]): EpochValue[] => values.map((value, i) => ({ epoch: i + 1, value }));
const reference = (...curves: EpochValue[][]): ReferenceTrial[] => curves.map((intermediate, index) => ({ index, intermediate }));

describe('median pruner', () => {
  // Validation loss (minimize) of three earlier trials.
  const earlier = reference(curve(1.0, 0.8, 0.6, 0.5), curve(1.2, 0.9, 0.7, 0.65), curve(0.9, 0.7, 0.55, 0.4));
  const pruner = createMedianPruner({ goal: 'minimize', minEpochs: 2, minTrials: 2 });
  const decide = (own: EpochValue[]) => pruner.decide({ epoch: own[own.length - 1]!.epoch, own, reference: earlier });

  it('never stops before minEpochs', () => {
    expect(decide(curve(5)).prune).toBe(false);
  });

  it('stops when the best value so far is worse than the median of the others at that epoch', () => {
    // Epoch 2: others 0.8, 0.9, 0.7 → median 0.8; best so far min(1.1, 0.95) = 0.95 > 0.8.
    const verdict = decide(curve(1.1, 0.95));
    expect(verdict).toEqual({ prune: true, reason: 'best so far 0.95 is worse than the median 0.8 of 3 earlier trials at epoch 2' });
    // Best so far 0.75 < 0.8 goes on; at epoch 3 the others give 0.6, 0.7, 0.55 → median 0.6; 0.72 > 0.6 stops.
    expect(decide(curve(1.1, 0.75)).prune).toBe(false);
    expect(decide(curve(1.1, 0.75, 0.72)).prune).toBe(true);
    // Its best so far counts, not its latest value: 0.58 at epoch 2 is better than the epoch-3 median 0.6.
    expect(decide(curve(1.1, 0.58, 0.9)).prune).toBe(false);
    // Equal to the median is not worse.
    expect(decide(curve(1.1, 0.8)).prune).toBe(false);
  });

  it('takes the mean of the middle two of an even count, and maximizes too', () => {
    const accuracy = reference(curve(0.5, 0.6), curve(0.5, 0.7), curve(0.5, 0.8), curve(0.5, 0.9));
    const maximize = createMedianPruner({ goal: 'maximize', minEpochs: 1, minTrials: 1 });
    // Median of 0.6, 0.7, 0.8, 0.9 is 0.75.
    expect(maximize.decide({ epoch: 2, own: curve(0.4, 0.74), reference: accuracy }).prune).toBe(true);
    expect(maximize.decide({ epoch: 2, own: curve(0.4, 0.76), reference: accuracy }).prune).toBe(false);
  });

  it('waits for minTrials values at the epoch; a trial stopped earlier gives values only up to its stop', () => {
    const strict = createMedianPruner({ goal: 'minimize', minEpochs: 1, minTrials: 4 });
    expect(strict.decide({ epoch: 2, own: curve(9, 9), reference: earlier }).prune).toBe(false);
    const withShort = reference(...earlier.map((t) => [...t.intermediate]), curve(2.0, 1.9));
    expect(strict.decide({ epoch: 2, own: curve(9, 9), reference: withShort }).prune).toBe(true);
    expect(strict.decide({ epoch: 3, own: curve(9, 9, 9), reference: withShort }).prune).toBe(false);
  });

  it('stops a trial whose metric is not finite', () => {
    expect(decide(curve(1, NaN))).toEqual({ prune: true, reason: 'the metric is NaN at epoch 2' });
  });
});

describe('ASHA pruner', () => {
  it('puts rungs at minEpochs·η^k', () => {
    expect(ashaRungs(1, 3, 30)).toEqual([1, 3, 9, 27]);
    expect(ashaRungs(2, 2, 20)).toEqual([2, 4, 8, 16]);
    expect(ashaRungs(1, 1.5, 6)).toEqual([1, 2, 3, 5]);
  });

  it('keeps the best ⌊n/η⌋ (at least one) at a rung and decides nothing between rungs', () => {
    const pruner = createAshaPruner({ goal: 'maximize', minEpochs: 1, reductionFactor: 3, minTrials: 1 });
    const earlier = reference(curve(0.5, 0.6, 0.7), curve(0.4), curve(0.55, 0.6, 0.72), curve(0.45), curve(0.52));
    // Rung 1: six values 0.55, 0.53, 0.52, 0.5, 0.45, 0.4 → keep 2, threshold 0.53.
    expect(pruner.decide({ epoch: 1, own: curve(0.53), reference: earlier }).prune).toBe(false);
    // With 0.51 instead: 0.55, 0.52, 0.51, ... → threshold 0.52.
    expect(pruner.decide({ epoch: 1, own: curve(0.51), reference: earlier })).toEqual({
      prune: true,
      reason: '0.51 is not among the best 2 of 6 trials at rung 1 (threshold 0.52)',
    });
    // Epoch 2 is no rung.
    expect(pruner.decide({ epoch: 2, own: curve(0.53, 0.01), reference: earlier }).prune).toBe(false);
    // Rung 3: 0.7 and 0.72 reached it → three values, keep 1.
    expect(pruner.decide({ epoch: 3, own: curve(0.53, 0.6, 0.69), reference: earlier }).prune).toBe(true);
    expect(pruner.decide({ epoch: 3, own: curve(0.53, 0.6, 0.73), reference: earlier }).prune).toBe(false);
  });

  it('lets every trial on until minTrials others reached the rung', () => {
    const pruner = createAshaPruner({ goal: 'minimize', minEpochs: 2, reductionFactor: 2, minTrials: 3 });
    const two = reference(curve(1, 0.1), curve(1, 0.2));
    expect(pruner.decide({ epoch: 2, own: curve(1, 5), reference: two }).prune).toBe(false);
    expect(pruner.decide({ epoch: 2, own: curve(1, 5), reference: [...two, ...reference(curve(1, 0.3))] }).prune).toBe(true);
  });
});

/** Scripted validation-accuracy curves, one per grid configuration, run in order (parallel 1). */
function runScripted(curves: number[][], earlyTermination: SweepConfig['earlyTermination'], goal: 'minimize' | 'maximize' = 'maximize') {
  const { config } = parseSweepConfig({ method: 'grid', metric: 'validation.accuracy', goal, parameters: { k: { values: curves.map((_, i) => i) } }, earlyTermination });
  const state = createSweepState(config!);
  for (let step = state.ask(); step.type === 'trial'; step = state.ask()) {
    const values = curves[step.spec.values['k'] as number]!;
    let epoch = 0;
    for (const value of values) {
      epoch++;
      if (state.report(step.spec.trialId, epoch, { 'validation.accuracy': value, 'train.loss': 1 - value }).prune) break;
    }
    state.tell({ trialId: step.spec.trialId, status: 'completed', metrics: { 'validation.accuracy': values[values.length - 1]! }, intermediate: [], epoch });
  }
  return state.records().map((r) => (r.status === 'pruned' ? `pruned@${r.result!.epoch}` : r.status));
}

describe('early termination in a sweep, on a recorded sequence', () => {
  // Nine epochs each; the values at epochs 1 and 3 decide (ASHA rungs 1, 3, 9 with η = 3).
  const nine = (e1: number, e3: number) => [e1, (e1 + e3) / 2, e3, e3, e3, e3, e3, e3, e3 + 0.01];
  const curves = [nine(0.5, 0.7), nine(0.4, 0.8), nine(0.55, 0.72), nine(0.45, 0.9), nine(0.52, 0.9), nine(0.53, 0.69)];

  it('ASHA: hand-computed decisions', () => {
    // T0 alone at rung 1 → on. T1: {0.5, 0.4} keep 1 → stop at 1. T2: 0.55 is the best of 3 → on;
    // rung 3: {0.70, 0.72} keep 1 → on. T3: best 1 of 4 is 0.55 → stop. T4: 1 of 5 → stop.
    // T5: 2 of 6 → 0.53 on; rung 3: {0.70, 0.72, 0.69} keep 1 → stop at 3.
    expect(runScripted(curves, { type: 'asha', minEpochs: 1, reductionFactor: 3 })).toEqual(['completed', 'pruned@1', 'completed', 'pruned@1', 'pruned@1', 'pruned@3']);
  });

  it('median: hand-computed decisions', () => {
    // minTrials 2, from epoch 1; each trial against the earlier ones' values at the same epoch.
    // T0, T1: fewer than 2 earlier values → on.
    // T2: e1 {0.5, 0.4} median 0.45 < 0.55 on; e2 {0.6, 0.6} 0.6 < 0.635 on; e3 {0.7, 0.8} median 0.75 > 0.72 → stop at 3.
    // T3: e1 {0.5, 0.4, 0.55} median 0.5 > 0.45 → stop at 1.
    // T4: e1 {0.4, 0.45, 0.5, 0.55} median 0.475 < 0.52; e2 {0.6, 0.6, 0.635} 0.6 < 0.71; e3 {0.7, 0.8, 0.72} 0.72 < 0.9;
    //     e4–e9 {T0, T1} median 0.75 < 0.9 → completes.
    // T5: e1 {0.4, 0.45, 0.5, 0.52, 0.55} median 0.5 < 0.53; e2 {0.6, 0.6, 0.635, 0.71} median 0.6175 > 0.61 → stop at 2.
    expect(runScripted(curves, { type: 'median', minEpochs: 1, minTrials: 2 })).toEqual(['completed', 'completed', 'pruned@3', 'pruned@1', 'completed', 'pruned@2']);
  });
});
