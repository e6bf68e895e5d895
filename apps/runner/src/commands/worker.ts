import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@dlexp/core';
import type { PlainValue, TrialHostContext } from '@dlexp/sweep';
import { EXIT, invocationDirectory, userPath, type Command } from '../cli/context';
import { EXPERIMENT_OPTIONS, integerOption, listOption, stringOption } from '../cli/options';
import { collectVersions } from '../cli/versions';
import { QUEUE_OPTIONS } from '../sweep';
import type { HostTrialContext } from '@dlexp/host';

/** The trial process's entry, the same as a local sweep's, run through tsx like the runner. */
const TRIAL_ENTRY = fileURLToPath(new URL('../trial-child.ts', import.meta.url));

/**
 * `runner worker --queue URL`: takes sweep trials from the queue and runs each in a process of
 * its own until stopped. Ctrl-C (or SIGTERM) stops taking trials; the running ones save a
 * checkpoint and go back to the queue for another worker. A second Ctrl-C stops at once.
 */
export const workerCommand: Command = {
  name: 'worker',
  usage: [['worker --queue URL [options]', 'run the trials of sweeps started with --queue, taken from the queue, until stopped (Ctrl-C)']],
  options: {
    ...QUEUE_OPTIONS,
    concurrency: { type: 'string', arg: 'N', help: 'trials at once on this worker, each in a process of its own (default 1)' },
    backend: EXPERIMENT_OPTIONS['backend']!,
    threads: EXPERIMENT_OPTIONS['threads']!,
    plugin: EXPERIMENT_OPTIONS['plugin']!,
    checkpoints: {
      type: 'string',
      arg: 'DIR',
      help: "a folder every worker shares: trials keep their run folders there, so one retried elsewhere resumes from its last checkpoint",
    },
    'lock-ms': { type: 'string', arg: 'MS', help: "how long a trial is held without a sign of life from its worker before it goes to another (default 30000)" },
  },
  async run(positionals, values, { io }) {
    if (positionals.length > 0) throw new ConfigError(`worker takes no files (the trials carry their experiments), got ${positionals.join(' ')}`);
    const url = stringOption(values, 'queue');
    if (url === undefined) throw new ConfigError('worker needs --queue URL: the Redis the sweeps are started with (runner <sweep.yaml> --queue URL)');
    const { DEFAULT_QUEUE_NAME, checkQueueName, parseQueueUrl, startTrialWorker } = await import('@dlexp/queue');
    const target = parseQueueUrl(url);
    const queueName = checkQueueName(stringOption(values, 'queue-name') ?? DEFAULT_QUEUE_NAME);
    const concurrency = integerOption(values, 'concurrency', 1, 256) ?? 1;
    const threads = integerOption(values, 'threads', 1, 256);
    const lockMs = integerOption(values, 'lock-ms', 500, 3_600_000);
    const backend = stringOption(values, 'backend');
    const checkpoints = stringOption(values, 'checkpoints');
    const plugins = listOption(values, 'plugin').map(userPath);
    const workspace = invocationDirectory();
    const versions = collectVersions();

    const worker = await startTrialWorker({
      target,
      queueName,
      concurrency,
      ...(lockMs !== undefined ? { lockMs } : {}),
      ...(checkpoints !== undefined ? { checkpoints: userPath(checkpoints) } : {}),
      workspace,
      plugins,
      ...(backend !== undefined ? { backend } : {}),
      ...(threads !== undefined ? { threads } : {}),
      entry: TRIAL_ENTRY,
      execArgv: ['--import', import.meta.resolve('tsx')],
      context: ({ job, queued, runDirectory }) => {
        const host: TrialHostContext = {
          file: join(queued.base, queued.experimentFile),
          open: {},
          invocation: job.invocation as unknown as TrialHostContext['invocation'],
          root: runDirectory,
          argv: job.argv,
        };
        const context: HostTrialContext = { ...host, versions, queued };
        return context as unknown as PlainValue;
      },
      onLine: (line) => io.out(line),
      onTrialOutput: (label, text) => {
        for (const line of text.split('\n')) io.out(`[${label}] ${line}`);
      },
      onNotice: (line) => io.err(line),
    });

    // The first signal stops taking trials and hands the running ones back; a second exits at once.
    let stopping: Promise<void> | undefined;
    const stopped = new Promise<void>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping !== undefined) {
          io.out(`${signal} again: stopping at once; the queue gives the running trials to another worker once their lock runs out`);
          process.exit(EXIT.interrupted);
        }
        io.out(`${signal}: taking no more trials; ${worker.running()} running save a checkpoint and go back to the queue (Ctrl-C again stops at once)`);
        stopping = worker.stop().then(resolve);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    await stopped;
    io.out('worker stopped');
    // Connections to a Redis that went away keep retrying in the background: they must not keep the worker alive.
    setTimeout(() => process.exit(EXIT.interrupted), 2000).unref();
    return EXIT.interrupted;
  },
};
