import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, RUNNER_BIN, runner, runnerEnvironment, temporaryFolder } from './helpers';
import { mnistSweep } from './fixtures/mnist-sweep';

/*
 * Sweeps end to end through the CLI: every trial a child process of the runner, the sweep's
 * folder, resume after a killed coordinator, Ctrl-C, failures isolated, problems at their lines.
 */

interface TrialEntry {
  id: string;
  index: number;
  configuration: number;
  repeat: number;
  seed: number;
  values: Record<string, unknown>;
  parameters: Record<string, unknown>;
  status: string;
  metrics: Record<string, number | null>;
  intermediate: { epoch: number; value: number | null }[];
  epoch?: number;
  error?: string;
  runDirectory: string;
  expectationsMet?: boolean;
  stopped?: { reason: string; step: number };
  timing?: Record<string, number>;
}

interface SweepSummary {
  name: string;
  status: string;
  sweep: { id: string; method: string; metric: string; goal: string; parallel: number; totalTrials: number };
  trials: TrialEntry[];
  ranking: number[];
  best: { id: string; trialIds: string[]; values: Record<string, unknown>; metric: { mean: number; std: number; count: number } } | null;
  epochs: number;
}

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SweepSummary;

/** What must not depend on interruptions or on which trial finished first. */
const outcome = (summary: SweepSummary) => ({
  trials: summary.trials.map((t) => ({ id: t.id, values: t.values, seed: t.seed, status: t.status, metrics: t.metrics, intermediate: t.intermediate, epoch: t.epoch })),
  ranking: summary.ranking,
  best: summary.best,
});

