import { param, type JsonSchema } from '@dlexp/core';

/** One trial's parameter values, by path (the same paths as --set). */
export type TrialParameters = Record<string, unknown>;

/** A parameter of the `sweep:` block as written: listed values, or a range; keyed by path, or by a name with `paths`. */
export interface SweepParameterConfig {
  values?: unknown[];
  min?: number;
  max?: number;
  scale?: 'linear' | 'log';
  integer?: boolean;
  /** Several paths set to the same value; the parameter's key is then only its name. */
  paths?: string[];
}

/** The --set style overrides of a trial: each parameter's value at its path (or paths). */
export function trialOverrides(trial: TrialParameters, parameters: Record<string, SweepParameterConfig>): TrialParameters {
  const out: TrialParameters = {};
  for (const [name, value] of Object.entries(trial)) {
    for (const path of parameters[name]?.paths ?? [name]) out[path] = value;
  }
  return out;
}

/**
 * The `sweep:` block as written. The sweep library reads it (its own parser checks what the
 * schema cannot say, and fills the defaults); this library only keeps it with the experiment.
 */
export interface SweepConfig {
  method?: string | { type: string; [key: string]: unknown };
  parameters: Record<string, SweepParameterConfig>;
  metric: string;
  goal?: 'minimize' | 'maximize';
  maxTrials?: number;
  seed?: number;
  parallel?: number;
  earlyTermination?: { type: 'median' | 'asha'; minEpochs?: number; reductionFactor?: number; minTrials?: number };
  repeats?: number;
}

/**
 * The `sweep:` key of an experiment. Its schema is the sweep library's (handed in through the
 * ConfigCatalog, so the block is defined in one place); this library only places it.
 */
export const sweepParam = (schema: JsonSchema) =>
  param.custom<SweepConfig>(schema, {
    description: typeof schema['description'] === 'string' ? schema['description'] : 'A sweep: the experiment run once per configuration of parameter values (under <out>/trials/).',
  });
