/**
 * Parameters several datasets share, defined once so they read the same everywhere: per-split
 * limits and a validation split taken from the training data.
 */
import { ConfigError, param, type ParamSpec } from '@dlexp/core';
import type { SplitName } from './dataset';

export type SplitLimits = Partial<Record<SplitName, number>>;

const splitLimitSchema = (split: string) => ({ type: 'integer', minimum: 0, description: `Examples kept from the ${split} split.` });

export const limitParam: ParamSpec<SplitLimits> = param.custom(
  {
    type: 'object',
    properties: { train: splitLimitSchema('train'), validation: splitLimitSchema('validation'), test: splitLimitSchema('test') },
    additionalProperties: false,
  },
  {
    description:
      'Keep only the first N examples of a split, e.g. `{train: 1000, test: 500}`, for quick runs. ' +
      'Splits not named keep all their examples. A validation split taken from train is taken before the limits apply.',
    default: {},
  },
);

export const validationSplitParam: ParamSpec<number> = param.number({
  description:
    'Examples moved from the end of the training data into a `validation` split: a fraction of the ' +
    'training examples when below 1 (0.1 = the last 10%), a count of examples when 1 or more. 0: no validation split.',
  default: 0,
  minimum: 0,
});

/** How many training examples go to validation: a fraction below 1, a count from 1 up. */
export function validationCount(validationSplit: number, trainSize: number): number {
  if (validationSplit >= 1 && !Number.isInteger(validationSplit)) {
    throw new ConfigError(`validationSplit: ${validationSplit} is neither a fraction below 1 nor a whole number of examples`);
  }
  const count = validationSplit < 1 ? Math.round(validationSplit * trainSize) : validationSplit;
  if (count >= trainSize) {
    throw new ConfigError(`validationSplit: ${count} validation examples would leave none of the ${trainSize} for training`);
  }
  return count;
}

