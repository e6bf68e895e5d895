/**
 * What a command-line host composes around the engine: the sinks a run reports to (the console
 * with a progress bar, TensorBoard, plots, a JUnit report) and sweeps run on this machine or
 * through a queue, with a live table and the results printed. Everything prints through an `Io`
 * or a `print` callback; the host app installs signal handlers and picks exit codes.
 */
export { EXIT } from './io';
export type { Io } from './io';
export { createConsoleSink } from './console-sink';
export { createRunSinks, writeJUnitStartError, writeSweepJUnitReport } from './run-sinks';
export type { RunSinkOptions } from './run-sinks';
export { runSweepCommand, validateSweep } from './sweep-command';
export type { SweepCommandOptions, HostTrialContext, QueueChoice } from './sweep-command';
export { createLiveView } from './sweep-live';
export { writeTrajectoryPlots } from './sweep-plots';
