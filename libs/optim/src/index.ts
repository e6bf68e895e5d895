export { createOptimizerRegistry, createOptimizer, resolveOptimizerConfig } from './optimizers';
export type { OptimizerRegistry, OptimizerContext, OptimizerRecipe } from './optimizers';
export { Optimizer } from './optimizer';
export type { OptimizerConfig, SlotLoader } from './optimizer';
export { createScheduleRegistry, resolveLearningRate, numberOrScheduleParam } from './schedules';
export type { Schedule, ScheduleRegistry, ScheduleContext, LearningRateConfig } from './schedules';
export {
  clipByGlobalNorm,
  clipByValue,
  scaleByLearningRate,
  trace,
  scaleByAdagrad,
  scaleByRms,
  scaleByAdadelta,
  scaleByAdam,
  scaleByAdamax,
  scaleByLion,
  addDecayedWeights,
  UPDATE_COUNT_SLOT,
} from './transforms';
export type { GradientTransform, SlotEntry } from './transforms';
