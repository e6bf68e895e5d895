export { createOptimizerRegistry, createOptimizer, Optimizer } from './optimizers';
export type { OptimizerRegistry, OptimizerContext, OptimizerRecipe } from './optimizers';
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
  addDecayedWeights,
} from './transforms';
export type { GradientTransform } from './transforms';
