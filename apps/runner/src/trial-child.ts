/*
 * The process one sweep trial runs in, started by the sweep's child-process executor over an IPC
 * channel: it loads the trial's experiment, runs it as a normal run in the trial's folder with
 * the CLI's sinks, and talks to the coordinator (epoch ends up, prune and abort down). A queue
 * worker starts the same process for a trial from another machine: its context then carries
 * `queued`, and the experiment comes from the trial's spec instead of the coordinator's file.
 */
import * as tf from '@tensorflow/tfjs';
import { createRegistries } from '@dlexp/train';
import { createSamplerRegistry, createTrialProcess, runTrial, type TrialProcessMessage } from '@dlexp/sweep';
import { createRunSinks, type HostTrialContext } from '@dlexp/host';
import { probeWebgpuAdapter } from './cli/webgpu-probe';

tf.enableProdMode();

let resultSent: () => void = () => undefined;
const delivered = new Promise<void>((resolve) => (resultSent = resolve));
const send = (message: TrialProcessMessage) => {
  if (process.send === undefined || !process.connected) {
    if (message.type === 'result') resultSent();
    return;
  }
  process.send(message, undefined, {}, () => {
    if (message.type === 'result') resultSent();
  });
};

const trial = createTrialProcess(send, async (hooks) => {
  const context = hooks.request.context as unknown as HostTrialContext;
  const registries = createRegistries({ sweeps: createSamplerRegistry() });
  const { queued } = context;
  // Only a worker's trials load the queue library (and its Redis client).
  const openQueuedTrial = queued !== undefined ? (await import('@dlexp/queue')).openQueuedTrial : undefined;
  return runTrial(hooks, {
    registries,
    context,
    // A trial's output goes to its coordinator (a pipe): plain lines, no progress bar, no JUnit of its own.
    sinksFor: (experiment, values) => createRunSinks(experiment, hooks.log, { interactive: false }, values),
    versions: context.versions,
    backendOptions: { probeWebgpuAdapter },
    ...(queued !== undefined && openQueuedTrial !== undefined ? { openTrial: (spec: Parameters<typeof openQueuedTrial>[0]) => openQueuedTrial(spec, queued, registries) } : {}),
  });
});

process.on('message', (message) => trial.receive(message));
// Without its coordinator (killed, or gone), the trial saves a checkpoint and ends.
process.on('disconnect', () => trial.abort());
// Ctrl-C at a terminal reaches every process of its group: the coordinator decides, and says so over IPC.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => trial.abort());

await trial.finished;
await delivered;
// TF.js backends may keep handles open: the result is delivered, so the process is done.
process.exit(0);
