/**
 * The engine: trainable-model adapters (ops graphs and layer models), the train loop and its
 * parts, checkpoints, sinks and `runExperiment`. A run is driven by an AbortSignal and reports to
 * sinks; this library never installs signal handlers, never prints and never exits.
 */
export { createRegistries, catalogOf, unionKinds, listedRegistries } from './registries';
export type { Registries, CreateRegistriesOptions } from './registries';
export { loadExperiment, openExperiment } from './experiment';
export type { OpenOptions } from './experiment';
export { loadPlugins, pluginsOfExperiment, workspacePlugins } from './plugins';
export type { PluginRegistries, PluginRegister, PluginReference } from './plugins';
export { buildOptimizer } from './optimizer';
export { loadData, buildModel, preflightKernels, checkWatchedMetrics } from './build';
export { runExperiment, evaluateRun } from './run-experiment';
export type { RunOptions, RunOutcome, EvaluatedCheckpoint } from './run-experiment';
export { configHash } from './invocation';
export type { Invocation } from './invocation';
export { trainModel, checkpointTensors, restoreCheckpoint } from './loop/train-loop';
export type { TrainInputs, TrainResult, Splits } from './loop/train-loop';
export { planSteps, shouldLog, shouldEvaluate, shouldReadLoss, shouldCheckpoint } from './loop/step-plan';
export type { StepPlan, StepMoment } from './loop/step-plan';
export { observeForEarlyStopping, observeForKeepBest, improves } from './loop/watched-metric';
export { evaluateSplit, withFirstExamples, collectPredictions, disposeBatch } from './loop/evaluation';
export { initialLoopState } from './loop/loop-state';
export type { LoopState } from './loop/loop-state';
export { headSchedule, multiTaskProblems } from './loop/multi-task';
export type { HeadSchedule } from './loop/multi-task';
export { applyScaledUpdate } from './loop/scaled-update';
export { ModelConfigError } from './models/trainable-model';
export type { TrainableModel, Batch, MetricSums, ModelContext, ModelFiles, ModelRegistry, ModelSignature } from './models/trainable-model';
export { prepareTransfer } from './models/transfer';
export type { PreparedTransfer, TransferOptions, TrainSource } from './models/transfer';
export type { TransferParams, TransferStrategy } from './models/transfer-params';
export { preprocessingFor } from './models/preprocessing';
export { combineSinks } from './sinks/sink';
export type { RunSink, RunStart, RunEnd, RunSummary, LoggedRow, TensorSnapshot, TensorValues, Embedding } from './sinks/sink';
export { createRunDirectorySink } from './sinks/run-directory-sink';
export { RunDirectory, newRunId } from './storage/run-directory';
export { CheckpointFolder } from './storage/checkpoints';
export type { Checkpoint, CheckpointStore } from './storage/checkpoints';
export { writeFileAtomic, writeFolder, readFolder } from './storage/files';
export { encodeTensors, decodeTensors } from './tensor-files';
export { checkExpectations } from './expectations';
export type { ExpectationResult } from './expectations';
export { metricsTable, expectationsTable, formatNumber } from './tables';
export { expectationTestCases, runTestSuite, formatJUnitReport, escapeXml, type JUnitTestSuite, type JUnitTestCase, type JUnitProblem } from './junit';
