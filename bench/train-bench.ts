/**
 * Training throughput of the course models on each backend.
 *
 *   npx tsx bench/train-bench.ts [--backends wasm-stock,wasm,wasm-mt,webgpu,cpu] [--models cnn,mlp]
 *                                [--steps N] [--warmup N] [--batch N] [--driver direct,runner]
 *                                [--profile] [--out DIR] [--include-slow]
 *
 * Backends are registry names, plus two wasm variants: `wasm-stock`, wasm with only the kernel it
 * lacks for training added (Conv2DBackpropFilter) and its stock naive matmul/backprop-input
 * kernels, to show in one run what the XNNPACK routes bring; and `wasm-mt`, the multi-threaded
 * build with one thread per core. Each backend runs in its own child process (the wasm build is
 * fixed per process, and no backend's memory or warm-up affects another's). A backend that
 * cannot load here is reported in the table, not fatal.
 * Random data (seeded), batch 100, Adam 1e-3, softmax cross-entropy; each step ends by reading
 * the loss back, so asynchronous backends (webgpu) are timed to completion.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import Table from 'cli-table3';
import { MODELS, RUNNER_MODELS, type BenchModel } from './train-models';
import { activateBackend, registerWasmTrainingKernels, type ActiveBackend } from '@dlexp/backends';
import { normalize } from '@dlexp/config';
import { createColumn, inMemorySplit, splitFeatures } from '@dlexp/data';
import { buildOptimizer, catalogOf, combineSinks, createRegistries, trainModel } from '@dlexp/train';

interface Options {
  backends: string[];
  models: string[];
  steps: number;
  warmup: number;
  batch: number;
  /** Step drivers measured side by side, interleaved in rounds so machine noise hits each alike. */
  drivers: string[];
  profile: boolean;
  out?: string;
  includeSlow: boolean;
  /** Set in a child process: the one backend it measures. */
  child?: string;
}

export interface Cell {
  backend: string;
  model: string;
  driver?: string;
  /** ms/step relative to the first driver's, in percent (the runner's overhead). */
  overheadPercent?: number;
  msPerStep?: number;
  samplesPerSecond?: number;
  steps: number;
  note: string;
  topKernels?: string;
}

// ---------------------------------------------------------------------------------------------
// Step drivers: how training steps are run. `direct` is a hand-written Adam loop; `runner` is the
// engine's own train loop (trainModel) over the model built from the same YAML config through
// the registries, fed by the data pipeline. Their ratio is the runner's overhead.

export interface StepDriver {
  description: string;
  /** Builds what training needs on the active backend; `run(n)` takes n steps and returns the last loss. */
  prepare(model: BenchModel, batch: number): { run: (steps: number) => Promise<number>; dispose: () => void };
}

/** Four batches of seeded random examples (inputs and class ids), shared by both drivers. */
function benchData(model: BenchModel, batch: number): { x: Float32Array; y: Int32Array; examples: number; perExample: number } {
  const examples = batch * 4;
  const perExample = model.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.tidy(() => tf.randomNormal([examples * perExample], 0, 1, 'float32', 1).dataSync() as Float32Array);
  const y = Int32Array.from({ length: examples }, (_, i) => (i * 7) % 10);
  return { x, y, examples, perExample };
}

const directDriver: StepDriver = {
  description: 'hand-written loop: batch tensors sliced from arrays, optimizer.minimize over a tf.layers model, loss read back each step',
  prepare(model, batch) {
    const net = model.build();
    const optimizer = tf.train.adam(1e-3);
    const data = benchData(model, batch);
    // One-hot labels made once, as a hand-written loop would.
    const labels = new Float32Array(data.examples * 10);
    data.y.forEach((label, i) => (labels[i * 10 + label] = 1));
    let next = 0;
    const step = async () => {
      const start = (next++ % 4) * batch;
      const x = tf.tensor(data.x.subarray(start * data.perExample, (start + batch) * data.perExample), [batch, ...model.inputShape]);
      const y = tf.tensor2d(labels.subarray(start * 10, (start + batch) * 10), [batch, 10]);
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, net.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        true,
      )!;
      const value = (await loss.data())[0]!;
      tf.dispose([loss, x, y]);
      return value;
    };
    return {
      run: async (steps) => {
        let last = NaN;
        for (let i = 0; i < steps; i++) last = await step();
        return last;
      },
      dispose: () => {
        optimizer.dispose();
        net.dispose();
      },
    };
  },
};

