import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError } from '@dlexp/core';
import type { LoadedExperiment } from '@dlexp/config';
import { configHash, openExperiment, runExperiment, type Invocation, type Registries } from '@dlexp/train';
import { fileURLToPath } from 'node:url';
import { createRunSinks, runSweepCommand, writeJUnitStartError } from '@dlexp/host';
import {
  displayPath,
  exitCodeOf,
  experimentArguments,
  invocationDirectory,
  openOptions,
  userPath,
  withInterruption,
  interactive,
  type Command,
} from '../cli/context';
import { EXPERIMENT_OPTIONS, stringOption, type OptionSpec } from '../cli/options';
import { collectVersions } from '../cli/versions';
import { probeWebgpuAdapter } from '../cli/webgpu-probe';
import { queueChoice, SWEEP_QUEUE_OPTIONS } from '../sweep';

/** What every run started from the CLI shares: the host's versions and its WebGPU probe. */
export function hostRunOptions() {
  return { root: invocationDirectory(), versions: collectVersions(), backendOptions: { probeWebgpuAdapter } };
}

/** Options of the commands that run experiments, about what a run writes besides its folder. */
export const RUN_OUTPUT_OPTIONS: Record<string, OptionSpec> = {
  junit: {
    type: 'string',
    arg: 'FILE',
    help: 'also write the expectation results as a JUnit XML report for CI (a test case per bound; a suite per sweep trial)',
  },
};

/** The process each sweep trial runs in (a child-process entry lives in the app), run through tsx like the runner. */
const TRIAL_ENTRY = fileURLToPath(new URL('../trial-child.ts', import.meta.url));

export const runCommand: Command = {
  name: 'run',
  usage: [
    ['<experiment.yaml> [options]', 'run an experiment (same as: runner run <file>)'],
    ['run <experiment.yaml> [options]', 'run an experiment, or the sweep it holds'],
  ],
  options: {
    ...EXPERIMENT_OPTIONS,
    ...RUN_OUTPUT_OPTIONS,
    out: { type: 'string', arg: 'DIR', help: 'write the run exactly to DIR (default runs/<name>/<run-id>/)' },
    ...SWEEP_QUEUE_OPTIONS,
  },
  async run(files, values, { io, registries, argv }) {
    if (files.length !== 1) throw new ConfigError(`run takes exactly one experiment file, got ${files.length}`);
    const file = files[0]!;
    const started = experimentArguments(values);
    const open = openOptions(started, file);
    const invocation = { file: userPath(file), ...started };
    const queue = queueChoice(values);
    const junitOption = stringOption(values, 'junit');
    const junit = junitOption !== undefined ? userPath(junitOption) : undefined;
    let name = basename(file).replace(/\.ya?ml$/, '');
    try {
      const experiment = await openExperiment(userPath(file), registries, open);
      name = experiment.resolved.name;
      const out = stringOption(values, 'out');
      const common = { ...hostRunOptions(), ...(out !== undefined ? { out: userPath(out) } : {}), argv: argv.filter((a) => a !== file && a !== 'run') };
      return await withInterruption(io.out, async (signal) => {
        if (experiment.resolved.sweep !== undefined) {
          // Each trial runs in a process of its own (apps/runner/src/trial-child.ts), with the same sinks as a run:
          // on this machine, or with --queue on the workers of a queue (runner worker).
          return runSweepCommand(experiment, registries, {
            ...common,
            file: userPath(file),
            load: open,
            invocation,
            trialEntry: TRIAL_ENTRY,
            trialExecArgv: ['--import', import.meta.resolve('tsx')],
            ...(junit !== undefined ? { junit } : {}),
            io,
            interactive: interactive(),
            signal,
            ...(queue !== undefined ? { queue } : {}),
          });
        }
        if (queue !== undefined) throw new ConfigError(`--queue runs the trials of a sweep on workers, and ${displayPath(file)} has no sweep: block`);
        return exitCodeOf(await runExperiment(experiment, registries, { ...common, invocation, sinks: createRunSinks(experiment, io.out, { interactive: interactive(), ...(junit !== undefined ? { junit } : {}) }), signal }));
      });
    } catch (error) {
      // A run refused before it starts (its config or data) is still a result CI should show.
      if (error instanceof ConfigError) writeJUnitStartError(junit, name, error.message);
      throw error;
    }
  },
};

/** Rebuilds the experiment a run was started with, refusing if the file has changed since. */
export async function reopenRun(runDirectory: string, registries: Registries): Promise<{ directory: string; invocation: Invocation; experiment: LoadedExperiment }> {
  const directory = userPath(runDirectory);
  const invocationFile = join(directory, 'invocation.json');
  if (!existsSync(invocationFile)) throw new ConfigError(`${runDirectory}: not a run directory (it has no invocation.json)`);
  const invocation = JSON.parse(readFileSync(invocationFile, 'utf8')) as Invocation;
  const experiment = await openExperiment(invocation.file, registries, openOptions(invocation, invocation.file));
  if (configHash(experiment.resolved) !== invocation.configHash) {
    throw new ConfigError(`${displayPath(invocation.file)} has changed since the run in ${runDirectory} started (its config hash differs); restore the file or start a new run`);
  }
  return { directory, invocation, experiment };
}

export const resumeCommand: Command = {
  name: 'resume',
  usage: [['resume <run-dir>', 'continue an interrupted run from its newest checkpoint']],
  options: {},
  async run(dirs, _values, { io, registries }) {
    if (dirs.length !== 1) throw new ConfigError('resume takes exactly one run directory');
    const { directory, experiment } = await reopenRun(dirs[0]!, registries);
    const summaryFile = join(directory, 'summary.json');
    if (existsSync(summaryFile) && (JSON.parse(readFileSync(summaryFile, 'utf8')) as { status: string }).status === 'completed') {
      throw new ConfigError(`${dirs[0]}: the run has already completed`);
    }
    return withInterruption(io.out, async (signal) =>
      exitCodeOf(await runExperiment(experiment, registries, { ...hostRunOptions(), resume: directory, argv: [], sinks: createRunSinks(experiment, io.out, { interactive: interactive() }), signal })),
    );
  },
};
