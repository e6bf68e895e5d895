/**
 * PyTorch's processor time per training step, for a comparison a busy machine does not skew.
 *
 *   npx tsx bench/native/torch-cpu.ts [--reference ../shared/reference/torch_reference.py] [--models cnn,mlp,lstm]
 *
 * Wall time on a shared machine measures how much of a core each engine happened to get; at one
 * thread, processor time measures the work. torch_reference.py prints wall time only, so it is
 * run twice per model under /usr/bin/time with a short and a long step count: the difference of
 * the two processor times over the difference of the step counts is the processor time of one
 * step, without Python's start-up and the warm-up step. Prints lines like
 * `torch-cpu cnn threads=1 cpu-ms/step=...`, which ratios.ts reads next to train-native.ts's
 * `cpu-ms/step`. One thread only (more threads would add up their spinning).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
};
const reference = path.resolve(option('--reference', path.join(here, '..', '..', '..', 'shared', 'reference', 'torch_reference.py')));
const models = option('--models', 'cnn,mlp,lstm').split(',');
const STEPS: Record<string, [number, number]> = { cnn: [4, 14], mlp: [20, 120], lstm: [8, 38] };

function processorSeconds(model: string, steps: number): number {
  const run = spawnSync('/usr/bin/time', ['-f', 'TIME %U %S', '/usr/bin/python3', reference, model, String(steps)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  const line = (run.stderr ?? '').split('\n').find((l) => l.startsWith('TIME '));
  if (run.status !== 0 || line === undefined) throw new Error(`torch_reference.py ${model} ${steps} failed: ${run.stderr}`);
  const [, user, system] = line.split(' ');
  return Number(user) + Number(system);
}

for (const model of models) {
  const [short, long] = STEPS[model] ?? [5, 25];
  const a = processorSeconds(model, short);
  const b = processorSeconds(model, long);
  const ms = ((b - a) / (long - short)) * 1000;
  process.stdout.write(`torch-cpu ${model} threads=1 cpu-ms/step=${ms.toFixed(1)}\n`);
}
