import cliProgress from 'cli-progress';

export interface Progress {
  /** Prints a line (above the bar on a terminal). */
  line(text: string): void;
  update(step: number, total: number | undefined, loss: number): void;
  stop(): void;
}

/**
 * A progress bar on a terminal; plain lines only where output is not a terminal (CI, pipes), so
 * logs stay readable there.
 */
export function createProgress(print: (line: string) => void, interactive: boolean): Progress {
  if (!interactive) return { line: print, update: () => undefined, stop: () => undefined };
  const bars = new cliProgress.MultiBar(
    { format: ' {bar} {percentage}% | step {value}/{total} | loss {loss} | eta {eta_formatted}', hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  return {
    line: (text) => (bar === undefined ? print(text) : bars.log(`${text}\n`)),
    update: (step, total, loss) => {
      if (total === undefined) return; // a stream of unknown length: the logged lines are the progress
      bar ??= bars.create(total, 0, { loss: '…' });
      bar.update(step, { loss: loss.toPrecision(4) });
    },
    stop: () => {
      bars.stop();
      bar = undefined;
    },
  };
}
