/**
 * Experiment files: YAML parsed with positions kept, `extends` chains merged with each value's
 * origin remembered, overrides (`quick.set`, `--set`, sweep values) applied by path — list items
 * by index or by name — then validated against the JSON Schema generated from a catalog of the
 * registries, and normalized with every default filled in. Every problem is a Diagnostic at the
 * file, line and column that wrote the value.
 */
export { ExperimentSource } from './source';
export { loadExperiment, normalize, schemaFor } from './experiment';
export type { ResolvedExperiment, LoadedExperiment, LoadOptions } from './experiment';
export { generateSchema, experimentParams, SCHEMA_FILE } from './schema';
export { trainParams, expectParam, objectSchema, expectationSchema } from './sections';
export type { TrainConfig, EarlyStoppingConfig, KeepBestConfig, ExpectationConfig, StopCondition, TensorBoardConfig } from './sections';
export { sweepParam, trialOverrides } from './sweep-section';
export type { SweepConfig, SweepParameterConfig, TrialParameters } from './sweep-section';
export { validateAgainstSchema } from './validate';
export type { ConfigCatalog, UnionKind, AnyRegistry } from './catalog';
