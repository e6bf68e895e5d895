import { ConfigError, formatPath, parsePath, type Diagnostic, type PathSegment } from '@dlexp/core';
import type { LoadedExperiment, LoadOptions } from '@dlexp/config';
import { configHash, loadExperiment, type Registries } from '@dlexp/train';
import { parseSweepConfig, type ResolvedSweepConfig } from './config';
import { categoryIndex, gridPoint, gridSize, type Parameter, type ParameterValues } from './parameters';
import { canonicalJson, type PlainValue } from './plain';
import { createSamplerRegistry, type SamplerRegistry } from './samplers';
import type { TrialDraft } from './sweep-state';
import type { TrialBudget } from './trials';

/** How the sweep's experiment is loaded (its --set, --quick, --seed, ...), without a trial's values. */
export type SweepLoadOptions = Omit<LoadOptions, 'checks' | 'trial'>;

export interface ExperimentSweep {
  config: ResolvedSweepConfig;
  /** Warnings at their YAML line and column (a sweep that ranks on a test metric). */
  warnings: Diagnostic[];
  /** The config hash of the experiment without its `sweep:` block: part of the sweep's identity. */
  experimentHash: string;
}

/** The label loadExperiment gives a trial's overrides in diagnostics. */
const TRIAL_LABEL = 'sweep';

/** A grid of at most this many combinations is validated whole; larger spaces by their corners. */
const WHOLE_GRID = 256;

function loadOptions(load: SweepLoadOptions & { plugins?: unknown; workspace?: unknown }): SweepLoadOptions {
  const { plugins: _plugins, workspace: _workspace, ...rest } = load;
  return rest;
}

/** The experiment's config hash with its `sweep:` block left out. */
export function experimentHashOf(experiment: LoadedExperiment): string {
  const { sweep: _sweep, ...rest } = experiment.resolved;
  return configHash(rest);
}

/** A configuration to validate, and where each of its values is written in the sweep block. */
interface Probe {
  values: ParameterValues;
  writtenAt: Map<string, PathSegment[]>;
}

function candidates(parameter: Parameter): { value: PlainValue; at: PathSegment[] }[] {
  if (parameter.kind === 'categorical') return parameter.values.map((value, i) => ({ value, at: ['values', i] }));
  return [
    { value: parameter.min, at: ['min'] },
    { value: parameter.max, at: ['max'] },
  ];
}

/**
 * The configurations whose trials are loaded and validated before a sweep starts: every
 * combination of a small grid; otherwise each value (each end of each range) of one parameter
 * with the others at their first value, which reaches every value the sweep can write.
 */
function probes(config: ResolvedSweepConfig): Probe[] {
  const { space } = config;
  const parameters = space.parameters;
  const size = gridSize(space);
  if (size <= WHOLE_GRID) {
    return Array.from({ length: size }, (_, i) => {
      const values = gridPoint(space, i);
      const writtenAt = new Map(parameters.map((p) => [p.name, ['values', categoryIndex(p as Extract<Parameter, { kind: 'categorical' }>, values[p.name])] as PathSegment[]]));
      return { values, writtenAt };
    });
  }
  const first = new Map(parameters.map((p) => [p.name, candidates(p)[0]!]));
  const out: Probe[] = [];
  const seen = new Set<string>();
  for (const parameter of parameters) {
    for (const candidate of candidates(parameter)) {
      const values: ParameterValues = {};
      const writtenAt = new Map<string, PathSegment[]>();
      for (const p of parameters) {
        const chosen = p.name === parameter.name ? candidate : first.get(p.name)!;
        values[p.name] = chosen.value;
        writtenAt.set(p.name, chosen.at);
      }
      const key = canonicalJson(values);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ values, writtenAt });
    }
  }
  return out;
}

function overridesOf(config: ResolvedSweepConfig, values: ParameterValues): Record<string, PlainValue> {
  const out: Record<string, PlainValue> = {};
  for (const parameter of config.space.parameters) for (const path of parameter.paths) out[path] = values[parameter.name]!;
  return out;
}

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

/**
 * A problem with a trial's experiment, moved to where the sweep block writes its cause: into the
 * value the trial took (a bad value), or onto the parameter's key or path (a path through a key
 * the experiment does not have, reported with its "did you mean").
 */
