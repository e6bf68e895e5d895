import { didYouMean, param, type ParamSchema } from '@dlexp/core';

/** How a model reuses a saved one and how its layers learn: the keys every layer model accepts. */
export interface TransferParams {
  /** A saved model to start from: a run directory, its model.json, or an experiment file. */
  from?: string;
  /** Layers of the saved model to reuse, by name. */
  keep?: string[];
  transfer?: TransferStrategy;
}

/** One of the course's strategies, written as what it does to the layers. */
export interface TransferStrategy {
  /** `saved`: kept layers start from the saved weights; `random`: from fresh ones (training from scratch). */
  weights?: 'saved' | 'random';
  /** Layers (names or name prefixes) the optimizer leaves as they are. */
  freeze?: string[];
  /** Factor on the learning rate of layers, by name or name prefix. */
  learningRateMultipliers?: Record<string, number>;
}

export const transferParams: ParamSchema<TransferParams> = {
  from: param.string({
    description:
      'Start from a saved model: a run directory, its model/model.json, or an experiment file (trained once, in its quick form ' +
      'under --quick, into a cache keyed by its config hash, then reused). Relative to this file. The layers named in `keep` ' +
      'come first, with their saved weights; this model\'s own layers (or nodes) are added on top of them.',
    minLength: 1,
  }),
  keep: param.stringList({
    description:
      'With `from`: the layers of the saved model to reuse, by name (default: all but its output layers). In a sequential ' +
      'model they must form the start of the saved chain; graph nodes may take a kept layer as input by its name.',
    minItems: 1,
  }),
  transfer: param.custom<TransferStrategy>(
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        weights: {
          type: 'string',
          enum: ['saved', 'random'],
          default: 'saved',
          description: 'saved: the kept layers start from the saved weights; random: from freshly initialized ones (the same network trained from scratch).',
        },
        freeze: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', minLength: 1 },
          description: 'Layers the optimizer leaves as they are, each by name or by a prefix of names (conv freezes conv1 and conv2).',
        },
        learningRateMultipliers: {
          type: 'object',
          minProperties: 1,
          additionalProperties: { type: 'number', exclusiveMinimum: 0 },
          description:
            'A factor on the learning rate of layers, by name or name prefix ({conv: 0.1, fc1: 0.3}); the longest matching key decides. ' +
            'It scales the update the optimizer makes (not the gradient, which adaptive optimizers such as Adam would undo).',
        },
      },
    },
    {
      description:
        'How the layers learn, as the course\'s strategies: {weights: random} (from scratch), {freeze: [conv1, conv2, fc1]} (a frozen ' +
        'trunk under a new head), {learningRateMultipliers: {conv: 0.1}} (fine-tune everything, early layers slowly).',
    },
  ),
};

/**
 * The layers that entries pick, each entry a layer's name or a prefix of layer names, as a map
 * from layer to the index of the entry that picked it. An entry that picks nothing is a problem
 * at `pathOf(its index)`.
 */
export function layerSelection(
  entries: readonly string[],
  layers: readonly string[],
  pathOf: (index: number) => (string | number)[],
  problems: { path: (string | number)[]; message: string }[],
): Map<string, number> {
  const picked = new Map<string, number>();
  entries.forEach((entry, i) => {
    const matches = layers.filter((name) => name.startsWith(entry));
    if (matches.length === 0) problems.push({ path: pathOf(i), message: `no layer is named '${entry}' or starts with it${didYouMean(entry, layers)} (layers: ${layers.join(', ')})` });
    for (const name of matches) picked.set(name, i);
  });
  return picked;
}
