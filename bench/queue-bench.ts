/**
 * Distributed sweeps, measured through the CLI on this machine (a Redis on loopback, started and
 * stopped here; coordinator and workers as separate processes, as on many machines):
 *   overhead    what the queue adds per trial: enqueue → a worker starts it (`timing.queued`),
 *               result → the coordinator's table (`timing.delivered`), and the wall time per trial
 *               of a one-at-a-time sweep through the queue against the same sweep run locally
 *   throughput  trials per minute with 1, 2 and 4 worker processes (every trial enqueued at once)
 * Trials are tiny (the linear regression, 5 steps on the cpu backend), so what is measured is the
 * machinery: a trial is mostly its process start. Run (nice it, the machine is shared):
 *   nice npx tsx bench/queue-bench.ts [--trials 12] [--workers 1,2,4] [--out DIR]
 * Results are printed and written to <out>/results.json (default bench/results/queue-<time>/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { startLocalRedis } from '@dlexp/queue';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const RUNNER = join(ROOT, 'apps', 'runner', 'bin', 'runner.js');

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '12' },
    workers: { type: 'string', default: '1,2,4' },
    out: { type: 'string' },
  },
});
const trials = Number(args.trials);
const workerCounts = args.workers.split(',').map(Number);
const out = resolve(args.out ?? join(ROOT, 'bench', 'results', `queue-${new Date().toISOString().replace(/[:.]/g, '-')}`));
mkdirSync(out, { recursive: true });

/** A grid of `trials` learning rates over a 5-step linear regression: each trial a few milliseconds of training. */
function experiment(parallel: number): string {
  const rates = Array.from({ length: trials }, (_, i) => Number((0.05 + i * 0.01).toFixed(2)));
  return `name: queue-bench
seed: 1
backend: cpu
data: {type: synthetic, function: linear, samples: 100, slope: 0.1, intercept: 0.2}
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables: {k: {initializer: {type: zeros}}, b: {initializer: {type: zeros}}}
  nodes:
    prediction: k * x + b
    loss: reduceMean(square(y - prediction))
  loss: loss
  fetch: [k, b]
train:
  optimizer: {type: sgd, learningRate: 0.2}
  steps: 5
  logEvery: 5
tensorboard: false
plots: false
sweep:
  method: grid
  parameters:
    train.optimizer.learningRate: {values: [${rates.join(', ')}]}
  metric: train.loss
  goal: minimize
  parallel: ${parallel}
`;
}

interface TrialEntry {
  id: string;
  status: string;
  timing?: Record<string, number>;
}

/** The runner under `nice`, as every process of this bench. */
function start(argv: string[], output: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return spawn('nice', ['-n', '10', process.execPath, RUNNER, ...argv], { cwd: ROOT, stdio: ['ignore', output, 'inherit'] });
}

async function runSweep(name: string, parallel: number, extra: string[]): Promise<{ wallMs: number; trials: TrialEntry[] }> {
  const file = join(out, `${name}.yaml`);
  writeFileSync(file, experiment(parallel));
  const dir = join(out, name);
  const began = performance.now();
  const child = start([file, '--out', dir, ...extra]);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const wallMs = performance.now() - began;
  if (code !== 0) throw new Error(`${name}: the sweep exited with ${code}`);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { trials: TrialEntry[] };
  if (summary.trials.some((t) => t.status !== 'completed')) throw new Error(`${name}: not every trial completed`);
  console.log(`  ${name}: ${summary.trials.length} trials in ${(wallMs / 1000).toFixed(1)} s (load average ${loadavg()[0]!.toFixed(1)})`);
  return { wallMs, trials: summary.trials };
}

async function startWorkers(url: string, count: number): Promise<ChildProcess[]> {
  const workers = Array.from({ length: count }, () => start(['worker', '--queue', url], 'pipe'));
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          let text = '';
          w.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
            if (text.includes('taking trials')) return;
            text += chunk;
            if (text.includes('taking trials')) resolve();
          });
        }),
    ),
  );
  return workers;
}

async function stopWorkers(workers: ChildProcess[]): Promise<void> {
  await Promise.all(
    workers.map((w) => {
      const exited = new Promise((r) => w.on('exit', r));
      w.kill('SIGTERM');
      return exited;
    }),
  );
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return { median, max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
};
const timingOf = (entries: TrialEntry[], key: string) => entries.map((t) => t.timing?.[key]).filter((v): v is number => typeof v === 'number');

const redis = await startLocalRedis();
const results: Record<string, unknown> = { trials, machine: { load: loadavg()[0] } };
try {
  // --- Overhead: one trial at a time, so a trial waits only for the machinery, not for a free worker.
  console.log('overhead (one trial at a time):');
  const local = await runSweep('local-parallel-1', 1, []);
  const workers = await startWorkers(redis.url, 1);
  const queued = await runSweep('queue-parallel-1', 1, ['--queue', redis.url]);
  await stopWorkers(workers);
  const pickup = stats(timingOf(queued.trials, 'queued'));
  const delivery = stats(timingOf(queued.trials, 'delivered'));
  const overhead = {
    localMsPerTrial: local.wallMs / trials,
    queueMsPerTrial: queued.wallMs / trials,
    enqueueToStartMs: pickup,
    resultToTableMs: delivery,
    processStartMs: { local: stats(timingOf(local.trials, 'start')), queue: stats(timingOf(queued.trials, 'start')) },
  };
  results['overhead'] = overhead;

  // --- Throughput: every trial enqueued at once (parallel = trials), 1, 2 and 4 worker processes.
  console.log('throughput (every trial enqueued at once):');
  const throughput: { workers: number; wallMs: number; trialsPerMinute: number; queuedMedianMs: number }[] = [];
  for (const count of workerCounts) {
    const pool = await startWorkers(redis.url, count);
    const run = await runSweep(`queue-${count}-workers`, trials, ['--queue', redis.url]);
    await stopWorkers(pool);
    throughput.push({ workers: count, wallMs: run.wallMs, trialsPerMinute: (trials / run.wallMs) * 60_000, queuedMedianMs: stats(timingOf(run.trials, 'queued')).median });
  }
  results['throughput'] = throughput;

  const table = new Table({ head: ['', 'value'] });
  table.push(
    ['local sweep, parallel 1: ms per trial', overhead.localMsPerTrial.toFixed(0)],
    ['queue sweep, 1 worker, parallel 1: ms per trial', overhead.queueMsPerTrial.toFixed(0)],
    ['enqueue → worker starts it (median / max ms)', `${pickup.median.toFixed(0)} / ${pickup.max.toFixed(0)}`],
    ['result → coordinator table (median / max ms)', `${delivery.median.toFixed(0)} / ${delivery.max.toFixed(0)}`],
    ['trial process start, local / queue (median ms)', `${overhead.processStartMs.local.median.toFixed(0)} / ${overhead.processStartMs.queue.median.toFixed(0)}`],
  );
  console.log(table.toString());
  const scaling = new Table({ head: ['workers', 'wall (s)', 'trials / min', 'median wait in queue (ms)'] });
  for (const row of throughput) scaling.push([row.workers, (row.wallMs / 1000).toFixed(1), row.trialsPerMinute.toFixed(1), row.queuedMedianMs.toFixed(0)]);
  console.log(scaling.toString());
} finally {
  await redis.stop();
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${join(out, 'results.json')}`);
}
