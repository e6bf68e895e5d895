import { param, type JsonSchema, type ParamSchema, type ParamSpec } from '@dlexp/core';

/**
 * The fixed sections of an experiment (everything that is not a registry entry), written with the
 * same parameter specs as registry entries so they are documented and defaulted the same way.
 */

export interface ExpectationConfig {
  min?: number;
  max?: number;
}

export interface TrainConfig {
  optimizer: { type: string; [key: string]: unknown };
  steps?: number;
  epochs?: number;
  batchSize?: number;
  shuffle: boolean;
  logEvery?: number;
  clipGlobalNorm?: number;
  clipValue?: number;
  checkpointEvery?: number;
  keepCheckpoints: number;
  earlyStopping?: EarlyStoppingConfig;
  keepBest?: KeepBestConfig;
  nanCheckEvery?: number;
  stopWhen?: StopCondition[];
  multiTask?: MultiTaskConfig;
}

/** How a model with several heads is trained: all heads at every step, or one head (or a few) at a time. */
export interface MultiTaskConfig {
  mode: 'joint' | 'alternating';
  /** Alternating: the heads each step trains, cycled from step 0 (default: each head for one step, in order). */
  schedule?: { heads: string[]; steps?: number }[];
}

/** Ends training early (as completed) once a logged value crosses a bound: an optimizer escaping a saddle. */
export interface StopCondition {
  metric: string;
  above?: number;
  below?: number;
  /** Said in the log and recorded in summary.json, e.g. 'escaped the saddle'. */
  reason?: string;
}

/** The `tensorboard:` block (or false). */
export interface TensorBoardConfig {
  histogramsEvery?: 'epoch' | number;
  projector?: { layer: string; split?: 'train' | 'validation' | 'test'; samples?: number };
}

export interface KeepBestConfig {
  metric: string;
  goal: 'minimize' | 'maximize';
  /** Measure the final metrics and save the model from the best checkpoint instead of the last step. */
  restore: boolean;
}

export interface EarlyStoppingConfig {
  metric: string;
  goal?: 'minimize' | 'maximize';
  patience?: number;
  minDelta?: number;
}

const expectationSchema: JsonSchema = {
  type: 'object',
  description: 'Bounds the final value must meet; an unmet bound fails the run (exit 1).',
  properties: {
    min: { type: 'number', description: 'The value must be at least this.' },
    max: { type: 'number', description: 'The value must be at most this.' },
  },
  additionalProperties: false,
  minProperties: 1,
};

const metricKey = '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$';

export const expectParam: ParamSpec<Record<string, ExpectationConfig>> = param.custom(
  { type: 'object', propertyNames: { pattern: metricKey }, additionalProperties: { $ref: '#/$defs/expectation' } },
  { description: 'Assertions on final metrics, keyed by metric name (test.accuracy, train.loss, k): {min, max}.' },
);

