import { fillEntry } from '@dlexp/core';
import type { TrainConfig } from '@dlexp/config';
import { clipByGlobalNorm, clipByValue, createOptimizer, type Optimizer } from '@dlexp/optim';
import type { Registries } from './registries';

/** The configured optimizer, with gradient clipping first when asked for. */
export function buildOptimizer(train: TrainConfig, registries: Pick<Registries, 'optimizers' | 'schedules'>): Optimizer {
  const before = [
    ...(train.clipValue !== undefined ? [clipByValue(train.clipValue)] : []),
    ...(train.clipGlobalNorm !== undefined ? [clipByGlobalNorm(train.clipGlobalNorm)] : []),
  ];
  const optimizerConfig = fillEntry('optimizer', train.optimizer, (kind, name) =>
    kind === 'optimizer' ? registries.optimizers.get(name).params : registries.schedules.get(name).params,
  ) as { type: string };
  return createOptimizer(registries.optimizers, optimizerConfig, { schedules: registries.schedules }, before);
}
