/**
 * Training throughput of the course models on the native backend against wasm, at 1 and 2 threads.
 *
 *   npx tsx bench/native/train-native.ts [--backends native,wasm] [--threads 1,2] [--models cnn,mlp,lstm]
 *                                        [--steps N] [--warmup N] [--seconds S] [--profile] [--no-fuse] [--out DIR]
 *
 * Every (backend, threads) pair runs in its own child process (the wasm build and oneDNN's
 * thread pool are fixed per process). The step is the runner's: batch 100 of seeded random
 * data, softmax cross-entropy, tf.variableGrads, this project's Adam (libs/optim, 1e-3), the loss
 * read back every step. Each cell warms up for at least --warmup steps and half of --seconds,
 * then times at least --steps steps and --seconds seconds (default 2): an MLP step takes
 * milliseconds, and ten of them would mostly time V8 still compiling the step. Each cell also
 * prints one line in the format of torch_reference.py
 * (`tfjs <model> backend=<b> threads=<n> ms/step=<ms> samples/s=<s>`), so that a run under
 * ../shared/reference/side_by_side.sh can be turned into ratios by ratios.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import Table from 'cli-table3';
import { activateBackend } from '@dlexp/backends';
import { probeNativeAddon, registerNativeBackend } from '@dlexp/native';
import { MODELS, runnerStep, type BenchModel } from '../train-models';

interface Options {
  backends: string[];
  threads: number[];
  models: string[];
  steps: number;
  warmup: number;
  /** The least time each cell is timed for, and warmed up for (half of it). */
  seconds: number;
  batch: number;
  profile: boolean;
  /** Run native's elementwise kernels one by one (no fused chains), to measure what fusing saves. */
  noFuse: boolean;
  out?: string;
  child?: { backend: string; threads: number };
}

export interface Cell {
  backend: string;
  threads: number;
  model: string;
  msPerStep?: number;
  /**
   * Processor time of the whole process per step (all its threads): on a shared machine, at one
   * thread, the closest thing to the time the step would take alone.
   */
  cpuMsPerStep?: number;
  samplesPerSecond?: number;
  steps: number;
  finalLoss?: number;
  note: string;
  /** Milliseconds per kernel in one profiled step, largest first. */
  kernels?: { name: string; ms: number; calls: number }[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { backends: ['native', 'wasm'], threads: [1, 2], models: ['cnn', 'mlp', 'lstm'], steps: 20, warmup: 3, seconds: 2, batch: 100, profile: false, noFuse: false };
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
    const list = (v: string) => v.split(',').filter((s) => s !== '');
    if (arg === '--backends') options.backends = list(value());
    else if (arg === '--threads') options.threads = list(value()).map(count);
    else if (arg === '--models') options.models = list(value());
    else if (arg === '--steps') options.steps = Math.max(1, count(value()));
    else if (arg === '--warmup') options.warmup = count(value());
    else if (arg === '--seconds') {
      const v = value();
      options.seconds = Number(v);
      if (!Number.isFinite(options.seconds) || options.seconds < 0) throw new Error(`--seconds needs a number of seconds, got ${v}`);
    }
    else if (arg === '--batch') options.batch = Math.max(1, count(value()));
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--no-fuse') options.noFuse = true;
    else if (arg === '--out') options.out = value();
    else if (arg === '--child') {
      const [backend, threads] = value().split(':');
      options.child = { backend: backend!, threads: count(threads!) };
    } else throw new Error(`unknown option ${arg}`);
  }
  for (const m of options.models) if (MODELS[m] === undefined) throw new Error(`unknown model ${m} (known: ${Object.keys(MODELS).join(', ')})`);
  for (const b of options.backends) if (b !== 'native' && b !== 'wasm') throw new Error(`unknown backend ${b} (known: native, wasm)`);
  return options;
}

/** Switches this process to the backend; returns a description for the header. */
async function activate(backend: string, threads: number, options: Options): Promise<string> {
  const log = () => undefined;
  if (backend === 'wasm') {
    const active = await activateBackend('wasm', { log, threads });
    return `wasm: ${active.device ?? ''}`;
  }
  const probe = probeNativeAddon();
  if (!probe.available) throw new Error(`${probe.reason} (fix: ${probe.fix})`);
  // The wasm backend (with its training kernels) first: native takes its kernels as they are.
  await activateBackend('wasm', { log, threads: 1 });
  const registration = await registerNativeBackend({ threads, fuseElementwise: !options.noFuse });
  if (!(await tf.setBackend(registration.backendName))) throw new Error('tf.setBackend(native) failed');
  return `native: ${probe.device}, ${threads} thread${threads === 1 ? '' : 's'}${options.noFuse ? ', elementwise kernels one by one' : ''}`;
}