export const trainParams: ParamSchema<TrainConfig> = {
  optimizer: param.union('optimizer', { description: 'How weights are updated, e.g. {type: sgd, learningRate: 0.2}.', required: true }),
  steps: param.integer({ description: 'Number of optimizer steps (give steps or epochs).', minimum: 1 }),
  epochs: param.integer({ description: 'Number of passes over the training split (give steps or epochs).', minimum: 1 }),
  batchSize: param.integer({ description: 'Examples per step; the whole training split when not given.', minimum: 1 }),
  shuffle: param.boolean({ description: 'Shuffle the training examples every epoch (seeded).', default: true }),
  logEvery: param.integer({ description: 'Log metrics every this many steps (default: at the end of every epoch, or every step for step-based runs of up to 100 steps, else 100 times per run).', minimum: 1 }),
  clipGlobalNorm: param.number({ description: 'Rescale gradients so their global L2 norm is at most this.', exclusiveMinimum: 0 }),
  clipValue: param.number({ description: 'Clip every gradient element into [-clipValue, clipValue].', exclusiveMinimum: 0 }),
  checkpointEvery: param.integer({ description: 'Save a checkpoint every this many steps, besides every epoch end (default: a tenth of the run).', minimum: 1 }),
  keepCheckpoints: param.integer({ description: 'How many of the newest checkpoints to keep.', default: 3, minimum: 1 }),
  nanCheckEvery: param.integer({
    description:
      'Check the loss for NaN or infinity every this many steps (default: every logged step). Each check reads the loss back from the device, a sync point on GPU backends.',
    minimum: 1,
  }),
  keepBest: param.custom<KeepBestConfig>(
    {
      type: 'object',
      additionalProperties: false,
      required: ['metric'],
      properties: {
        metric: { type: 'string', description: 'The epoch-end metric that decides which checkpoint is best, e.g. validation.accuracy.' },
        goal: { type: 'string', enum: ['minimize', 'maximize'], default: 'minimize', description: 'Whether smaller or larger values of the metric are better.' },
        restore: { type: 'boolean', default: false, description: 'Report the final metrics and save the model from the best checkpoint instead of the last step.' },
      },
    },
    { description: 'Keep the checkpoint of the epoch with the best value of a metric (checkpoints/best/), for evaluate --checkpoint best.' },
  ),
  stopWhen: param.custom<StopCondition[]>(
    {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['metric'],
        minProperties: 2,
        properties: {
          metric: { type: 'string', description: 'A value of the logged rows: train.loss, a fetched node such as radius, or an epoch-end metric.' },
          above: { type: 'number', description: 'Stop once the value is above this.' },
          below: { type: 'number', description: 'Stop once the value is below this.' },
          reason: { type: 'string', description: "What stopping means, said in the log and recorded in summary.json (e.g. 'escaped the saddle')." },
        },
      },
    },
    {
      description:
        'End training (as completed, not failed) at the first logged row where a value crosses a bound: [{metric: radius, above: 10, reason: escaped}]. Checked at every logged step; a non-finite value counts as crossing.',
    },
  ),
  multiTask: param.custom<MultiTaskConfig>(
    {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: {
        mode: {
          type: 'string',
          enum: ['joint', 'alternating'],
          description:
            "joint: every step minimizes the sum of the heads' losses, each times its weight; alternating: each step trains the shared layers and one head (or the heads of its schedule entry) only, the other heads' weights and optimizer state left untouched.",
        },
        schedule: {
          type: 'array',
          minItems: 1,
          description: 'Alternating only: which heads train for how many steps, cycled from step 0: [{heads: [char0], steps: 10}, {heads: [char1, char2]}]. Default: each head for one step, in the order of heads.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['heads'],
            properties: {
              heads: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string' }, description: 'The heads these steps train (with the layers they share).' },
              steps: { type: 'integer', minimum: 1, default: 1, description: 'How many steps in a row.' },
            },
          },
        },
      },
    },
    { description: 'How a model with several heads is trained: {mode: joint} (default for such models) or {mode: alternating, schedule: [...]}.' },
  ),
  earlyStopping: param.custom<EarlyStoppingConfig>(
    {
      type: 'object',
      additionalProperties: false,
      required: ['metric'],
      properties: {
        metric: { type: 'string', description: 'The metric watched at every epoch end, e.g. validation.loss.' },
        goal: { type: 'string', enum: ['minimize', 'maximize'], default: 'minimize', description: 'Whether smaller or larger values of the metric are better.' },
        patience: { type: 'integer', minimum: 1, default: 3, description: 'Epochs without improvement before training stops.' },
        minDelta: { type: 'number', minimum: 0, default: 0, description: 'The smallest change that counts as an improvement.' },
      },
    },
    { description: 'Stop when a metric has not improved for `patience` epochs (epoch-based runs).' },
  ),
};

export function objectSchema(params: ParamSchema<unknown>, description: string): JsonSchema {
  const properties: JsonSchema = {};
  const required: string[] = [];
  for (const [key, p] of Object.entries(params as Record<string, ParamSpec<unknown>>)) {
    properties[key] = p.schema;
    if (p.required === true) required.push(key);
  }
  const schema: JsonSchema = { type: 'object', description, properties, additionalProperties: false };
  if (required.length > 0) schema['required'] = required;
  return schema;
}

export { expectationSchema };