function placeProblem(base: LoadedExperiment, config: ResolvedSweepConfig, problem: Diagnostic, probe: Probe): Diagnostic {
  if (problem.file !== TRIAL_LABEL) return problem;
  for (const parameter of config.space.parameters) {
    const here: PathSegment[] = ['sweep', 'parameters', parameter.name];
    for (const [i, path] of parameter.paths.entries()) {
      let written: string;
      try {
        written = formatPath(base.source.resolvePath(parsePath(path)));
      } catch {
        written = path;
      }
      const message = problem.path === '' ? problem.message : `${problem.path}: ${problem.message}`;
      if (under(problem.path, written)) return base.source.diagnostic([...here, ...(probe.writtenAt.get(parameter.name) ?? [])], message);
      if (problem.path === '' || under(written, problem.path)) {
        const listed = parameter.paths.length > 1 || parameter.paths[0] !== parameter.name;
        return listed ? base.source.diagnostic([...here, 'paths', i], message) : base.source.diagnostic(here, message, { atKey: true });
      }
    }
  }
  return base.source.diagnostic(['sweep', 'parameters'], problem.path === '' ? problem.message : `${problem.path}: ${problem.message}`);
}

/**
 * Reads and checks an experiment's `sweep:` block against the experiment: every problem of the
 * block at its YAML line and column, and the trials it can propose loaded and validated as
 * experiments of their own (a whole small grid, otherwise every value and each end of every
 * range), each problem placed in the block where the value or path that causes it is written.
 * Throws one ConfigError with all of them; returns the resolved block and its warnings.
 */
export function checkExperimentSweep(base: LoadedExperiment, registries: Registries, options: { file: string; load: SweepLoadOptions; samplers?: SamplerRegistry }): ExperimentSweep {
  const written = base.resolved.sweep;
  if (written === undefined) throw new ConfigError([base.source.diagnostic([], 'the experiment has no sweep: block')]);
  const { config, problems } = parseSweepConfig(written, { samplers: options.samplers ?? createSamplerRegistry() });
  const place = (path: PathSegment[], message: string, atKey?: boolean) => base.source.diagnostic(path, message, atKey === true ? { atKey } : {});
  const errors = problems.filter((p) => p.severity === 'error').map((p) => place(p.path, p.message, p.atKey));
  const warnings = problems.filter((p) => p.severity === 'warning').map((p) => place(p.path, `warning: ${p.message}`, p.atKey));
  if (written.earlyTermination !== undefined && base.resolved.train.epochs === undefined) {
    errors.push(place(['sweep', 'earlyTermination'], 'early termination compares trials at epoch ends, so it needs a budget in epochs (train.epochs)'));
  }
  if (config === undefined || errors.length > 0) throw new ConfigError(errors);

  const load = loadOptions(options.load);
  for (const probe of probes(config)) {
    try {
      loadExperiment(options.file, registries, { ...load, trial: overridesOf(config, probe.values) });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.diagnostics) {
        const placed = placeProblem(base, config, problem, probe);
        if (!errors.some((e) => e.message === placed.message && e.line === placed.line && e.col === placed.col && e.file === placed.file)) errors.push(placed);
      }
    }
  }
  if (errors.length > 0) throw new ConfigError(errors);
  return { config, warnings, experimentHash: experimentHashOf(base) };
}

/** A trial's overrides: its values by path and its seed. */
function trialValues(draft: Pick<TrialDraft, 'parameters' | 'seed'>): Record<string, PlainValue> {
  return { ...draft.parameters, seed: draft.seed };
}

/**
 * Builds each trial's resolved experiment from the file, with the trial's values and seed applied
 * as overrides (list items by name, as --set), and its config hash and budget. A configuration the
 * checks could not reach that turns out invalid is handed on unresolved: its trial fails with the
 * error, and the sweep goes on.
 */
export function createTrialResolver(
  base: LoadedExperiment,
  registries: Registries,
  options: { file: string; load: SweepLoadOptions },
): (draft: TrialDraft) => { experiment: PlainValue; configHash?: string; budget?: TrialBudget } {
  const load = loadOptions(options.load);
  return (draft) => {
    try {
      const trial = loadExperiment(options.file, registries, { ...load, trial: trialValues(draft) });
      const train = trial.resolved.train;
      const budget: TrialBudget = train.epochs !== undefined ? { epochs: train.epochs } : train.steps !== undefined ? { steps: train.steps } : {};
      return { experiment: trial.resolved as unknown as PlainValue, configHash: configHash(trial.resolved), budget };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const { sweep: _sweep, ...rest } = base.resolved;
      return { experiment: { ...(rest as unknown as Record<string, PlainValue>), seed: draft.seed } };
    }
  };
}

/**
 * The experiment with a configuration's values written in and its `sweep:` block removed, as YAML
 * with the file's comments: ready to paste as an experiment of its own. --quick is left out (the
 * full budget is the point), the other options of the sweep apply.
 */
export function configurationYaml(registries: Registries, options: { file: string; load: SweepLoadOptions }, parameters: Record<string, PlainValue>): string {
  const trial = loadExperiment(options.file, registries, { ...loadOptions(options.load), quick: false, trial: parameters });
  // As written: flow collections without inner padding, long lines left unfolded.
  return trial.source.document.toString({ flowCollectionPadding: false, lineWidth: 0 });
}