/** The trial processes a coordinator runs (its children running trial-child.ts). */
function trialProcesses(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('trial-child'))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
  } catch {
    return [];
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Starts a sweep in the background and waits until `ready(summary)` holds (reading its
 * summary.json as it is rewritten), then sends `signal` to the coordinator only. Returns the
 * exit code, the most trial processes seen running at once, and those running at the signal.
 */
async function startAndSignal(args: string[], out: string, ready: (s: SweepSummary) => boolean, signal: NodeJS.Signals): Promise<{ code: number | null; mostAtOnce: number; childPids: number[] }> {
  const child = spawn(RUNNER_BIN, [...args, '--out', out], { cwd: ROOT, stdio: 'ignore', env: runnerEnvironment() });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let mostAtOnce = 0;
  let childPids: number[] = [];
  for (let i = 0; i < 1200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    childPids = trialProcesses(child.pid!);
    mostAtOnce = Math.max(mostAtOnce, childPids.length);
    if (existsSync(join(out, 'summary.json')) && ready(summaryOf(out))) break;
  }
  child.kill(signal);
  return { code: await exited, mostAtOnce, childPids };
}

const running = (s: SweepSummary) => s.trials.filter((t) => t.status === 'running');
const finished = (s: SweepSummary) => s.trials.filter((t) => ['completed', 'pruned', 'failed'].includes(t.status));

describe('grid sweeps', () => {
  it('run one trial per combination, rank on validation and report test, and name the best in <out>/summary.json', async () => {
    const out = join(temporaryFolder('sweep-'), 'sweep');
    const result = await runner(['experiments/mnist-loss-comparison.yaml', '--quick', '--backend', 'cpu', '--out', out]);
    expect(result.status).toBe(0);
    expect(readdirSync(join(out, 'trials')).sort()).toEqual(['trial-001', 'trial-002']);
    const summary = summaryOf(out);
    expect(summary.sweep).toMatchObject({ method: 'grid', metric: 'validation.accuracy', goal: 'maximize', totalTrials: 2 });
    expect(summary.trials.map((t) => t.values['model.loss.type'])).toEqual(['meanSquaredError', 'categoricalCrossentropy']);
    for (const trial of summary.trials) {
      expect(trial.status).toBe('completed');
      const run = JSON.parse(readFileSync(join(out, trial.runDirectory, 'summary.json'), 'utf8')) as { metrics: Record<string, number> };
      expect(run.metrics['validation.accuracy']).toBe(trial.metrics['validation.accuracy']);
      expect(run.metrics['test.accuracy']).toBe(trial.metrics['test.accuracy']);
    }
    const best = [...summary.trials].sort((a, b) => b.metrics['validation.accuracy']! - a.metrics['validation.accuracy']!)[0]!;
    expect(summary.best!.id).toBe(best.id);
    expect(result.stdout).toMatch(new RegExp(`best: ${best.id} \\(categoricalCrossentropy\\): validation\\.accuracy 0\\.\\d+; test\\.accuracy 0\\.\\d+`));
    // The ranked table, the metric at each epoch end, the best configuration as YAML to paste.
    expect(result.stdout).toMatch(/│ 1 +│ trial-002 +│ categoricalCrossentropy │ completed │/);
    expect(result.stdout).toContain('validation.loss / validation.accuracy at each epoch end');
    expect(result.stdout).toMatch(/the best configuration, as an experiment[^\n]*\n\n# yaml-language-server[\s\S]*\n {2}loss: \{type: categoricalCrossentropy\}\n/);
    expect(existsSync(join(out, 'plots', 'final-metrics.svg'))).toBe(true);
    // A trial is a normal run: it can be evaluated (and resumed) on its own.
    const evaluated = await runner(['evaluate', join(out, 'trials', 'trial-001')]);
    expect(evaluated.status).toBe(0);
    expect(evaluated.stdout).toContain('test.accuracy');
  });

  it('validate every trial before running any, each problem where the sweep writes it', async () => {
    const out = join(temporaryFolder('sweep-bad-'), 'sweep');
    const result = await runner(['experiments/mnist-loss-comparison.yaml', '--quick', '--out', out, '--set', 'sweep.parameters[model.loss.type].values=[meanSquaredError, crossEntropy]']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--set:1:\d+: sweep\.parameters\[model\.loss\.type\]\.values\.1: model\.loss\.type: unknown loss 'crossEntropy'/);
    expect((await runner(['validate', 'experiments/mnist-loss-comparison.yaml', '--set', 'sweep.parameters[model.loss.type].values=[meanSquaredError, crossEntropy]'])).status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});

describe('sweep configs', () => {
  it('a bad parameter path is reported at its line and column with "did you mean"; a test metric is warned about', async () => {
    const folder = temporaryFolder('sweep-path-');
    const file = join(folder, 'typo.yaml');
    writeFileSync(
      file,
      `extends: ${join(ROOT, 'experiments', 'linear-regression.yaml')}
sweep:
  method: tpe
  maxTrials: 5
  parameters:
    train.optimiser.learningRate: {min: 0.01, max: 1, scale: log}
    model.layers[logits].units: {values: [8]}
  metric: train.loss
  goal: minimize
`,
    );
    const result = await runner(['validate', 'typo.yaml'], { cwd: folder });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("typo.yaml:6:5: sweep.parameters[train.optimiser.learningRate]: train.optimiser: unknown key 'optimiser'; did you mean 'optimizer'?");
    expect(result.stderr).toContain("typo.yaml:7:5: sweep.parameters[model.layers[logits].units]: model.layers: unknown key 'layers'");
    const run = await runner(['typo.yaml', '--out', 'out'], { cwd: folder });
    expect(run.status).toBe(2);
    expect(existsSync(join(folder, 'out'))).toBe(false);

    writeFileSync(file, readFileSync(file, 'utf8').replace('train.optimiser', 'train.optimizer').replace(/ +model\.layers.*\n/, '').replace('metric: train.loss', 'metric: test.loss'));
    const warned = await runner(['validate', 'typo.yaml'], { cwd: folder });
    expect(warned.status).toBe(0);
    expect(warned.stderr).toMatch(/typo\.yaml:7:11: sweep\.metric: warning: the sweep ranks its trials on the test set \(test\.loss\)/);
    expect(warned.stdout).toContain('typo.yaml: ok (1 warning)');
  });

  it('every experiment validates, the sweeps among them with their trials', async () => {
    const result = await runner(['validate', 'experiments/optimizers.yaml', 'experiments/saddle-point.yaml', 'experiments/mnist-dropout.yaml', 'experiments/mnist-l2.yaml']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('sweep runs', () => {
  it('a diverging trial is recorded as failed with its error, and the sweep goes on', async () => {
    const folder = temporaryFolder('sweep-diverge-');
    writeFileSync(
      join(folder, 'diverge.yaml'),
      `extends: ${join(ROOT, 'experiments', 'linear-regression.yaml')}
sweep:
  parameters:
    train.optimizer.learningRate: {values: [0.2, 50, 0.1]}
  metric: train.loss
  goal: minimize
`,
    );
    const result = await runner(['diverge.yaml', '--out', 'out'], { cwd: folder });
    expect(result.status).toBe(0);
    const summary = summaryOf(join(folder, 'out'));
    expect(summary.trials.map((t) => t.status)).toEqual(['completed', 'failed', 'completed']);
    expect(summary.trials[1]!.error).toMatch(/^the loss became (Infinity|NaN) /);
    expect(summary.best!.values).toEqual({ 'train.optimizer.learningRate': 0.2 });
    expect(result.stdout).toMatch(/trial-002 failed: the loss became/);
  });

  it('parallel 2 runs two trial processes at once; a coordinator killed with SIGKILL is resumed by running it again, to the same end', async () => {
    const file = mnistSweep();
    const whole = join(temporaryFolder('sweep-whole-'), 'sweep');
    expect((await runner([file, '--out', whole])).status).toBe(0);

    const out = join(temporaryFolder('sweep-killed-'), 'sweep');
    // Killed once a trial has finished and another has reported an epoch: some done, some half-way.
    const killed = await startAndSignal([file], out, (s) => finished(s).length >= 1 && running(s).some((t) => t.intermediate.length >= 1), 'SIGKILL');
    expect(killed.code).toBe(null);
    expect(killed.mostAtOnce).toBe(2);
    // Without their coordinator the trial processes save a checkpoint and end.
    for (let i = 0; i < 300 && killed.childPids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(killed.childPids.filter(alive)).toEqual([]);
    const before = summaryOf(out);
    expect(before.status).toBe('running');
    const done = finished(before).map((t) => t.id);

    const resumed = await runner([file, '--out', out]);
    expect(resumed.status).toBe(0);
    // Finished trials are not run again; the others resume from their checkpoints.
    for (const id of done) expect(resumed.stdout).not.toMatch(new RegExp(`${id} (started|resumed)`));
    expect(resumed.stdout).toMatch(/trial-00\d resumed: /);
    const after = summaryOf(out);
    expect(after.status).toBe('completed');
    expect(outcome(after)).toEqual(outcome(summaryOf(whole)));
  });

  it('Ctrl-C stops every trial process cleanly (exit 130), and the next run resumes the sweep', async () => {
    const file = mnistSweep();
    const out = join(temporaryFolder('sweep-ctrl-c-'), 'sweep');
    const stopped = await startAndSignal([file], out, (s) => running(s).some((t) => t.intermediate.length >= 1), 'SIGINT');
    expect(stopped.code).toBe(130);
    expect(stopped.childPids.length).toBeGreaterThan(0);
    expect(stopped.childPids.filter(alive)).toEqual([]);
    const summary = summaryOf(out);
    expect(summary.status).toBe('interrupted');
    const interrupted = summary.trials.filter((t) => t.status === 'pending');
    expect(interrupted.length).toBeGreaterThan(0);
    for (const trial of interrupted) expect(readdirSync(join(out, trial.runDirectory, 'checkpoints')).length).toBeGreaterThan(0);
    const resumed = await runner([file, '--out', out]);
    expect(resumed.status).toBe(0);
    expect(summaryOf(out).trials.every((t) => t.status === 'completed')).toBe(true);
  });

  it('ASHA stops trials at its rungs (pruned, with the epoch reached); another sweep or a foreign folder as --out is refused', async () => {
    const file = mnistSweep(`  earlyTermination: {type: asha, minEpochs: 1, reductionFactor: 2}\n`);
    const folder = temporaryFolder('sweep-asha-');
    const out = join(folder, 'sweep');
    const result = await runner([file, '--out', out, '--set', 'sweep.maxTrials=6']);
    expect(result.status).toBe(0);
    const summary = summaryOf(out);
    const pruned = summary.trials.filter((t) => t.status === 'pruned');
    expect(pruned.length).toBeGreaterThan(0);
    for (const trial of pruned) {
      expect([1, 2]).toContain(trial.epoch);
      expect(trial.intermediate.map((v) => v.epoch)).toEqual(Array.from({ length: trial.epoch! }, (_, i) => i + 1));
      expect(result.stdout).toMatch(new RegExp(`${trial.id} pruned at epoch ${trial.epoch}: `));
    }
    expect(summary.epochs).toBeLessThan(6 * 4);
    expect(result.stdout).toMatch(/epochs trained by all trials together: \d+/);

    // The same folder with another sweep (another seed), or a folder holding something else.
    const other = await runner([file, '--out', out, '--set', 'sweep.maxTrials=6', '--set', 'sweep.seed=4']);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/holds another sweep .*its sweep block differs/);
    writeFileSync(join(folder, 'notes.txt'), 'mine');
    const foreign = await runner([file, '--out', folder]);
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(/the folder is not empty and holds no sweep/);
  });

  it('saddle-point: optimizers on surfaces, the step each left the radius (or never), paths drawn over each surface', async () => {
    const out = join(temporaryFolder('sweep-saddle-'), 'sweep');
    const result = await runner(['experiments/saddle-point.yaml', '--quick', '--out', out, '--set', 'train.steps=150']);
    expect(result.status).toBe(0);
    const summary = summaryOf(out);
    expect(summary.trials.map((t) => (t.values['optimizer'] as { type: string }).type)).toEqual(['sgd', 'momentum', 'nesterov']);
    // Momentum and NAG escape the saddle within 150 steps; plain gradient descent does not.
    expect(summary.trials[0]!.stopped).toBeUndefined();
    expect(summary.trials[1]!.stopped?.reason).toMatch(/left the radius 4/);
    expect(summary.trials[2]!.stopped!.step).toBeLessThan(summary.trials[1]!.stopped!.step);
    expect(result.stdout).toMatch(/│ stopped at step │/);
    expect(result.stdout).toMatch(/│ 3 +│ trial-001 +│ sgd learningRate=0\.01 +│ completed +│.*│ never +│/);
    expect(existsSync(join(out, 'plots', 'trajectories-saddle.svg'))).toBe(true);
  });
});