const runnerDriver: StepDriver = {
  description: "the engine's train loop (trainModel) on the registry-built model, batches from the data pipeline, the loss read as the loop reads it",
  prepare(model, batch) {
    const registries = createRegistries();
    const experiment = normalize(
      { name: 'bench', data: { type: 'synthetic' }, model: RUNNER_MODELS[model.name]!, train: { optimizer: { type: 'adam', learningRate: 1e-3 }, steps: 1, batchSize: batch } },
      catalogOf(registries),
    );
    // The same data, served by the pipeline the runner trains from.
    const data = benchData(model, batch);
    const split = inMemorySplit({ x: createColumn(data.x, [data.examples, ...model.inputShape]), y: createColumn(data.y, [data.examples]) });
    const trainable = registries.models.get('sequential').create(experiment.model, { seed: 1, modelRegistries: registries.modelRegistries, features: splitFeatures(split), print: () => undefined });
    const optimizer = buildOptimizer(experiment.train, registries);
    let lastLoss = NaN;
    const sink = combineSinks([{ row: (row) => void (lastLoss = row['train.loss'] ?? NaN) }]);
    return {
      run: async (steps) => {
        await trainModel({ model: trainable, optimizer, train: { ...experiment.train, steps, logEvery: steps }, splits: { train: split }, seed: 1, sink });
        return lastLoss;
      },
      dispose: () => {
        optimizer.dispose();
        trainable.dispose();
      },
    };
  },
};

export const DRIVERS: Record<string, StepDriver> = { direct: directDriver, runner: runnerDriver };

// ---------------------------------------------------------------------------------------------

/** Cells not run unless asked: the reference README measured cpu at > 120 s per CNN step. */
const SLOW = new Set(['cpu/cnn']);

