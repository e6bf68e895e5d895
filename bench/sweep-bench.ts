/**
 * Sweeps, measured through the CLI as a user runs them (every trial a child process):
 *   overhead  per-trial cost besides training: process start, backend and data, the end of the run
 *   parallel  throughput of the same trials with parallel 1 and 2
 *   tpe       TPE against random search, same budget, 3 sweep seeds (all six best values)
 *   asha      the same random trials with and without ASHA: best value and epochs spent
 * Run (long: nice it, the machine is shared):
 *   nice npx tsx bench/sweep-bench.ts [--parts overhead,parallel,tpe,asha] [--trials 20] [--startup 10] [--out DIR]
 * Results are printed and written to <out>/results.json (default bench/results/sweep-<time>/).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const RUNNER = join(ROOT, 'apps', 'runner', 'bin', 'runner.js');

const { values: args } = parseArgs({
  options: {
    parts: { type: 'string', default: 'overhead,parallel,tpe,asha' },
    trials: { type: 'string', default: '20' },
    seeds: { type: 'string', default: '1,2,3' },
    startup: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const parts = new Set(args.parts.split(','));
const budget = Number(args.trials);
const seeds = args.seeds.split(',').map(Number);
/** TPE's random startup trials (Optuna's default is 10; with 20 trials that leaves it 10 guided ones). */
const startup = Number(args.startup);
const out = resolve(args.out ?? join(ROOT, 'bench', 'results', `sweep-${new Date().toISOString().replace(/[:.]/g, '-')}`));
mkdirSync(out, { recursive: true });

/**
 * The tuning problem: a one-hidden-layer MLP on 2 000 MNIST images, ranked on 2 000 held-out ones.
 * The learning rate spans six decades, so where it lands decides most of the result.
 */
const EXPERIMENT = `name: sweep-bench
seed: 1
backend: wasm
data: {type: mnist, flatten: true, validationSplit: 2000, limit: {train: 2000, test: 1000}}
model:
  type: sequential
  input: {shape: [784]}
  layers:
    - {type: dense, units: 64, activation: relu, name: hidden}
    - {type: dropout, rate: 0.2, name: drop}
    - {type: dense, units: 10}
  loss: {type: softmaxCrossEntropy}
  metrics: [{type: accuracy}]
train:
  optimizer: {type: adam, learningRate: 0.001}
  batchSize: 50
  epochs: 3
tensorboard: false
plots: false
sweep:
  method: random
  parameters:
    train.optimizer.learningRate: {min: 0.00001, max: 1, scale: log}
    model.layers[hidden].units: {min: 4, max: 256, integer: true, scale: log}
    model.layers[drop].rate: {min: 0, max: 0.8}
  metric: validation.accuracy
  maxTrials: 20
  parallel: 2
`;
const experimentFile = join(out, 'sweep-bench.yaml');
writeFileSync(experimentFile, EXPERIMENT);

interface Trial {
  id: string;
  status: string;
  metrics: Record<string, number | null>;
  epoch?: number;
  epochs?: number;
  timing?: Record<string, number>;
}
interface Summary {
  trials: Trial[];
  best: { id: string; metric: { mean: number } } | null;
  epochs: number;
  timing: { elapsedMs: number };
}