/** The runner's step (bench/train-models.ts) on batches cut from seeded random data. */
function prepareStep(model: BenchModel, batch: number): { step: () => Promise<number>; dispose: () => void } {
  const net = model.build();
  const training = runnerStep(net);
  const examples = batch * 4;
  const perExample = model.inputShape.reduce((a, b) => a * b, 1);
  const xs = tf.tidy(() => tf.randomNormal([examples * perExample], 0, 1, 'float32', 1).dataSync() as Float32Array);
  const labels = new Float32Array(examples * 10);
  for (let i = 0; i < examples; i++) labels[i * 10 + ((i * 7) % 10)] = 1;
  let next = 0;
  const step = async () => {
    const start = (next++ % 4) * batch;
    const x = tf.tensor(xs.subarray(start * perExample, (start + batch) * perExample), [batch, ...model.inputShape]);
    const y = tf.tensor2d(labels.subarray(start * 10, (start + batch) * 10), [batch, 10]);
    const loss = training.step(x, y);
    const value = (await loss.data())[0]!;
    tf.dispose([loss, x, y]);
    return value;
  };
  return {
    step,
    dispose: () => {
      training.dispose();
      net.dispose();
    },
  };
}

/**
 * Milliseconds per kernel in one step. Kernel times are processor time of the process (the
 * backend's timer is swapped for one reading process.cpuUsage), so other processes on a shared
 * machine do not show up in them; at one thread that is the time the kernel takes alone.
 */
async function profileStep(step: () => Promise<number>): Promise<{ name: string; ms: number; calls: number }[]> {
  const backend = tf.engine().backend as unknown as { time: (f: () => void) => Promise<{ kernelMs: number }> };
  const wallTimer = backend.time;
  backend.time = async (f) => {
    const start = process.cpuUsage();
    f();
    const used = process.cpuUsage(start);
    return { kernelMs: (used.user + used.system) / 1000 };
  };
  let info: Awaited<ReturnType<typeof tf.profile>>;
  try {
    info = await tf.profile(async () => {
      await step();
      return [];
    });
  } finally {
    backend.time = wallTimer;
  }
  const byName = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls++;
    byName.set(k.name, entry);
  }
  return [...byName.entries()].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.ms - a.ms);
}

async function measure(backend: string, threads: number, model: BenchModel, options: Options): Promise<Cell> {
  const before = tf.memory().numTensors;
  const prepared = prepareStep(model, options.batch);
  try {
    const warmupEnd = performance.now() + 500 * options.seconds;
    for (let i = 0; i < options.warmup || performance.now() < warmupEnd; i++) await prepared.step();
    let loss = NaN;
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const end = start + 1000 * options.seconds;
    let steps = 0;
    while (steps < options.steps || performance.now() < end) {
      loss = await prepared.step();
      steps++;
    }
    const ms = (performance.now() - start) / steps;
    const cpu = process.cpuUsage(cpuStart);
    const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
    const cell: Cell = {
      backend,
      threads,
      model: model.name,
      msPerStep: ms,
      cpuMsPerStep: cpuMs,
      samplesPerSecond: (options.batch * 1000) / ms,
      steps,
      finalLoss: loss,
      note: '',
    };
    if (options.profile) {
      // Products computed when called, so that each kernel's time is its own (a deferred
      // product is computed by whichever kernel reads it).
      if (backend === 'native') await registerNativeBackend({ threads, fuseElementwise: !options.noFuse, deferProducts: false });
      cell.kernels = await profileStep(prepared.step);
    }
    return cell;
  } finally {
    prepared.dispose();
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) console.warn(`${backend}/${model.name}: ${leaked} tensors leaked`);
  }
}

const RESULT_MARK = 'NATIVE_BENCH_RESULT ';

