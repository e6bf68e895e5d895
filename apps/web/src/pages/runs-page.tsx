import { useEffect, useMemo, useState } from 'preact/hooks';
import { formatNumber } from '@dlexp/plots';
import type { RunListEntry, RunListResponse } from '@dlexp/dashboard';
import { fetchRuns } from '../api';
import { ErrorBox, StatusBadge } from '../components/tables';
import { links } from '../router';

type SortKey = 'name' | 'status' | 'startedAt' | 'seed' | 'backend' | `metric:${string}`;

function linkOf(run: RunListEntry): string {
  return run.kind === 'sweep' ? links.sweep(run.path) : links.run(run.path);
}

function sortValue(run: RunListEntry, key: SortKey): string | number | undefined {
  if (key.startsWith('metric:')) return run.keyMetrics[key.slice('metric:'.length)];
  return run[key as keyof RunListEntry] as string | number | undefined;
}

/**
 * Every run and sweep of the log folder, from one request: filter by text and status, sort by any
 * column, pick runs to compare. A sweep's trials follow it, indented (or hidden).
 */
export function RunsPage() {
  const [list, setList] = useState<RunListResponse | undefined>();
  const [problem, setProblem] = useState<string | undefined>();
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const [showTrials, setShowTrials] = useState(true);
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean } | undefined>();
  const [selected, setSelected] = useState<string[]>([]);

  const load = () => {
    fetchRuns()
      .then((answer) => {
        setList(answer);
        setProblem(undefined);
      })
      .catch((error: Error) => setProblem(error.message));
  };
  useEffect(load, []);

  const metricColumns = useMemo(() => {
    const shown = (list?.runs ?? []).flatMap((r) => Object.keys(r.keyMetrics));
    const best = [...new Set(shown.filter((m) => m.startsWith('best ')))].sort();
    const rank = (k: string) => (k.startsWith('test.') ? 0 : k.startsWith('validation.') ? 1 : k.startsWith('train.') ? 2 : 3);
    const others = [...new Set(shown.filter((m) => !m.startsWith('best ')))].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    return [...best, ...others];
  }, [list]);

  const statuses = useMemo(() => [...new Set((list?.runs ?? []).map((r) => r.status))].sort(), [list]);

  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const matches = (r: RunListEntry) =>
      (needle === '' || [r.name, r.path, r.backend ?? '', r.status].some((s) => s.toLowerCase().includes(needle))) && (status === '' || r.status === status) && (showTrials || r.kind !== 'trial');
    const runs = (list?.runs ?? []).filter(matches);
    if (sort === undefined) return runs;
    const direction = sort.descending ? -1 : 1;
    return [...runs].sort((a, b) => {
      const [x, y] = [sortValue(a, sort.key), sortValue(b, sort.key)];
      if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
      return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * direction;
    });
  }, [list, text, status, showTrials, sort]);

  const header = (key: SortKey, label: string) => (
    <th scope="col" aria-sort={sort?.key === key ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
      <button class="sort" onClick={() => setSort(sort?.key === key ? { key, descending: !sort.descending } : { key, descending: key.startsWith('metric:') || key === 'startedAt' })}>
        {label}
        {sort?.key === key ? (sort.descending ? ' ▼' : ' ▲') : ''}
      </button>
    </th>
  );
  const toggle = (path: string) => setSelected(selected.includes(path) ? selected.filter((p) => p !== path) : [...selected, path]);

  return (
    <main class="runs-page">
      <header class="page-header">
        <h1>Runs</h1>
        <p class="muted">{list === undefined ? 'reading the log folder…' : `${list.runs.filter((r) => r.kind !== 'trial').length} runs and sweeps in ${list.logdir}`}</p>
      </header>
      {problem !== undefined && <ErrorBox message={problem} />}
      <div class="toolbar">
        <input type="search" placeholder="filter by name, folder, backend, status" value={text} onInput={(e) => setText(e.currentTarget.value)} aria-label="filter" />
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value)} aria-label="status">
          <option value="">every status</option>
          {statuses.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={showTrials} onChange={(e) => setShowTrials(e.currentTarget.checked)} /> sweep trials
        </label>
        <button onClick={load}>Refresh</button>
        <a class={`button${selected.length === 0 ? ' disabled' : ''}`} href={selected.length === 0 ? undefined : links.compare(selected)} aria-disabled={selected.length === 0} id="compare-selected">
          Compare {selected.length > 0 ? selected.length : ''} selected
        </a>
      </div>
      {list !== undefined && list.runs.length === 0 && (
        <p class="muted">
          No runs yet. Start one with <code>npx runner experiments/linear-regression.yaml</code>, or open the <a href={links.editor()}>editor</a>.
        </p>
      )}
      {shown.length > 0 && (
        <table class="runs" id="runs-table">
          <thead>
            <tr>
              <th />
              {header('name', 'name')}
              {header('status', 'status')}
              {header('startedAt', 'started')}
              {header('seed', 'seed')}
              {header('backend', 'backend')}
              {metricColumns.map((m) => header(`metric:${m}`, m))}
              <th scope="col">folder</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((run) => (
              <tr key={run.path} class={`kind-${run.kind}`} data-path={run.path} data-status={run.status}>
                <td>
                  <input type="checkbox" checked={selected.includes(run.path)} onChange={() => toggle(run.path)} aria-label={`select ${run.path}`} />
                </td>
                <td class="name">
                  <a href={linkOf(run)}>{run.name === '' ? run.path : run.name}</a>
                  {run.kind === 'sweep' && <span class="tag">sweep · {run.trials} trials</span>}
                  {run.problem !== undefined && <span class="error"> {run.problem}</span>}
                </td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td class="time">{run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, '')}</td>
                <td class="number">{run.seed ?? ''}</td>
                <td>{run.backend ?? ''}</td>
                {metricColumns.map((m) => (
                  <td key={m} class="number" data-metric={m}>
                    {run.keyMetrics[m] === undefined ? '' : formatNumber(run.keyMetrics[m])}
                  </td>
                ))}
                <td class="folder">{run.path}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
