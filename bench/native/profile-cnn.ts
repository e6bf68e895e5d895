/**
 * Where one training step of the course CNN goes on the native backend, kernel by kernel, and
 * the rate its convolutions and matrix products reach against the processor's peak.
 *
 *   npx tsx bench/native/profile-cnn.ts [--threads N] [--steps N] [--timer cpu|wall] [--markdown]
 *
 * Kernels are timed with the elementwise chains run one by one (fusion off), so each kernel has
 * its own time; the step is then timed both ways, so what fusing the chains saves shows too.
 * The default timer at one thread is processor time (process.cpuUsage): on a shared machine
 * that is the time the step would take alone. With more threads it is wall time (processor time
 * would add the threads up).
 */
import * as tf from '@tensorflow/tfjs';
import { activateBackend } from '@dlexp/backends';
import { measurePeakGflops, nativeMemory, probeNativeAddon, registerNativeBackend } from '@dlexp/native';
import { MODELS, runnerStep } from '../train-models';

interface Options {
  threads: number;
  steps: number;
  timer: 'cpu' | 'wall';
  markdown: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { threads: 1, steps: 5, timer: 'cpu', markdown: false };
  let timerGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--threads') options.threads = Number(value());
    else if (arg === '--steps') options.steps = Number(value());
    else if (arg === '--timer') {
      const t = value();
      if (t !== 'cpu' && t !== 'wall') throw new Error('--timer is cpu or wall');
      options.timer = t;
      timerGiven = true;
    } else if (arg === '--markdown') options.markdown = true;
    else throw new Error(`unknown option ${arg}`);
  }
  if (!timerGiven && options.threads > 1) options.timer = 'wall';
  return options;
}

/** Floating-point operations of one kernel call, from its input shapes (convolutions and products only). */
function flopsOf(name: string, shapes: number[][]): number {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (name === 'Conv2D' || name === 'FusedConv2D') {
    // x [n, h, w, c], filter [fh, fw, c, oc]; same padding and stride 1 here: output n*h*w*oc.
    const [n, h, w] = shapes[0]!;
    const [fh, fw, c, oc] = shapes[1]!;
    return 2 * n! * h! * w! * oc! * fh! * fw! * c!;
  }
  if (name === 'Conv2DBackpropInput') {
    const [n, h, w, oc] = shapes[0]!; // dy
    const [fh, fw, c] = shapes[1]!; // filter
    return 2 * n! * h! * w! * oc! * fh! * fw! * c!;
  }
  if (name === 'Conv2DBackpropFilter') {
    const [, , , c] = shapes[0]!; // x
    const dy = shapes[1]!;
    // filter taps are not in the inputs: the course CNN's are 5x5.
    return 2 * size(dy) * c! * 25;
  }
  if (name === 'BatchMatMul' || name === '_FusedMatMul') {
    const a = shapes[0]!;
    const b = shapes[1]!;
    // One of a's last two dims is k, the other m; b's the other of k and n.
    const batch = Math.max(size(a.slice(0, -2)), size(b.slice(0, -2)));
    const aDims = a.slice(-2);
    const bDims = b.slice(-2);
    const k = aDims.find((d) => bDims.includes(d)) ?? aDims[1]!;
    const m = size(aDims) / k;
    const n = size(bDims) / k;
    return 2 * batch * m * n * k;
  }
  return 0;
}

type Timer = () => number;