async function runChild(options: Options): Promise<void> {
  const { backend, threads } = options.child!;
  const cells: Cell[] = [];
  let description = '';
  try {
    description = await activate(backend, threads, options);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    for (const m of options.models) cells.push({ backend, threads, model: m, steps: 0, note: `not available: ${reason}` });
  }
  if (description !== '') {
    // The machine is shared: say how busy it was around each measurement.
    console.log(`load ${backend} threads=${threads} ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const m of options.models) {
      const cell = await measure(backend, threads, MODELS[m]!, options);
      console.log(
        `tfjs ${m} backend=${backend} threads=${threads} ms/step=${cell.msPerStep!.toFixed(1)} samples/s=${cell.samplesPerSecond!.toFixed(0)} cpu-ms/step=${cell.cpuMsPerStep!.toFixed(1)}`,
      );
      cells.push(cell);
    }
  }
  console.log(`${RESULT_MARK}${JSON.stringify({ description, cells })}`);
}

function spawnChild(backend: string, threads: number, argv: string[]): { description: string; cells: Cell[] } {
  const script = process.argv[1] ?? fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, script, ...argv, '--child', `${backend}:${threads}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  let result: { description: string; cells: Cell[] } | undefined;
  for (const line of (child.stdout ?? '').split('\n')) {
    if (line.startsWith(RESULT_MARK)) result = JSON.parse(line.slice(RESULT_MARK.length)) as { description: string; cells: Cell[] };
    else if (line.trim() !== '') console.log(line);
  }
  if (result !== undefined) return result;
  const why = child.error?.message ?? `exit status ${String(child.status)}${child.signal === null ? '' : `, signal ${child.signal}`}`;
  return { description: '', cells: [{ backend, threads, model: '-', steps: 0, note: `child process failed: ${why}` }] };
}

function render(cells: Cell[]): { text: string; markdown: string } {
  const wasmMs = new Map(cells.filter((c) => c.backend === 'wasm').map((c) => [`${c.model}/${c.threads}`, c.msPerStep]));
  const head = ['model', 'backend', 'threads', 'ms/step', 'samples/s', 'vs wasm (same threads)', 'cpu ms/step', 'final loss', 'note'];
  const rows = cells.map((c) => {
    const wasm = wasmMs.get(`${c.model}/${c.threads}`);
    const speedup = c.backend !== 'wasm' && wasm !== undefined && c.msPerStep !== undefined ? `${(wasm / c.msPerStep).toFixed(2)}x` : '';
    return [
      c.model,
      c.backend,
      String(c.threads),
      c.msPerStep?.toFixed(1) ?? '-',
      c.samplesPerSecond?.toFixed(0) ?? '-',
      speedup,
      c.cpuMsPerStep?.toFixed(1) ?? '-',
      c.finalLoss?.toFixed(4) ?? '-',
      c.note,
    ];
  });
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(row);
  const markdown = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  return { text: table.toString(), markdown };
}

function renderProfiles(cells: Cell[]): string {
  return cells
    .filter((c) => c.kernels !== undefined)
    .map((c) => {
      const total = c.kernels!.reduce((s, k) => s + k.ms, 0);
      const top = c.kernels!.slice(0, 14).map((k) => `${k.name} ${k.ms.toFixed(1)} ms/${k.calls}`);
      return `${c.backend} ${c.threads}t ${c.model}: kernels ${total.toFixed(1)} cpu-ms of ${c.cpuMsPerStep?.toFixed(1)} cpu-ms/step; ${top.join(', ')}`;
    })
    .join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseArgs(argv);
  if (options.child !== undefined) return runChild(options);
  const cells: Cell[] = [];
  const descriptions: string[] = [];
  for (const threads of options.threads) {
    for (const backend of options.backends) {
      const result = spawnChild(backend, threads, argv);
      cells.push(...result.cells);
      if (result.description !== '') descriptions.push(result.description);
    }
  }
  cells.sort((a, b) => options.models.indexOf(a.model) - options.models.indexOf(b.model) || a.threads - b.threads || a.backend.localeCompare(b.backend));
  const { text, markdown } = render(cells);
  const header = [
    `batch ${options.batch}, Adam 1e-3, at least ${options.steps} timed steps and ${options.seconds} s after at least ${options.warmup} warm-up steps and ${options.seconds / 2} s, ${new Date().toISOString()}`,
    ...[...new Set(descriptions)],
  ].join('\n');
  const profiles = renderProfiles(cells);
  console.log(`\n${header}\n${text}${profiles === '' ? '' : `\n${profiles}`}`);
  if (options.out !== undefined) {
    mkdirSync(options.out, { recursive: true });
    writeFileSync(path.join(options.out, 'train-native.md'), `${header.split('\n').map((l) => `- ${l}`).join('\n')}\n\n${markdown}\n`);
    writeFileSync(path.join(options.out, 'train-native.json'), `${JSON.stringify({ options, descriptions, cells }, null, 2)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
