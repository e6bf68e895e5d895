import { isAbsolute, relative, resolve } from 'node:path';
import { EXIT, type Io } from '@dlexp/host';
import type { OpenOptions, Registries, RunOutcome } from '@dlexp/train';
import { integerOption, listOption, flag, stringOption, type OptionSpec, type OptionValues } from './options';

// The host library owns the exit codes and the printing interface its commands share with these.
export { EXIT, type Io };

export interface CommandContext {
  io: Io;
  registries: Registries;
  /** The whole command line, as given. */
  argv: string[];
}

/** One command of the CLI: its name, its help and options, and what it does. */
export interface Command {
  name: string;
  /** Usage for --help: [synopsis after `runner `, what it does] per form of the command. */
  usage: [string, string][];
  /** Options this command takes besides --help. */
  options: Record<string, OptionSpec>;
  run(positionals: string[], values: OptionValues, context: CommandContext): Promise<number>;
}

/**
 * The folder the user ran the command from. npm and npx (and so Nx through npx) set INIT_CWD to
 * it, while the process itself may run from the workspace root.
 */
export function invocationDirectory(): string {
  return process.env['INIT_CWD'] ?? process.cwd();
}

/** A path from the command line, against the folder the user ran the command from. */
export function userPath(path: string): string {
  return isAbsolute(path) ? path : resolve(invocationDirectory(), path);
}

/** How a path is shown in messages: as the user typed it. */
export function displayPath(path: string): string {
  return isAbsolute(path) ? relative(invocationDirectory(), path) || path : path;
}

/** The experiment options of a command line, as recorded in invocation.json and replayed by resume. */
export interface ExperimentArguments {
  set: string[];
  quick: boolean;
  seed?: number;
  backend?: string;
  threads?: number;
  plugins?: string[];
  trial?: Record<string, unknown>;
}

export function experimentArguments(values: OptionValues): ExperimentArguments {
  const seed = integerOption(values, 'seed', 0, 4294967295);
  const threads = integerOption(values, 'threads', 1, 256);
  const backend = stringOption(values, 'backend');
  const plugins = listOption(values, 'plugin').map(userPath);
  return {
    set: listOption(values, 'set'),
    quick: flag(values, 'quick'),
    ...(seed !== undefined ? { seed } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(plugins.length > 0 ? { plugins } : {}),
  };
}

/** What openExperiment takes from a command line or from a run's saved invocation. */
export function openOptions(from: ExperimentArguments, file: string): OpenOptions & { set: string[]; quick: boolean } {
  return {
    set: from.set,
    quick: from.quick,
    ...(from.seed !== undefined ? { seed: from.seed } : {}),
    ...(from.backend !== undefined ? { backend: from.backend } : {}),
    ...(from.threads !== undefined ? { threads: from.threads } : {}),
    ...(from.trial !== undefined ? { trial: from.trial } : {}),
    ...(from.plugins !== undefined && from.plugins.length > 0 ? { plugins: from.plugins } : {}),
    workspace: invocationDirectory(),
    displayName: displayPath(file),
  };
}

/** A progress bar only on a terminal outside CI. */
export function interactive(): boolean {
  return process.stdout.isTTY === true && process.env['CI'] === undefined;
}

/**
 * Turns Ctrl-C and SIGTERM into an abort: the run finishes its step, saves a checkpoint and ends
 * 'interrupted' (exit 130). A second signal stops at once; the last checkpoint remains.
 */
export async function withInterruption<T>(print: (line: string) => void, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      print(`${signal} again: stopping at once; resume from the last saved checkpoint`);
      process.exit(EXIT.interrupted);
    }
    print(`${signal}: finishing the current step, then saving a checkpoint (press Ctrl-C again to stop at once)`);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function exitCodeOf(outcome: Pick<RunOutcome, 'status' | 'expectations'>): number {
  if (outcome.status === 'interrupted') return EXIT.interrupted;
  return outcome.status === 'completed' && outcome.expectations.every((e) => e.met) ? EXIT.ok : EXIT.failed;
}
