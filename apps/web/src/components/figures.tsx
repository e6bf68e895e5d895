import { useMemo } from 'preact/hooks';
import { runFigures, type RunFolder } from '@dlexp/plots';
import type { MetricsRow, PredictionsTable } from '@dlexp/dashboard';
import { VegaChart } from './vega-chart';

export interface RunData {
  /** Where the run is (a folder of the log folder, or the page itself). */
  dir: string;
  rows: MetricsRow[];
  config?: Record<string, unknown>;
  predictions?: PredictionsTable;
}

/**
 * The figures of a run, exactly as `runner` writes them to plots/ (plots' runFigures: a chart per
 * metric, the fetched values, the regression fit), drawn in the page.
 */
export function RunFigures({ run }: { run: RunData }) {
  const figures = useMemo(() => {
    const folder: RunFolder = { dir: run.dir, rows: run.rows, problems: [], ...(run.config !== undefined ? { config: run.config } : {}), ...(run.predictions !== undefined ? { predictions: run.predictions } : {}) };
    return runFigures(folder);
  }, [run.dir, run.rows, run.config, run.predictions]);
  if (figures.length === 0) return <p class="muted">Nothing logged yet.</p>;
  return (
    <div class="figures">
      {figures.map((figure) => (
        <VegaChart key={figure.name} name={figure.name} spec={figure.spec} />
      ))}
    </div>
  );
}
