import cliProgress from 'cli-progress';
import { expectationsTable, metricsTable, type RunSink } from '@dlexp/train';

/**
 * What a run shows in the terminal: messages, one line per logged row, a progress bar on a
 * terminal (plain lines only elsewhere, so CI logs stay readable), and at the end the final
 * metrics, the unmet expectations and the run directory.
 */
export function createConsoleSink(print: (line: string) => void, interactive: boolean): RunSink {
  const bars = interactive
    ? new cliProgress.MultiBar(
        { format: ' {bar} {percentage}% | step {value}/{total} | loss {loss} | eta {eta_formatted}', hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let bar: cliProgress.SingleBar | undefined;
  let runDirectory = '';
  const line = (text: string) => (bar === undefined || bars === undefined ? print(text) : bars.log(`${text}\n`));
  const stop = () => {
    bars?.stop();
    bar = undefined;
  };
  return {
    start: (run) => {
      runDirectory = run.runDirectory;
    },
    message: line,
    row: (row) => line(formatLogRow(row)),
    progress: (step, total, loss) => {
      if (bars === undefined || total === undefined) return; // a stream of unknown length: the logged lines are the progress
      bar ??= bars.create(total, 0, { loss: '…' });
      bar.update(step, { loss: loss === undefined ? '…' : loss.toPrecision(4) });
    },
    end: ({ summary }) => {
      stop();
      if (summary.status !== 'failed') print(metricsTable(summary.metrics));
      const expectations = summary.expectations ?? [];
      const unmet = expectations.filter((e) => !e.met);
      if (expectations.length > 0) {
        print(unmet.length === 0 ? `all ${expectations.length} expectations met` : `${unmet.length} of ${expectations.length} expectations not met:`);
        if (unmet.length > 0) print(expectationsTable(expectations));
      }
      print(`run directory: ${runDirectory}`);
    },
  };
}

function formatLogRow(row: Record<string, number>): string {
  const parts = Object.entries(row)
    .filter(([key]) => key !== 'timeMs' && key !== 'step' && key !== 'epoch')
    .map(([key, value]) => `${key}=${Number(value.toPrecision(5))}`);
  return `step ${row['step']} (epoch ${Number((row['epoch'] ?? 0).toFixed(2))}): ${parts.join(' ')}`;
}
