import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { ConfigError, RunError, formatDiagnostic, type Diagnostic, type ParamSpec } from '@dlexp/core';
import { SCHEMA_FILE, schemaFor, type LoadedExperiment } from '@dlexp/config';
import { inspectTFRecord, writeSplitToTFRecord, type DataSplit } from '@dlexp/data';
import {
  catalogOf,
  configHash,
  createRegistries,
  evaluateRun,
  listedRegistries,
  loadData,
  loadPlugins,
  metricsTable,
  openExperiment,
  runExperiment,
  writeFileAtomic,
  type Invocation,
  type OpenOptions,
  type Registries,
  type RunOutcome,
} from '@dlexp/train';
import { parseCommandLine, USAGE, type ParsedArgs } from './cli-args';
import { createConsoleSink } from './console-sink';
import { createSweepMethodRegistry, loadSweepTrials, runSweep } from './sweep';
import { collectVersions } from './versions';
import { probeWebgpuAdapter } from './webgpu-probe';

export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 70, interrupted: 130 } as const;

/** The repository root (where the committed schema lives). */
export const REPOSITORY_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/**
 * The folder the user ran the command from. npm and npx (and so Nx through npx) set INIT_CWD to
 * it, while the process itself may run from the workspace root.
 */
export function invocationDirectory(): string {
  return process.env['INIT_CWD'] ?? process.cwd();
}

interface Io {
  out(line: string): void;
  err(line: string): void;
}

const defaultIo: Io = { out: (line) => console.log(line), err: (line) => console.error(line) };

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

/** The registries the CLI composes: the engine's and the sweep methods. */
export function createRunnerRegistries(): Registries {
  return createRegistries({ sweeps: createSweepMethodRegistry() });
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const args = parseCommandLine(argv);
  const [command, ...rest] = args.positionals;
  if (args.help || command === 'help' || command === undefined) {
    io.out(USAGE);
    return command === undefined && !args.help ? EXIT.usage : EXIT.ok;
  }
  const registries = createRunnerRegistries();
  switch (command) {
    case 'validate':
      return validateCommand(rest, args, registries, io);
    case 'list':
      return listCommand(rest, args, registries, io);
    case 'schema':
      return schemaCommand(args, registries, io);
    case 'run':
      return runCommand(rest, args, argv, registries, io);
    case 'resume':
      return resumeCommand(rest, registries, io);
    case 'evaluate':
      return evaluateCommand(rest, args, registries, io);
    case 'data':
      return dataCommand(rest, args, registries, io);
    default:
      if (command.endsWith('.yaml') || command.endsWith('.yml') || existsSync(resolve(invocationDirectory(), command))) {
        return runCommand([command, ...rest], args, argv, registries, io);
      }
      throw new ConfigError(`unknown command '${command}': expected an experiment file (.yaml) or one of run, validate, resume, evaluate, data, list, schema (see --help)`);
  }
}

function userPath(path: string): string {
  return isAbsolute(path) ? path : resolve(invocationDirectory(), path);
}

/** How a path is shown in messages: as the user typed it. */
function displayPath(path: string): string {
  return isAbsolute(path) ? relative(invocationDirectory(), path) || path : path;
}

