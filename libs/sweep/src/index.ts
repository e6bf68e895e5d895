export { parseSweepConfig, selectionMetricWarning, sweepSchema, EARLY_TERMINATION_DEFAULTS } from './config';
export type { Goal, SweepConfig, ResolvedSweepConfig, EarlyTerminationConfig, ResolvedEarlyTermination } from './config';
export { parseParameterSpace, parametersByPath, drawUniform, gridSize, gridPoint, categoryIndex, inDomain } from './parameters';
export type { SweepProblem, Parameter, CategoricalParameter, RangeParameter, ParameterSpace, ParameterValues } from './parameters';
export { createSamplerRegistry, createTpeSampler, observationWeights, goodCount, UnsupportedParameterError } from './samplers';
export type { Sampler, SamplerContext, SamplerRegistry, Observation, TpeParams } from './samplers';
export { applyParameters, canonicalJson, fingerprint, plainEqual, isPlainValue } from './plain';
export type { PlainValue } from './plain';