function parseArgs(argv: string[]): Options {
  const options: Options = {
    backends: ['wasm-stock', 'wasm', 'wasm-mt', 'webgpu', 'cpu'],
    models: ['cnn', 'mlp'],
    steps: 10,
    warmup: 2,
    batch: 100,
    drivers: ['direct', 'runner'],
    profile: false,
    includeSlow: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const count = (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${arg} needs a whole number, got ${v}`);
      return n;
    };
    if (arg === '--backends') options.backends = value().split(',').filter((s) => s !== '');
    else if (arg === '--models') options.models = value().split(',').filter((s) => s !== '');
    else if (arg === '--steps') options.steps = Math.max(1, count(value()));
    else if (arg === '--warmup') options.warmup = count(value());
    else if (arg === '--batch') options.batch = Math.max(1, count(value()));
    else if (arg === '--driver') options.drivers = value().split(',').filter((d) => d !== '');
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--include-slow') options.includeSlow = true;
    else if (arg === '--out') options.out = value();
    else if (arg === '--child') options.child = value();
    else throw new Error(`unknown option ${arg}`);
  }
  for (const m of options.models) if (MODELS[m] === undefined) throw new Error(`unknown model ${m} (known: ${Object.keys(MODELS).join(', ')})`);
  for (const d of options.drivers) if (DRIVERS[d] === undefined) throw new Error(`unknown driver ${d} (known: ${Object.keys(DRIVERS).join(', ')})`);
  return options;
}

/** Switches to a bench backend; `wasm-stock` is wasm with the stock kernels put back, `wasm-mt` its threaded build. */
async function activate(name: string): Promise<ActiveBackend> {
  const registryName = name === 'wasm-stock' || name === 'wasm-mt' ? 'wasm' : name;
  const threads = name === 'wasm-mt' ? os.cpus().length : 1;
  const active = await activateBackend(registryName, { log: (line) => console.log(line), threads });
  if (registryName === 'wasm') registerWasmTrainingKernels({ fastPaths: name !== 'wasm-stock' });
  return active;
}

/** Rounds the timed steps are split into; each round times every driver, in rotating order. */
const ROUNDS = 4;

async function measure(backend: string, model: BenchModel, options: Options): Promise<Cell[]> {
  const tensorsBefore = tf.memory().numTensors;
  const prepared = options.drivers.map((name) => ({ name, ...DRIVERS[name]!.prepare(model, options.batch), ms: 0, steps: 0, loss: NaN }));
  try {
    for (const p of prepared) if (options.warmup > 0) await p.run(options.warmup);
    const perRound = Math.max(1, Math.ceil(options.steps / ROUNDS));
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < prepared.length; k++) {
        const p = prepared[(round + k) % prepared.length]!;
        const start = performance.now();
        p.loss = await p.run(perRound);
        p.ms += performance.now() - start;
        p.steps += perRound;
      }
    }
    const baseline = prepared[0]!.ms / prepared[0]!.steps;
    const cells: Cell[] = [];
    for (const p of prepared) {
      const ms = p.ms / p.steps;
      const cell: Cell = {
        backend,
        model: model.name,
        driver: p.name,
        msPerStep: ms,
        samplesPerSecond: (options.batch * 1000) / ms,
        steps: p.steps,
        note: Number.isFinite(p.loss) ? '' : `loss ${p.loss}`,
      };
      if (p !== prepared[0]) cell.overheadPercent = (ms / baseline - 1) * 100;
      if (options.profile) cell.topKernels = await topKernels(() => p.run(1));
      cells.push(cell);
    }
    return cells;
  } finally {
    for (const p of prepared) p.dispose();
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) console.warn(`${backend}/${model.name}: ${leaked} tensors leaked`);
  }
}

/** The kernels that took longest in one profiled step (kernel times; on webgpu they include queueing). */
async function topKernels(step: () => Promise<number>): Promise<string> {
  const info = await tf.profile(async () => {
    await step();
    return [];
  });
  const byName = new Map<string, number>();
  for (const k of info.kernels) {
    const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, (byName.get(k.name) ?? 0) + t);
  }
  return [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, ms]) => `${name} ${ms.toFixed(0)}`)
    .join(', ');
}

function fmt(n: number | undefined, digits: number): string {
  return n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function render(cells: Cell[], withKernels: boolean): { text: string; markdown: string } {
  const head = ['backend', 'model', 'driver', 'ms/step', 'samples/s', 'vs first driver', 'steps', 'note'];
  if (withKernels) head.push('top kernels (ms, one step)');
  const rows = cells.map((c) => {
    const overhead = c.overheadPercent === undefined ? '' : `${c.overheadPercent >= 0 ? '+' : ''}${c.overheadPercent.toFixed(1)} %`;
    const row = [c.backend, c.model, c.driver ?? '', fmt(c.msPerStep, 1), fmt(c.samplesPerSecond, 1), overhead, String(c.steps), c.note];
    if (withKernels) row.push(c.topKernels ?? '');
    return row;
  });
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(row);
  const markdown = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  return { text: table.toString(), markdown };
}

const RESULT_MARK = 'TRAIN_BENCH_RESULT ';

/** Child process: measures every model on one backend and prints the cells as one JSON line. */
async function measureBackend(backend: string, options: Options): Promise<{ cells: Cell[]; active?: ActiveBackend }> {
  const cells: Cell[] = [];
  let active: ActiveBackend;
  try {
    active = await activate(backend);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    for (const m of options.models) cells.push({ backend, model: m, steps: 0, note: `not available: ${reason}` });
    return { cells };
  }
  for (const m of options.models) {
    if (SLOW.has(`${backend}/${m}`) && !options.includeSlow) {
      cells.push({ backend, model: m, steps: 0, note: 'not run: minutes per step (--include-slow to run)' });
      continue;
    }
    console.log(`measuring ${backend} / ${m} ...`);
    cells.push(...(await measure(backend, MODELS[m]!, options)));
  }
  return { cells, active };
}

/** Runs one backend in a fresh process of the same kind as this one (tsx or a bundle). */
function runChild(backend: string, argv: string[]): { cells: Cell[]; active?: ActiveBackend } {
  const script = process.argv[1] ?? fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, script, ...argv, '--child', backend], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  let result: { cells: Cell[]; active?: ActiveBackend } | undefined;
  for (const line of (child.stdout ?? '').split('\n')) {
    if (line.startsWith(RESULT_MARK)) result = JSON.parse(line.slice(RESULT_MARK.length)) as { cells: Cell[]; active?: ActiveBackend };
    else if (line.trim() !== '') console.log(`  [${backend}] ${line}`);
  }
  if (result !== undefined) return result;
  const why = child.error?.message ?? `exit status ${String(child.status)}${child.signal === null ? '' : `, signal ${child.signal}`}`;
  return { cells: [{ backend, model: '-', steps: 0, note: `child process failed: ${why}` }] };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseArgs(argv);
  if (options.child !== undefined) {
    const result = await measureBackend(options.child, options);
    console.log(`${RESULT_MARK}${JSON.stringify(result)}`);
    return;
  }
  const cells: Cell[] = [];
  const backendsSeen: Record<string, ActiveBackend> = {};
  for (const backend of options.backends) {
    const result = runChild(backend, argv);
    cells.push(...result.cells);
    if (result.active !== undefined) backendsSeen[backend] = result.active;
  }
  const { text, markdown } = render(cells, options.profile);
  const describeBackend = (name: string, a: ActiveBackend) =>
    `${name}: ${[a.adapter, a.device].filter((p) => p !== undefined).join('; ')} (${Object.entries(a.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`;
  const header = [
    `batch ${options.batch}, Adam 1e-3, about ${options.steps} timed steps per driver after ${options.warmup} warm-up, drivers ${options.drivers.join(' vs ')} interleaved in ${ROUNDS} rounds, ${new Date().toISOString()}`,
    ...Object.entries(backendsSeen).map(([name, a]) => describeBackend(name, a)),
  ].join('\n');
  console.log(`\n${header}\n${text}`);
  if (options.out !== undefined) {
    mkdirSync(options.out, { recursive: true });
    writeFileSync(path.join(options.out, 'train-bench.md'), `${header.split('\n').map((l) => `- ${l}`).join('\n')}\n\n${markdown}\n`);
    writeFileSync(path.join(options.out, 'train-bench.json'), `${JSON.stringify({ options, backends: backendsSeen, cells }, null, 2)}\n`);
    writeFileSync(path.join(options.out, 'train-bench.txt'), `${header}\n${text}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
