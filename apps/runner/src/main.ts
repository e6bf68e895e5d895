import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { ConfigError, RunError, formatDiagnostic } from '@dlexp/core';
import { createRegistries, type Registries } from '@dlexp/train';
import { EXIT, userPath, type Command, type Io } from './cli/context';
import { checkOptionsOf, describeOptions, flag, GLOBAL_OPTIONS, parseOptions, type OptionSpec } from './cli/options';
import { COMMANDS } from './commands';
import { createSweepMethodRegistry } from './sweep';

export { EXIT };

const defaultIo: Io = { out: (line) => console.log(line), err: (line) => console.error(line) };

/** The registries the CLI composes: the engine's and the sweep methods. */
export function createRunnerRegistries(): Registries {
  return createRegistries({ sweeps: createSweepMethodRegistry() });
}

/** Runs the CLI and returns its exit code; only bin/runner.js turns that into the process's. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  // Production mode skips TF.js' per-op debug checks and its console banner on the cpu backend.
  tf.enableProdMode();
  try {
    return await dispatch(argv, io);
  } catch (error) {
    return reportError(error, io);
  }
}

export function reportError(error: unknown, io: Io): number {
  if (error instanceof ConfigError) {
    for (const d of error.diagnostics) io.err(d.file === '' ? (d.path === '' ? d.message : `${d.path}: ${d.message}`) : formatDiagnostic(d));
    const count = error.diagnostics.length;
    if (count > 1) io.err(`${count} problems`);
    return EXIT.usage;
  }
  if (error instanceof RunError) {
    io.err(`run failed: ${error.message}`);
    return EXIT.failed;
  }
  const detail = error instanceof Error ? error.message : String(error);
  io.err(`internal error (a bug in the runner, not in your experiment): ${detail}`);
  if (process.env['DLEXP_DEBUG'] !== undefined && error instanceof Error && error.stack !== undefined) io.err(error.stack);
  else io.err('set DLEXP_DEBUG=1 to see the stack trace, and please report it');
  return EXIT.internal;
}

/** The command named first, or `run` when the first word is an experiment file. */
function findCommand(first: string | undefined): { command: Command; named: boolean } | undefined {
  if (first === undefined) return undefined;
  const named = COMMANDS.find((c) => c.name === first);
  if (named !== undefined) return { command: named, named: true };
  if (first.endsWith('.yaml') || first.endsWith('.yml') || existsSync(userPath(first))) return { command: COMMANDS.find((c) => c.name === 'run')!, named: false };
  throw new ConfigError(`unknown command '${first}': expected an experiment file (.yaml) or one of ${COMMANDS.map((c) => c.name).join(', ')} (see --help)`);
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const allOptions: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS };
  for (const command of COMMANDS) Object.assign(allOptions, command.options);
  const { positionals, values } = parseOptions(argv, allOptions);
  const found = findCommand(positionals[0]);
  if (found === undefined || flag(values, 'help') || positionals[0] === 'help') {
    io.out(usage(found?.named === true ? found.command : undefined));
    return found === undefined && !flag(values, 'help') && positionals[0] !== 'help' ? EXIT.usage : EXIT.ok;
  }
  const { command, named } = found;
  checkOptionsOf(command.name, values, { ...GLOBAL_OPTIONS, ...command.options });
  return command.run(named ? positionals.slice(1) : positionals, values, { io, registries: createRunnerRegistries(), argv });
}

/** `runner <synopsis>` with its summary beside it (or below it when the synopsis is long), wrapped at 100 columns. */
function formatCommandLine(synopsis: string, summary: string): string {
  const left = `  runner ${synopsis}`;
  const indent = 44;
  const words = summary.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && indent + line.length + 1 + word.length > 100) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  const pad = ' '.repeat(indent);
  const head = left.length < indent ? `${left.padEnd(indent)}${lines[0]}` : `${left}\n${pad}${lines[0]}`;
  return [head, ...lines.slice(1).map((l) => `${pad}${l}`)].join('\n');
}

export function usage(command?: Command): string {
  if (command !== undefined) {
    const forms = command.usage.map(([synopsis, summary], i) => `${i === 0 ? 'Usage: ' : '       '}runner ${synopsis}\n         ${summary}`);
    return [...forms, '', 'Options:', ...describeOptions({ ...command.options, ...GLOBAL_OPTIONS })].join('\n');
  }
  const experimentOptions: Record<string, OptionSpec> = {};
  for (const c of COMMANDS) for (const [name, spec] of Object.entries(c.options)) experimentOptions[name] ??= spec;
  return `Usage: runner <command> [options]

Commands:
${COMMANDS.flatMap((c) => c.usage.map(([synopsis, summary]) => formatCommandLine(synopsis, summary))).join('\n')}

Options (runner <command> --help shows those of one command):
${describeOptions({ ...experimentOptions, ...GLOBAL_OPTIONS }).join('\n')}

Exit codes: 0 success; 1 the run failed or an expectation was not met; 2 invalid config, usage or
input data; 70 an internal error (a bug); 130 interrupted (Ctrl-C or SIGTERM; resume it).

Paths on the command line are relative to the folder the command runs from.
Through Nx: npx nx run runner -- <arguments>`;
}
