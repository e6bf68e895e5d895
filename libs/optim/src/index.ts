export { createOptimizerRegistry, createOptimizer, resolveLearningRate, Optimizer } from './optimizers';
export type { OptimizerRegistry, OptimizerContext, OptimizerRecipe, LearningRateConfig } from './optimizers';
export { createScheduleRegistry } from './schedules';
export type { Schedule, ScheduleRegistry } from './schedules';
export {
  clipByGlobalNorm,
  clipByValue,
  scaleByLearningRate,
  trace,
  scaleByAdagrad,
  scaleByRms,
  scaleByAdadelta,
  scaleByAdam,
  addDecayedWeights,
} from './transforms';
export type { GradientTransform } from './transforms';
