import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, closestMatch } from '@dlexp/core';

/** Options every command understands, with their help text (one place for parsing and --help). */
export const OPTIONS = {
  backend: { type: 'string', arg: 'NAME', help: 'backend to use: auto (default), or one of `runner list backends`' },
  threads: { type: 'string', arg: 'N', help: 'threads for CPU backends (overrides threads:)' },
  seed: { type: 'string', arg: 'N', help: 'seed for every source of randomness (overrides seed:)' },
  set: { type: 'string', multiple: true, arg: 'PATH=VALUE', help: 'override a value before validation (repeatable); VALUE is YAML' },
  out: { type: 'string', arg: 'DIR', help: 'write the run exactly to DIR (default runs/<name>/<run-id>/)' },
  quick: { type: 'boolean', help: "apply the experiment's quick: block and check quick.expect" },
  split: { type: 'string', arg: 'NAME', help: 'split to use (evaluate, data export)' },
  checkpoint: { type: 'string', arg: 'best|last', help: '(evaluate) the saved model at the end (last, default) or the keepBest checkpoint' },
  plugin: { type: 'string', multiple: true, arg: 'FILE', help: 'load a module that registers layers, losses, metrics, datasets or optimizers (repeatable)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  check: { type: 'boolean', help: '(schema) fail if the committed schema differs from the generated one' },
  write: { type: 'boolean', help: '(schema) write the generated schema file' },
} as const;

export interface ParsedArgs {
  positionals: string[];
  backend?: string;
  threads?: number;
  seed?: number;
  set: string[];
  plugin: string[];
  checkpoint?: 'best' | 'last';
  out?: string;
  quick: boolean;
  split?: string;
  help: boolean;
  check: boolean;
  write: boolean;
}

/** Parses the command line; unknown options and bad values are usage errors (exit 2). */
export function parseCommandLine(argv: string[]): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(OPTIONS).map(([name, o]) => [name, { type: o.type, ...('multiple' in o ? { multiple: true } : {}), ...('short' in o ? { short: o.short } : {}) }]),
  ) as NonNullable<ParseArgsConfig['options']>;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message);
    if (unknown !== null) {
      const suggestion = closestMatch(unknown[1]!.replace(/^-+/, ''), Object.keys(OPTIONS));
      throw new ConfigError(`unknown option ${unknown[1]}${suggestion !== undefined ? `; did you mean --${suggestion}?` : ''} (see --help)`);
    }
    throw new ConfigError(message.split('\n')[0]!);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  let seed: number | undefined;
  if (values['seed'] !== undefined) {
    seed = Number(values['seed']);
    if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) throw new ConfigError(`--seed must be an integer from 0 to 4294967295, got '${String(values['seed'])}'`);
  }
  let threads: number | undefined;
  if (values['threads'] !== undefined) {
    threads = Number(values['threads']);
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new ConfigError(`--threads must be an integer from 1 to 256, got '${String(values['threads'])}'`);
  }
  const checkpoint = values['checkpoint'];
  if (checkpoint !== undefined && checkpoint !== 'best' && checkpoint !== 'last') throw new ConfigError(`--checkpoint must be best or last, got '${String(checkpoint)}'`);
  const result: ParsedArgs = {
    positionals: parsed.positionals,
    set: (values['set'] as string[] | undefined) ?? [],
    plugin: (values['plugin'] as string[] | undefined) ?? [],
    quick: values['quick'] === true,
    help: values['help'] === true,
    check: values['check'] === true,
    write: values['write'] === true,
  };
  if (values['backend'] !== undefined) result.backend = values['backend'] as string;
  if (seed !== undefined) result.seed = seed;
  if (threads !== undefined) result.threads = threads;
  if (checkpoint !== undefined) result.checkpoint = checkpoint as 'best' | 'last';
  if (values['out'] !== undefined) result.out = values['out'] as string;
  if (values['split'] !== undefined) result.split = values['split'] as string;
  return result;
}

export const USAGE = `Usage: runner <command> [options]

Commands:
  runner <experiment.yaml> [options]        run an experiment (same as: runner run <file>)
  runner run <experiment.yaml> [options]    run an experiment
  runner validate <file.yaml>...            check experiments without running them (also their --quick variant)
  runner resume <run-dir>                   continue an interrupted run from its newest checkpoint
  runner evaluate <run-dir> [--split test] [--checkpoint best|last]
                                            restore a run's saved model and measure it on a split
  runner data export <file.yaml> --split NAME --out FILE.tfrecord   write a dataset split as TFRecord
  runner data inspect FILE.tfrecord         count the records and list the features
  runner list [kind]                        show the registries: datasets, models, layers, activations, losses,
                                            metrics, initializers, regularizers, optimizers, schedules, ops,
                                            backends, sweeps
  runner schema [--check | --write]         print, check or write the experiment JSON Schema

Options:
${Object.entries(OPTIONS)
  .map(([name, o]) => `  ${`--${name}${'arg' in o ? ` ${o.arg}` : ''}`.padEnd(22)}${o.help}`)
  .join('\n')}

Exit codes: 0 success; 1 the run failed or an expectation was not met; 2 invalid config, usage or
input data; 70 an internal error (a bug); 130 interrupted (Ctrl-C or SIGTERM; resume it).

Through Nx: npx nx run runner -- <arguments>`;