/** Runs one sweep through the CLI into `<out>/<name>` and returns its summary and wall time. */
async function sweep(name: string, sets: string[]): Promise<{ summary: Summary; wallMs: number }> {
  const dir = join(out, name);
  const started = performance.now();
  const code = await new Promise<number | null>((done) => {
    const child = spawn(process.execPath, [RUNNER, experimentFile, '--out', dir, ...sets.flatMap((s) => ['--set', s])], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', done);
  });
  const wallMs = performance.now() - started;
  if (code !== 0 && code !== 1) throw new Error(`sweep ${name} exited with ${code}`);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
  // The machine may be shared: its load says how far the times can be trusted.
  console.log(`  ${name}: ${summary.trials.length} trials in ${(wallMs / 1000).toFixed(1)} s (load average ${loadavg()[0]!.toFixed(1)})`);
  return { summary, wallMs };
}

const plain = { head: [], border: [] };
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const results: Record<string, unknown> = { machine: { node: process.version }, experiment: EXPERIMENT };

if (parts.has('overhead')) {
  console.log('overhead: 4 trials of 1 epoch on 500 images, one at a time');
  const { summary, wallMs } = await sweep('overhead', ['sweep.maxTrials=4', 'sweep.parallel=1', 'train.epochs=1', 'data.limit={train: 500, test: 200}']);
  const part = (key: string) => mean(summary.trials.map((t) => t.timing?.[key] ?? NaN).filter(Number.isFinite));
  const row = { start: part('start'), setup: part('setup'), train: part('train'), total: part('total'), wallPerTrial: wallMs / summary.trials.length };
  results['overhead'] = row;
  const table = new Table({ head: ['per trial (mean of 4)', 'seconds'], style: plain });
  table.push(
    ['process start to ready (node, tsx, TF.js and the libraries)', seconds(row.start)],
    ['setup: experiment, backend, data, model (to the first step)', seconds(row.setup)],
    ['training (1 epoch, 10 steps)', seconds(row.train)],
    ['after training: final metrics on every split, model and summary', seconds(row.total - row.setup - row.train)],
    ['wall time per trial as the coordinator sees it', seconds(row.wallPerTrial)],
  );
  console.log(table.toString());
}

if (parts.has('parallel')) {
  console.log('parallel: the same 8 random trials (3 epochs on 2 000 images) with parallel 1 and 2, twice each');
  const rows: Record<string, number>[] = [];
  // Alternated (1, 2, 2, 1), so a change in the machine's load weighs on both alike.
  for (const [run, parallel] of [1, 2, 2, 1].entries()) {
    const { summary, wallMs } = await sweep(`parallel-${parallel}-run-${run + 1}`, ['sweep.maxTrials=8', `sweep.parallel=${parallel}`]);
    rows.push({ parallel, trials: summary.trials.length, wallMs, perMinute: (summary.trials.length / wallMs) * 60_000, trainMs: mean(summary.trials.map((t) => t.timing?.['train'] ?? NaN)) });
  }
  results['parallel'] = rows;
  const table = new Table({ head: ['parallel', 'trials', 'wall (s): mean (runs)', 'trials / minute', 'mean training per trial (s)'], style: plain });
  for (const parallel of [1, 2]) {
    const runs = rows.filter((r) => r['parallel'] === parallel);
    const wall = mean(runs.map((r) => r['wallMs']!));
    table.push([parallel, runs[0]!['trials']!, `${seconds(wall)} (${runs.map((r) => seconds(r['wallMs']!)).join(', ')})`, ((runs[0]!['trials']! / wall) * 60_000).toFixed(2), seconds(mean(runs.map((r) => r['trainMs']!)))]);
  }
  console.log(table.toString());
}

if (parts.has('tpe')) {
  console.log(`tpe: TPE (${startup} random startup trials) against random search, ${budget} trials each, sweep seeds ${seeds.join(', ')}`);
  const rows: { seed: number; random: number; tpe: number }[] = [];
  for (const seed of seeds) {
    const best: Record<string, number> = {};
    for (const [method, written] of [
      ['random', 'random'],
      ['tpe', `{type: tpe, startupTrials: ${startup}}`],
    ]) {
      const { summary } = await sweep(`${method}-seed-${seed}`, [`sweep.method=${written}`, `sweep.seed=${seed}`, `sweep.maxTrials=${budget}`]);
      best[method!] = summary.best?.metric.mean ?? NaN;
    }
    rows.push({ seed, random: best['random']!, tpe: best['tpe']! });
  }
  results['tpe'] = rows;
  const table = new Table({ head: ['sweep seed', 'random: best validation.accuracy', 'tpe: best validation.accuracy', 'tpe − random'], style: plain });
  for (const r of rows) table.push([r.seed, r.random.toFixed(4), r.tpe.toFixed(4), (r.tpe - r.random).toFixed(4)]);
  table.push(['mean', mean(rows.map((r) => r.random)).toFixed(4), mean(rows.map((r) => r.tpe)).toFixed(4), mean(rows.map((r) => r.tpe - r.random)).toFixed(4)]);
  console.log(table.toString());
}

if (parts.has('asha')) {
  console.log(`asha: the same ${budget} random trials of 9 epochs, without and with ASHA (minEpochs 1, reductionFactor 3)`);
  const rows: { name: string; best: number; epochs: number; pruned: number; wallMs: number }[] = [];
  for (const [name, extra] of [
    ['unpruned', []],
    ['asha', ['sweep.earlyTermination={type: asha, minEpochs: 1, reductionFactor: 3}']],
  ] as const) {
    const { summary, wallMs } = await sweep(`asha-${name}`, ['sweep.seed=1', `sweep.maxTrials=${budget}`, 'train.epochs=9', ...extra]);
    rows.push({ name, best: summary.best?.metric.mean ?? NaN, epochs: summary.epochs, pruned: summary.trials.filter((t) => t.status === 'pruned').length, wallMs });
  }
  results['asha'] = rows;
  const [unpruned, asha] = rows as [(typeof rows)[0], (typeof rows)[0]];
  const table = new Table({ head: ['', 'best validation.accuracy', 'epochs trained', 'trials pruned', 'wall (s)'], style: plain });
  for (const r of rows) table.push([r.name, r.best.toFixed(4), r.epochs, r.pruned, seconds(r.wallMs)]);
  console.log(table.toString());
  console.log(`ASHA: best within ${(((unpruned.best - asha.best) / unpruned.best) * 100).toFixed(1)} % of the unpruned sweep's, with ${((asha.epochs / unpruned.epochs) * 100).toFixed(0)} % of its epochs`);
}

writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`results: ${join(out, 'results.json')}`);
