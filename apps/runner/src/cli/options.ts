import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, closestMatch } from '@dlexp/core';

/** One command-line option: how it parses and how --help shows it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** The argument's name in --help (`--out DIR`). */
  arg?: string;
  help: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** Options every command understands. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

/** Options of the commands that load an experiment (run, validate, data export). */
export const EXPERIMENT_OPTIONS: Record<string, OptionSpec> = {
  backend: { type: 'string', arg: 'NAME', help: 'backend to use: auto (default), or one of `runner list backends`' },
  threads: { type: 'string', arg: 'N', help: 'threads for CPU backends (overrides threads:)' },
  seed: { type: 'string', arg: 'N', help: 'seed for every source of randomness (overrides seed:)' },
  set: { type: 'string', multiple: true, arg: 'PATH=VALUE', help: 'override a value before validation (repeatable); VALUE is YAML' },
  quick: { type: 'boolean', help: "apply the experiment's quick: block and check quick.expect" },
  plugin: { type: 'string', multiple: true, arg: 'FILE', help: 'load a module that registers layers, losses, metrics, datasets or optimizers (repeatable)' },
};

/**
 * Parses argv against the union of every command's options (so the command can be found among
 * the positionals), then refuses options the chosen command does not take. Unknown options and
 * bad values are usage errors (exit 2), with "did you mean".
 */
export function parseOptions(argv: string[], known: Record<string, OptionSpec>): { positionals: string[]; values: OptionValues } {
  const options = Object.fromEntries(
    Object.entries(known).map(([name, o]) => [name, { type: o.type, ...(o.multiple === true ? { multiple: true } : {}), ...(o.short !== undefined ? { short: o.short } : {}) }]),
  ) as NonNullable<ParseArgsConfig['options']>;
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { positionals: parsed.positionals, values: parsed.values as OptionValues };
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message);
    if (unknown !== null) {
      const suggestion = closestMatch(unknown[1]!.replace(/^-+/, ''), Object.keys(known));
      throw new ConfigError(`unknown option ${unknown[1]}${suggestion !== undefined ? `; did you mean --${suggestion}?` : ''} (see --help)`);
    }
    throw new ConfigError(message.split('\n')[0]!);
  }
}

/** Refuses options given on the command line that `command` does not take. */
export function checkOptionsOf(command: string, values: OptionValues, allowed: Record<string, OptionSpec>): void {
  const foreign = Object.keys(values).filter((name) => values[name] !== undefined && !(name in allowed));
  if (foreign.length > 0) throw new ConfigError(`${foreign.map((f) => `--${f}`).join(', ')} ${foreign.length === 1 ? 'is not an option' : 'are not options'} of '${command}' (see runner ${command} --help)`);
}

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function listOption(values: OptionValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value : [];
}

export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** An integer option within bounds, or undefined when not given. */
export function integerOption(values: OptionValues, name: string, min: number, max: number): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
  return value;
}

/** One of a few words, or undefined when not given. */
export function choiceOption<T extends string>(values: OptionValues, name: string, choices: readonly T[]): T | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  if (!(choices as readonly string[]).includes(text)) throw new ConfigError(`--${name} must be ${choices.join(' or ')}, got '${text}'`);
  return text as T;
}

/** `--name ARG   help`, aligned, for --help. */
export function describeOptions(options: Record<string, OptionSpec>): string[] {
  return Object.entries(options).map(([name, o]) => `  ${`--${name}${o.arg !== undefined ? ` ${o.arg}` : ''}`.padEnd(24)}${o.help}`);
}
