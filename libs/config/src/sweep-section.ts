import { param } from '@dlexp/core';

/** One trial's parameter values, by path (the same paths as --set). */
export type TrialParameters = Record<string, unknown>;

export interface SweepParameterConfig {
  values: unknown[];
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

/** The `sweep:` block of an experiment. */
export interface SweepConfig {
  method: string;
  parameters: Record<string, SweepParameterConfig>;
  metric: string;
  goal: 'minimize' | 'maximize';
}

export const sweepParam = (methods: string[]) =>
  param.custom<SweepConfig>(
    {
      type: 'object',
      additionalProperties: false,
      required: ['parameters', 'metric'],
      properties: {
        method: { type: 'string', enum: methods, default: 'grid', description: 'How trials are chosen: grid runs every combination.' },
        parameters: {
          type: 'object',
          minProperties: 1,
          description:
            'Values to try, keyed by path (as --set): {model.loss.type: {values: [meanSquaredError, softmaxCrossEntropy]}}; or keyed by a name with the paths it sets together: {dropout: {paths: [model.layers.1.rate, model.layers.3.rate], values: [0, 0.3]}}.',
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['values'],
            properties: {
              values: { type: 'array', minItems: 1, description: 'The values this parameter takes.' },
              paths: { type: 'array', minItems: 1, items: { type: 'string' }, description: 'Paths that all take this parameter\'s value (the key is then just a name).' },
            },
          },
        },
        metric: { type: 'string', description: 'The final metric that ranks the trials, e.g. test.accuracy.' },
        goal: { type: 'string', enum: ['minimize', 'maximize'], default: 'maximize', description: 'Whether the best trial has the largest or the smallest metric.' },
      },
    },
    { description: 'Run the experiment once per combination of parameter values and compare the trials (under <out>/trials/).' },
  );
