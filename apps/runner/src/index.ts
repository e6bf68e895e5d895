export { main, EXIT, reportError } from './main';
export { loadExperiment, normalize } from './config/experiment';
export type { ResolvedExperiment, LoadedExperiment, LoadOptions } from './config/experiment';
export { generateSchema, SCHEMA_FILE } from './config/schema';
export { createRegistries } from './registries';
export type { Registries } from './registries';
export { runExperiment, configHash } from './run/run-experiment';
