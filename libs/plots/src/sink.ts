import type { RunSink } from '@dlexp/train';
import { writeRunPlots, type WritePlotsOptions } from './run-plots';

/**
 * Writes a run's figures to `<run-dir>/plots/` when it ends (after the run folder's own files, so
 * the figures show what summary.json and metrics.jsonl hold). A figure that cannot be drawn is
 * reported through `onWarning` and never fails the run.
 */
export function createPlotsSink(options: WritePlotsOptions = {}): RunSink {
  let runDirectory: string | undefined;
  return {
    start: (run) => {
      runDirectory = run.runDirectory;
    },
    end: async () => {
      if (runDirectory === undefined) return;
      try {
        await writeRunPlots(runDirectory, options);
      } catch (error) {
        options.onWarning?.(`plots: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
}
