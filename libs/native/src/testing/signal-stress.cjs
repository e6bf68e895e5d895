// Runs every addon kernel many times on a plain heap while the process is being sampled by
// Node's CPU profiler (a SIGPROF every few dozen microseconds), checks each call repeats its
// first result exactly, and prints "ok". Spawned by signals.test.ts with --cpu-prof.
// oneDNN 2.6.3's SGEMM corrupted the heap under exactly this; the addon must never run it.
const [addonFile, threadsText] = process.argv.slice(2);
const addon = require(addonFile);
addon.setThreads(Number(threadsText));
const MB = 1 << 20;
const heap = new Uint8Array(96 * MB);
const floats = new Float32Array(heap.buffer);
for (let i = 0; i < floats.length; i++) floats[i] = ((i * 7919) % 13) / 13 - 0.5;
const args = new Float64Array(64);
// x at 0, filter at 8 MB, output at 16 MB, dy at 32 MB, extra at 48 MB.
const X = 0, W = 8 * MB, OUT = 16 * MB, DY = 32 * MB, EXTRA = 48 * MB;
const conv = [8, 14, 14, 32, 64, 5, 5, 14, 14, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0];
// The course LSTM (batch 100, 28 steps of 28, 128 units); its saved state at 56 MB.
const lstm = [100, 28, 28, 128, 0];
const STATE = 56 * MB;
// Second moments for Adam (non-negative, as they always are) at 72 MB.
const MOMENTS = 72 * MB;
floats.fill(0.25, MOMENTS / 4, MOMENTS / 4 + 392000);
const convFirstLayer = [8, 28, 28, 1, 32, 5, 5, 28, 28, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0];
const calls = {
  conv2d: () => (args.set([X, W, OUT, -1, ...conv]), addon.conv2d(heap, args)),
  conv2dBias: () => (args.set([X, W, OUT, EXTRA, ...conv.slice(0, 17), 1, 0]), addon.conv2d(heap, args)),
  conv2dBackpropInput: () => (args.set([DY, W, OUT, -1, ...conv]), addon.conv2dBackpropInput(heap, args)),
  conv2dBackpropInputFirstLayer: () => (args.set([DY, W, OUT, -1, ...convFirstLayer]), addon.conv2dBackpropInput(heap, args)),
  conv2dBackpropFilter: () => (args.set([X, DY, OUT, -1, ...conv]), addon.conv2dBackpropFilter(heap, args)),
  matMul: () => (args.set([X, W, OUT, EXTRA, -1, 1, 1, 100, 784, 500, 0, 0, 1, 0, 500, 0]), addon.matMul(heap, args)),
  matMulTransposed: () => (args.set([X, W, OUT, -1, -1, 1, 1, 784, 100, 500, 1, 1, 0, 0, 0, 0]), addon.matMul(heap, args)),
  matMulBatched: () => (args.set([X, W, OUT, -1, -1, 4, 4, 100, 128, 512, 0, 0, 0, 0, 0, 0]), addon.matMul(heap, args)),
  maxPool: () => (args.set([X, OUT, 8, 28, 28, 32, 14, 14, 2, 2, 2, 2, 0, 0]), addon.maxPool(heap, args)),
  maxPoolGrad: () => (args.set([X, DY, OUT, 8, 28, 28, 32, 14, 14, 2, 2, 2, 2, 0, 0]), addon.maxPoolGrad(heap, args)),
  binary: () => (args.set([X, W, OUT, 0, 2, 1000, 1000, 1, 1, 1, 1, 1000, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), addon.binary(heap, args)),
  unary: () => (args.set([X, OUT, 10, 1e6, 0, 0]), addon.unary(heap, args)),
  sum: () => (args.set([X, OUT, 1, 10000, 64]), addon.sum(heap, args)),
  adam: () => (args.set([X, DY, MOMENTS, OUT, OUT + 2 * MB, OUT + 4 * MB, 392000, 0.9, 0.1, 0.999, 0.001, 0.3, 1e-7]), addon.adam(heap, args)),
  lstmForward: () => (args.set([X, W, W + MB, EXTRA, OUT, STATE, ...lstm]), addon.lstmForward(heap, args)),
  lstmBackward: () => (args.set([DY, X, W, W + MB, STATE, OUT, OUT + MB, OUT + 2 * MB, OUT + 3 * MB, ...lstm]), addon.lstmBackward(heap, args)),
};
function checksum() {
  let s = 0;
  const out = new Float32Array(heap.buffer, OUT, 2 * MB);
  for (let i = 0; i < out.length; i += 7) s += out[i] * ((i % 5) + 1);
  return s;
}
const deadline = Date.now() + 4000;
for (const [name, call] of Object.entries(calls)) {
  call();
  const first = checksum();
  for (let i = 0; i < 40 || (Date.now() < deadline && i < 400); i++) {
    call();
    if (checksum() !== first) throw new Error(`${name}: call ${i} differs from the first`);
  }
}
process.stdout.write('ok\n');
