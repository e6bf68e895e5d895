import type { LoadedExperiment, TensorBoardConfig } from '@dlexp/config';
import { createPlotsSink } from '@dlexp/plots';
import { createTensorBoardSink } from '@dlexp/tensorboard';
import type { RunSink } from '@dlexp/train';
import { createConsoleSink } from './console-sink';
import { interactive } from './context';
import type { OptionSpec, OptionValues } from './options';

/** Options of the commands that run experiments, about what a run writes besides its folder. */
export const RUN_OUTPUT_OPTIONS: Record<string, OptionSpec> = {};

/**
 * Where a run started from the CLI reports: the terminal, TensorBoard event files and the plots
 * (each unless the experiment turns it off). Sweep trials add their values for the HParams tab.
 */
export function createRunSinks(experiment: LoadedExperiment, print: (line: string) => void, _values: OptionValues, trial?: Record<string, unknown>): RunSink[] {
  const config = experiment.resolved;
  const sinks: RunSink[] = [createConsoleSink(print, interactive())];
  const tensorboard = config.tensorboard as TensorBoardConfig | false;
  if (tensorboard !== false) {
    const hparams = trial === undefined ? undefined : Object.fromEntries(Object.entries(trial).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : JSON.stringify(v)]));
    sinks.push(createTensorBoardSink(tensorboard, hparams !== undefined ? { hparams } : {}));
  }
  if (config.plots) sinks.push(createPlotsSink({ onWarning: print }));
  return sinks;
}
