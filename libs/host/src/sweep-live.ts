import { configurationLabel, liveTable, type SweepEvent, type SweepState, type TrialRecord } from '@dlexp/sweep';
import { formatNumber } from '@dlexp/train';
import type { Io } from './io';

/** What the terminal shows while a sweep runs. */
export interface LiveView {
  begin(parallel: number, out: string): void;
  /** A line a trial printed (its console sink, or its process's own output). */
  output(trialId: string, line: string): void;
  event(event: SweepEvent, state: SweepState): void;
  stop(): void;
}

/**
 * On a terminal, a table redrawn in place: the running trials with their last epoch's metric and
 * the trials that finished last (the trials' own lines are not shown; each trial's folder has
 * them). Elsewhere (CI, a pipe), plain lines: every trial line prefixed with its id, and a line
 * per start, stop and end.
 */
export function createLiveView(options: { io: Io; interactive: boolean; metric: string }): LiveView {
  const { io, metric } = options;
  const started = new Map<string, number>();
  const finishedOrder: string[] = [];
  let latest: { records: TrialRecord[]; total: number } | undefined;
  let drawnLines = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const draw = () => {
    if (latest === undefined) return;
    const text = liveTable(latest.records, { metric, totalTrials: latest.total, finishedOrder, started, now: Date.now() });
    const erase = drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[0J` : '';
    process.stdout.write(`${erase}${text}\n`);
    drawnLines = text.split('\n').length;
  };

  const valueOf = (record: TrialRecord | undefined): string => {
    const value = record?.result?.metrics[metric] ?? record?.intermediate[record.intermediate.length - 1]?.value;
    return value === undefined ? '' : `: ${metric}=${formatNumber(value)}`;
  };

  return {
    begin(parallel, out) {
      io.out(`sweep into ${out}, ${parallel} trial${parallel === 1 ? '' : 's'} at a time`);
      if (options.interactive) timer = setInterval(draw, 1000);
    },
    output(trialId, line) {
      if (!options.interactive) for (const part of line.split('\n')) io.out(`[${trialId}] ${part}`);
    },
    event(event, state) {
      if (event.type === 'started') started.set(event.spec.trialId, Date.now());
      if (event.type === 'finished') finishedOrder.push(event.record.spec.trialId);
      if (options.interactive) {
        latest = { records: state.records(), total: state.totalTrials };
        draw();
        return;
      }
      if (event.type === 'started') {
        const { spec } = event;
        const seed = state.config.repeats > 1 ? ` (seed ${spec.seed})` : '';
        // Parameters with a single value tell no trial apart.
        const varying = state.config.space.parameters.filter((p) => p.kind !== 'categorical' || p.values.length > 1).map((p) => p.name);
        io.out(`${spec.trialId} ${event.resume ? 'resumed' : 'started'}: ${configurationLabel(spec.values, varying.length > 0 ? varying : undefined)}${seed}`);
      } else if (event.type === 'intermediate' && event.verdict.prune) {
        io.out(`${event.trialId} pruned at epoch ${event.epoch}: ${event.verdict.reason}`);
      } else if (event.type === 'finished') {
        const { record } = event;
        const id = record.spec.trialId;
        // A pruned trial was announced with the reason when the sweep decided.
        if (record.status === 'failed') io.out(`${id} failed: ${record.result?.error ?? 'no error given'}`);
        else if (record.status === 'completed') io.out(`${id} completed${valueOf(record)}`);
      } else if (event.type === 'interrupted') {
        io.out(`${event.trialId} interrupted: its checkpoint is kept, and the next run of the sweep resumes it`);
      }
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      if (options.interactive) draw();
    },
  };
}
