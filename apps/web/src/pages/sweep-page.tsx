import { useEffect, useMemo, useState } from 'preact/hooks';
import { formatNumber, orderMetrics, sweepFigures, type RunFolder, type SweepFolder } from '@dlexp/plots';
import type { SweepDetail } from '@dlexp/dashboard';
import { fetchSweep } from '../api';
import { VegaChart } from '../components/vega-chart';
import { ErrorBox, formatValue, Section, StatusBadge } from '../components/tables';
import { links } from '../router';

/** The sweep as plots' figure functions take it (the same figures `runner` writes to plots/). */
function asFolders(sweep: SweepDetail): { folder: SweepFolder; runs: Map<string, RunFolder> } {
  const folder: SweepFolder = {
    dir: sweep.path,
    name: sweep.name,
    status: sweep.status,
    parameterNames: sweep.parameterNames,
    trials: sweep.trials.map((t) => ({ ...t, runDirectory: t.path ?? '', repeats: t.repeats.map((r) => ({ ...r, ...(r.path !== undefined ? { runDirectory: r.path } : {}) })) })),
    bestIds: sweep.bestIds,
    configurations: sweep.configurations,
    ...(sweep.metric !== undefined ? { metric: sweep.metric } : {}),
    ...(sweep.goal !== undefined ? { goal: sweep.goal } : {}),
    ...(sweep.method !== undefined ? { method: sweep.method } : {}),
    ...(sweep.bestId !== undefined ? { bestId: sweep.bestId } : {}),
  };
  const runs = new Map(Object.entries(sweep.trialRows).map(([id, rows]) => [id, { dir: id, rows, problems: [] } satisfies RunFolder]));
  return { folder, runs };
}

/** A sweep: the trial table (best marked), the metric against each hyperparameter, parallel coordinates, every trial's curves. */
export function SweepPage({ path }: { path: string }) {
  const [sweep, setSweep] = useState<SweepDetail | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  useEffect(() => {
    setSweep(undefined);
    fetchSweep(path)
      .then(setSweep)
      .catch((error: Error) => setProblem(error.message));
  }, [path]);
  const figures = useMemo(() => {
    if (sweep === undefined) return [];
    const { folder, runs } = asFolders(sweep);
    return sweepFigures(folder, runs);
  }, [sweep]);

  if (problem !== undefined) return <main><ErrorBox message={problem} /></main>;
  if (sweep === undefined) return <main><p class="muted">reading {path}…</p></main>;
  const metrics = orderMetrics(sweep.trials.flatMap((t) => Object.keys(t.metrics)));
  const best = new Set(sweep.bestIds);
  const withFolders = sweep.trials.filter((t) => t.path !== undefined).map((t) => t.path!);
  return (
    <main class="sweep-page">
      <header class="page-header">
        <p class="breadcrumbs">
          <a href={links.runs()}>Runs</a>
        </p>
        <h1>
          {sweep.name === '' ? sweep.path : sweep.name} <span class="tag">sweep</span> <StatusBadge status={sweep.status} />
        </h1>
        <p class="facts">
          <span>{sweep.path}</span>
          {sweep.method !== undefined && <span>method {sweep.method}</span>}
          {sweep.metric !== undefined && (
            <span>
              {sweep.goal ?? 'ranked by'} {sweep.metric}
            </span>
          )}
          <span>{sweep.trials.length} trials</span>
          {withFolders.length > 1 && <a href={links.compare(withFolders)}>compare the trials</a>}
        </p>
        {sweep.problems.map((p) => (
          <ErrorBox key={p} message={p} />
        ))}
      </header>
      <Section title="Trials" id="trials">
        <table class="trials" id="trials-table">
          <thead>
            <tr>
              <th>trial</th>
              {sweep.parameterNames.map((p) => (
                <th key={p}>{p}</th>
              ))}
              <th>status</th>
              {metrics.map((m) => (
                <th key={m}>{m}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sweep.trials.map((trial) => (
              <tr key={trial.id} class={best.has(trial.id) ? 'best' : ''} data-trial={trial.id}>
                <td>
                  {trial.path !== undefined ? <a href={links.run(trial.path)}>{trial.id}</a> : trial.id}
                  {best.has(trial.id) && <span title="best trial"> ★</span>}
                </td>
                {sweep.parameterNames.map((p) => (
                  <td key={p}>{formatValue(trial.parameters[p])}</td>
                ))}
                <td>
                  <StatusBadge status={trial.status === 'completed' && trial.expectationsMet === false ? 'expectations not met' : trial.status} />
                </td>
                {metrics.map((m) => (
                  <td key={m} class="number">
                    {formatNumber(trial.metrics[m])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Figures" id="figures">
        {figures.length === 0 ? (
          <p class="muted">No trial has finished yet.</p>
        ) : (
          <div class="figures">
            {figures.map((f) => (
              <VegaChart key={f.name} name={f.name} spec={f.spec} />
            ))}
          </div>
        )}
      </Section>
    </main>
  );
}