function makeTimer(kind: 'cpu' | 'wall'): Timer {
  if (kind === 'wall') return () => performance.now();
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const probe = probeNativeAddon();
  if (!probe.available) throw new Error(`${probe.reason} (fix: ${probe.fix})`);
  await activateBackend('wasm', { log: () => undefined, threads: 1 });
  // Kernel by kernel: elementwise chains not fused and products not deferred, so that each
  // kernel's time is its own (a deferred product is computed by whichever kernel reads it).
  await registerNativeBackend({ threads: options.threads, fuseElementwise: false, deferProducts: false });
  await tf.setBackend('native');
  const now = makeTimer(options.timer);

  const model = MODELS['cnn']!;
  const net = model.build();
  const training = runnerStep(net);
  const x = tf.randomNormal([100, ...model.inputShape], 0, 1, 'float32', 1);
  const labels = new Float32Array(1000);
  for (let i = 0; i < 100; i++) labels[i * 10 + ((i * 7) % 10)] = 1;
  const y = tf.tensor2d(labels, [100, 10]);
  const step = async () => {
    const loss = training.step(x, y);
    await loss.data();
    loss.dispose();
  };
  for (let i = 0; i < 3; i++) await step();

  // Per-kernel times, chains one by one.
  const backend = tf.engine().backend as unknown as { time: (f: () => void) => Promise<{ kernelMs: number }> };
  const stockTime = backend.time;
  backend.time = async (f) => {
    const start = now();
    f();
    return { kernelMs: now() - start };
  };
  const rows = new Map<string, { name: string; shapes: string; calls: number; ms: number; flops: number }>();
  for (let s = 0; s < options.steps; s++) {
    const info = await tf.profile(step);
    for (const k of info.kernels) {
      // Wrappers (fusedMatMul__op...) contain their kernel's time; only kernels count.
      if (tf.getKernel(k.name, 'native') === undefined) continue;
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      const row = rows.get(key) ?? { name: k.name, shapes: k.inputShapes.map((sh) => `[${(sh ?? []).join(',')}]`).join(' '), calls: 0, ms: 0, flops: 0 };
      row.calls++;
      row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      row.flops += flopsOf(k.name, k.inputShapes as number[][]);
      rows.set(key, row);
    }
  }
  backend.time = stockTime;

  // Whole steps, fused and not, interleaved.
  const stepMs = { fused: [] as number[], eager: [] as number[] };
  for (let round = 0; round < 4; round++) {
    for (const fused of round % 2 === 0 ? [true, false] : [false, true]) {
      await registerNativeBackend({ threads: options.threads, fuseElementwise: fused, deferProducts: true });
      await step();
      const start = now();
      for (let i = 0; i < options.steps; i++) await step();
      (fused ? stepMs.fused : stepMs.eager).push((now() - start) / options.steps);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const fusedMs = median(stepMs.fused);
  const eagerMs = median(stepMs.eager);
  const peakPerThread = measurePeakGflops(options.threads);
  const peak = peakPerThread.reduce((a, b) => a + b, 0);

  const perStep = [...rows.values()].map((r) => ({ ...r, calls: r.calls / options.steps, ms: r.ms / options.steps, flops: r.flops / options.steps }));
  perStep.sort((a, b) => b.ms - a.ms);
  const kernelMs = perStep.reduce((a, r) => a + r.ms, 0);
  const totalFlops = perStep.reduce((a, r) => a + r.flops, 0);
  const computeMs = perStep.filter((r) => r.flops > 0).reduce((a, r) => a + r.ms, 0);
  const head = ['kernel', 'input shapes', 'calls/step', 'ms/step', '% of step', 'GFLOP', 'GFLOP/s', '% of peak'];
  const table = perStep
    .filter((r) => r.ms >= 0.05)
    .map((r) => {
      const rate = r.flops > 0 ? r.flops / 1e9 / (r.ms / 1000) : undefined;
      return [
        r.name,
        r.shapes,
        r.calls.toFixed(0),
        r.ms.toFixed(2),
        ((100 * r.ms) / eagerMs).toFixed(1),
        r.flops > 0 ? (r.flops / 1e9).toFixed(3) : '',
        rate === undefined ? '' : rate.toFixed(0),
        rate === undefined ? '' : ((100 * rate) / peak).toFixed(0),
      ];
    });
  const lines = options.markdown
    ? [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...table.map((r) => `| ${r.join(' | ')} |`)]
    : [head.join('\t'), ...table.map((r) => r.join('\t'))];
  const summary = [
    `course CNN, batch 100, Adam; native at ${options.threads} thread(s); ${options.timer === 'cpu' ? 'processor' : 'wall'} time; ${probe.device}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    `convolutions: ${[...new Set(nativeMemory().convolutionImplementations)].join('; ')}`,
    `step: ${fusedMs.toFixed(1)} ms with elementwise chains fused, ${eagerMs.toFixed(1)} ms one kernel at a time (fusing saves ${(eagerMs - fusedMs).toFixed(1)} ms)`,
    kernelMs < eagerMs
      ? `kernels (one at a time): ${kernelMs.toFixed(1)} ms of the ${eagerMs.toFixed(1)} ms step; the rest (${(eagerMs - kernelMs).toFixed(1)} ms) is TF.js's engine, the layers' and optimizer's JavaScript, tensor bookkeeping`
      : `kernels (one at a time): ${kernelMs.toFixed(1)} ms, more than the ${eagerMs.toFixed(1)} ms step: timing each kernel adds its own cost (and processor time counts V8's helper threads)`,
    `convolutions and matrix products: ${(totalFlops / 1e9).toFixed(2)} GFLOP in ${computeMs.toFixed(1)} ms = ${(totalFlops / 1e9 / (computeMs / 1000)).toFixed(0)} GFLOP/s; over the whole fused step ${(totalFlops / 1e9 / (fusedMs / 1000)).toFixed(0)} GFLOP/s`,
    `peak (measured multiply-add throughput): ${peakPerThread.map((p) => p.toFixed(0)).join(' + ')} = ${peak.toFixed(0)} GFLOP/s; the step reaches ${((100 * totalFlops) / 1e9 / (fusedMs / 1000) / peak).toFixed(0)} % of it, its convolutions and products ${((100 * totalFlops) / 1e9 / (computeMs / 1000) / peak).toFixed(0)} %`,
  ];
  process.stdout.write(`${summary.join('\n')}\n\n${lines.join('\n')}\n`);
  tf.dispose([x, y]);
  training.dispose();
  net.dispose();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
