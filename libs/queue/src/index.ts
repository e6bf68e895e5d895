/**
 * Distributed sweeps: a sweep's trials as jobs of a BullMQ queue on Redis. The coordinator runs
 * the sweep with `createQueueExecutor` (an Executor of @dlexp/sweep, so samplers, early
 * termination, the sweep's folder and its resume work as locally); workers on any machine run
 * `startTrialWorker`, which runs each trial in a process of its own and sends back its outcome and
 * its run folder's files. Trials carry their resolved experiment and their data by identity.
 */
export { parseQueueUrl, checkQueueName, DEFAULT_QUEUE_NAME } from './queue-url';
export type { QueueTarget } from './queue-url';
export { checkQueueConnection, explainConnectionError, redisOptions, DEFAULT_CONNECT_TIMEOUT_MS } from './connection';
export { trialJobId, parseTrialJobId, runStamp } from './job-ids';
export { classifyFailure } from './retry';
export type { FailureKind, TrialFailure } from './retry';
export { encodeValue, decodeValue } from './codec';
export { describeTrialData, checkTrialData } from './data-identity';
export type { DataIdentity, DataPath } from './data-identity';
export { collectRunFiles, writeRunFiles, DEFAULT_MAX_RESULT_BYTES } from './run-files';
export type { RunFile, CollectedRun } from './run-files';
export { JOB_FORMAT, TRIAL_JOB_NAME, QUEUE_PREFIX, KEEP_SECONDS, verdictKey, verdictChannel, failedResultKey } from './protocol';
export type { TrialJobData, TrialJobResult, TrialProgress, TrialVerdict } from './protocol';
export { createQueueExecutor, workerSlots } from './queue-executor';
export type { QueueExecutor, QueueExecutorOptions } from './queue-executor';
export { startTrialWorker } from './trial-worker';
export type { TrialWorker, TrialWorkerOptions, QueuedTrial } from './trial-worker';
export { openQueuedTrial, workerExperiment } from './queued-trial';
export type { QueuedTrialContext } from './queued-trial';
export { startLocalRedis, redisServerPath, freePort } from './local-redis';
export type { LocalRedis, LocalRedisTls } from './local-redis';
