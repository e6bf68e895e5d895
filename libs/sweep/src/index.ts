export { parseParameterSpace, parametersByPath, drawUniform, gridSize, gridPoint, categoryIndex, inDomain } from './parameters';
export type { SweepProblem, Parameter, CategoricalParameter, RangeParameter, ParameterSpace, ParameterValues } from './parameters';
export { applyParameters, canonicalJson, fingerprint, plainEqual, isPlainValue } from './plain';
export type { PlainValue } from './plain';