/** What openExperiment takes from a command line or from a run's saved invocation. */
function openOptions(from: { set: string[]; quick: boolean; seed?: number; backend?: string; threads?: number; trial?: Record<string, unknown>; plugins?: string[] }, file: string): OpenOptions & { set: string[]; quick: boolean } {
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

function interactive(): boolean {
  return process.stdout.isTTY === true && process.env['CI'] === undefined;
}

/**
 * Turns Ctrl-C and SIGTERM into an abort: the run finishes its step, saves a checkpoint and ends
 * 'interrupted' (exit 130). A second signal stops at once; the last checkpoint remains.
 */
async function withInterruption<T>(print: (line: string) => void, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
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

function exitCodeOf(outcome: RunOutcome): number {
  if (outcome.status === 'interrupted') return EXIT.interrupted;
  return outcome.status === 'completed' && outcome.expectations.every((e) => e.met) ? EXIT.ok : EXIT.failed;
}

async function runCommand(files: string[], args: ParsedArgs, argv: string[], registries: Registries, io: Io): Promise<number> {
  if (files.length !== 1) throw new ConfigError(`run takes exactly one experiment file, got ${files.length}`);
  const file = files[0]!;
  const open = openOptions({ ...args, plugins: args.plugin }, file);
  const { displayName: _shown, workspace: _workspace, plugins, ...started } = open;
  const invocation = { file: userPath(file), ...started, ...(plugins !== undefined ? { plugins: plugins.map(userPath) } : {}) };
  const experiment = await openExperiment(userPath(file), registries, open);
  const out = args.out !== undefined ? { out: userPath(args.out) } : {};
  const common = { ...out, root: invocationDirectory(), argv: argv.filter((a) => a !== file), versions: collectVersions(), backendOptions: { probeWebgpuAdapter } };
  return withInterruption(io.out, async (signal) => {
    const sinks = [createConsoleSink(io.out, interactive())];
    if (experiment.resolved.sweep !== undefined) {
      return runSweep(experiment, registries, { ...common, file: userPath(file), load: open, invocation, print: io.out, sinks, signal });
    }
    return exitCodeOf(await runExperiment(experiment, registries, { ...common, invocation, sinks, signal }));
  });
}

/** Rebuilds the experiment a run was started with, refusing if the file has changed since. */
async function reopenRun(runDirectory: string, registries: Registries): Promise<{ directory: string; invocation: Invocation; experiment: LoadedExperiment }> {
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

async function resumeCommand(dirs: string[], registries: Registries, io: Io): Promise<number> {
  if (dirs.length !== 1) throw new ConfigError('resume takes exactly one run directory');
  const { directory, experiment } = await reopenRun(dirs[0]!, registries);
  const summaryFile = join(directory, 'summary.json');
  if (existsSync(summaryFile) && (JSON.parse(readFileSync(summaryFile, 'utf8')) as { status: string }).status === 'completed') {
    throw new ConfigError(`${dirs[0]}: the run has already completed`);
  }
  return withInterruption(io.out, async (signal) =>
    exitCodeOf(
      await runExperiment(experiment, registries, {
        resume: directory,
        root: invocationDirectory(),
        argv: [],
        sinks: [createConsoleSink(io.out, interactive())],
        signal,
        versions: collectVersions(),
        backendOptions: { probeWebgpuAdapter },
      }),
    ),
  );
}

async function evaluateCommand(dirs: string[], args: ParsedArgs, registries: Registries, io: Io): Promise<number> {
  if (dirs.length !== 1) throw new ConfigError('evaluate takes exactly one run directory');
  const { directory, experiment } = await reopenRun(dirs[0]!, registries);
  const metrics = await evaluateRun(experiment, registries, directory, {
    split: args.split ?? 'test',
    ...(args.checkpoint !== undefined ? { checkpoint: args.checkpoint } : {}),
    log: io.out,
    backendOptions: { probeWebgpuAdapter },
  });
  io.out(metricsTable(metrics));
  return EXIT.ok;
}

async function validateCommand(files: string[], args: ParsedArgs, registries: Registries, io: Io): Promise<number> {
  if (files.length === 0) throw new ConfigError('validate needs at least one experiment file');
  const problems: Diagnostic[] = [];
  for (const file of files) {
    const found: Diagnostic[] = [];
    // The quick variant is checked too: CI runs every experiment with --quick.
    for (const quick of args.quick ? [true] : [false, true]) {
      try {
        const open = openOptions({ ...args, quick, plugins: args.plugin }, file);
        const experiment = await openExperiment(userPath(file), registries, open);
        // Each trial of a sweep is an experiment of its own: validate them all.
        if (experiment.resolved.sweep !== undefined) loadSweepTrials(experiment, registries, userPath(file), open);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const d of error.diagnostics) {
          if (!found.some((f) => formatDiagnostic(f) === formatDiagnostic(d))) found.push(d);
        }
      }
    }
    if (found.length === 0) io.out(`${displayPath(file)}: ok`);
    problems.push(...found);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return EXIT.ok;
}

function describeParam(name: string, spec: ParamSpec<unknown>): string {
  const schema = spec.schema;
  const type = spec.union !== undefined ? `a ${spec.union}` : schema['enum'] !== undefined ? (schema['enum'] as string[]).join(' | ') : String(schema['type'] ?? 'value');
  const bounds = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum']
    .filter((k) => schema[k] !== undefined)
    .map((k) => `${{ minimum: '≥', exclusiveMinimum: '>', maximum: '≤', exclusiveMaximum: '<' }[k]} ${String(schema[k])}`)
    .join(', ');
  const fallback = spec.required === true ? 'required' : spec.default !== undefined ? `default ${JSON.stringify(spec.default)}` : 'optional';
  return `    ${name} (${type}${bounds ? `, ${bounds}` : ''}; ${fallback}): ${String(schema['description'] ?? '')}`;
}

async function loadCommandLinePlugins(args: ParsedArgs, registries: Registries): Promise<void> {
  if (args.plugin.length === 0) return;
  await loadPlugins(args.plugin.map((written) => ({ file: userPath(written), written, at: { file: '--plugin', line: 1, col: 1, path: '' } })), registries);
}

async function listCommand(kinds: string[], args: ParsedArgs, registries: Registries, io: Io): Promise<number> {
  await loadCommandLinePlugins(args, registries);
  const all = listedRegistries(registries);
  const wanted = kinds.length === 0 ? all : kinds.map((k) => {
    const registry = all.find((r) => r.plural === k || r.kind === k);
    if (registry === undefined) throw new ConfigError(`unknown kind '${k}' (known: ${all.map((r) => r.plural).join(', ')})`);
    return registry;
  });
  for (const registry of wanted) {
    io.out(`${registry.plural}:`);
    for (const entry of registry.list()) {
      io.out(`  ${entry.name}: ${entry.description}`);
      for (const [name, spec] of Object.entries(entry.params as Record<string, ParamSpec<unknown>>)) io.out(describeParam(name, spec));
    }
    io.out('');
  }
  return EXIT.ok;
}

async function schemaCommand(args: ParsedArgs, registries: Registries, io: Io): Promise<number> {
  await loadCommandLinePlugins(args, registries);
  const text = `${JSON.stringify(schemaFor(catalogOf(registries)), null, 2)}\n`;
  // With plugins the schema is the user's own: written to --out (default: beside the command).
  const file = args.out !== undefined ? userPath(args.out) : join(REPOSITORY_ROOT, SCHEMA_FILE);
  if (args.plugin.length > 0 && args.write && args.out === undefined) throw new ConfigError('schema --write with --plugin needs --out FILE (the committed schema has no plugins)');
  if (args.write) {
    writeFileAtomic(file, text);
    io.out(`wrote ${args.out ?? SCHEMA_FILE}`);
  } else if (args.check) {
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (committed !== text) {
      io.err(`${SCHEMA_FILE} is out of date with the registries; run: npx runner schema --write`);
      return EXIT.failed;
    }
    io.out(`${SCHEMA_FILE} is up to date`);
  } else io.out(text.trimEnd());
  return EXIT.ok;
}

async function dataCommand(rest: string[], args: ParsedArgs, registries: Registries, io: Io): Promise<number> {
  const [action, ...files] = rest;
  if (action === 'export') {
    if (files.length !== 1 || args.out === undefined) throw new ConfigError('usage: runner data export <experiment.yaml> --split NAME --out FILE.tfrecord');
    const file = files[0]!;
    const experiment = await openExperiment(userPath(file), registries, openOptions({ ...args, plugins: args.plugin }, file));
    const dataset = await loadData(experiment, registries);
    const splitName = args.split ?? 'train';
    const split = (dataset.splits as Partial<Record<string, DataSplit>>)[splitName];
    if (split === undefined) throw new ConfigError(`the dataset has no '${splitName}' split (it has: ${Object.keys(dataset.splits).join(', ')})`);
    const records = await writeSplitToTFRecord(split, userPath(args.out));
    io.out(`wrote ${records} records of the ${splitName} split to ${args.out}`);
    return EXIT.ok;
  }
  if (action === 'inspect') {
    if (files.length !== 1) throw new ConfigError('usage: runner data inspect FILE.tfrecord');
    const report = await inspectTFRecord(userPath(files[0]!));
    io.out(`records: ${report.records}`);
    const table = new Table({ head: ['feature', 'type', 'length'], style: { head: [], border: [] } });
    for (const f of report.features) table.push([f.key, f.kind, f.lengths.min === f.lengths.max ? String(f.lengths.min) : `${f.lengths.min}–${f.lengths.max}`]);
    io.out(table.toString());
    return EXIT.ok;
  }
  throw new ConfigError(`unknown data command '${action ?? ''}': expected export or inspect`);
}
