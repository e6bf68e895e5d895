import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ConfigError, formatDiagnostic, type Diagnostic } from '@dlexp/core';
import { catalogOf } from '@dlexp/train';
import { schemaFor } from '@dlexp/config';
import type { ExperimentEntry, LaunchStatus, MetricsRow } from '@dlexp/dashboard';
import { fetchExperiments, fetchExperimentText, fetchStatus, launchRun } from '../api';
import { pageBackendsHere, PAGE_BACKENDS, type PageBackendChoice } from '../browser-run/page-backends';
import { addPageFile } from '../browser-run/page-data';
import { pageRegistries, runInPage, validatePageExperiment, type PageRunResult } from '../browser-run/run-in-page';
import { RunFigures } from '../components/figures';
import { ErrorBox, ExpectationsTable, MetricsTable, Section, StatusBadge } from '../components/tables';
import { YamlEditor, type YamlEditorHandle } from '../editor/yaml-editor';
import { links } from '../router';

const STORAGE_KEY = 'dlexp-editor';
const DEFAULT_EXPERIMENT = 'linear-regression.yaml';
const REDRAW_MS = 250;

const FALLBACK_TEXT = `name: linear-regression
seed: 1
data: {type: synthetic, function: linear, samples: 100}
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables: {k: {initializer: {type: zeros}}, b: {initializer: {type: zeros}}}
  nodes:
    prediction: k * x + b
    loss: reduceMean(square(y - prediction))
  loss: loss
  fetch: [k, b]
train:
  optimizer: {type: sgd, learningRate: 0.2}
  steps: 201
  logEvery: 20
`;

type RunState = 'idle' | 'running' | 'completed' | 'failed' | 'interrupted' | 'error';

interface Opened {
  fileName: string;
  /** The example experiment it came from, and its text as served (to tell whether it was edited). */
  experiment?: string;
  original?: string;
}

/**
 * The experiment editor: open an example, a file or pasted text; problems checked as you type
 * against the same schema and rules as `runner validate` (at their line and column); completion
 * from the schema; "Run in this browser" trains it in the page with live curves; "Run on this
 * machine" has the server start the runner (with --allow-runs).
 */
export function EditorPage({ experiment }: { experiment?: string }) {
  const editor = useRef<YamlEditorHandle | undefined>(undefined);
  const [opened, setOpened] = useState<Opened>({ fileName: DEFAULT_EXPERIMENT });
  const [text, setText] = useState<string | undefined>();
  const [examples, setExamples] = useState<ExperimentEntry[]>([]);
  const [problems, setProblems] = useState<Diagnostic[]>([]);
  const [checked, setChecked] = useState<string | undefined>();
  const [quick, setQuick] = useState(false);
  const [backend, setBackend] = useState<PageBackendChoice>('experiment');
  const [backendsHere, setBackendsHere] = useState<Awaited<ReturnType<typeof pageBackendsHere>>>([]);
  const [files, setFiles] = useState<string[]>([]);
  const [allowRuns, setAllowRuns] = useState(false);
  const [state, setState] = useState<RunState>('idle');
  const [rows, setRows] = useState<MetricsRow[]>([]);
  const [progress, setProgress] = useState<{ step: number; total?: number; loss?: number }>({ step: 0 });
  const [messages, setMessages] = useState<string[]>([]);
  const [result, setResult] = useState<PageRunResult | undefined>();
  const [runConfig, setRunConfig] = useState<Record<string, unknown> | undefined>();
  const [failure, setFailure] = useState<string[]>([]);
  const [launch, setLaunch] = useState<LaunchStatus | { error: string } | 'starting' | undefined>();
  const abort = useRef<AbortController | undefined>(undefined);
  const pending = useRef<{ rows: MetricsRow[]; timer?: ReturnType<typeof setTimeout> }>({ rows: [] });
  const schema = useMemo(() => schemaFor(catalogOf(pageRegistries())), []);

  const open = (next: Opened, content: string) => {
    setOpened(next);
    setText(content);
    editor.current?.setText(content);
  };

  useEffect(() => {
    fetchStatus()
      .then((s) => setAllowRuns(s.allowRuns))
      .catch(() => setAllowRuns(false));
    pageBackendsHere()
      .then(setBackendsHere)
      .catch(() => setBackendsHere([]));
    fetchExperiments()
      .then(setExamples)
      .catch(() => setExamples([]));
  }, []);

  useEffect(() => {
    // The experiment named in the address, else what was being edited, else the first lesson.
    const saved = experiment === undefined ? localStorage.getItem(STORAGE_KEY) : null;
    if (saved !== null) {
      const { fileName, text: savedText, experiment: from, original } = JSON.parse(saved) as Opened & { text: string };
      open({ fileName, ...(from !== undefined ? { experiment: from } : {}), ...(original !== undefined ? { original } : {}) }, savedText);
      return;
    }
    const name = experiment ?? DEFAULT_EXPERIMENT;
    fetchExperimentText(name)
      .then((content) => open({ fileName: name, experiment: name, original: content }, content))
      .catch(() => open({ fileName: 'experiment.yaml' }, FALLBACK_TEXT));
  }, [experiment]);

  useEffect(() => {
    if (text !== undefined) localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...opened, text }));
  }, [text, opened]);

  const validate = (content: string) => validatePageExperiment(content, opened.fileName);

  const addFiles = async (list: FileList | null) => {
    for (const file of Array.from(list ?? [])) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      if (/\.ya?ml$/i.test(file.name)) open({ fileName: file.name }, new TextDecoder().decode(bytes));
      else {
        addPageFile(file.name, bytes);
        setFiles((before) => (before.includes(file.name) ? before : [...before, file.name]));
      }
    }
  };

  const runHere = async () => {
    const content = editor.current?.text() ?? text ?? '';
    const controller = new AbortController();
    abort.current = controller;
    setState('running');
    setRows([]);
    setMessages([]);
    setResult(undefined);
    setFailure([]);
    setProgress({ step: 0 });
    const flush = () => {
      const arrived = pending.current.rows;
      pending.current = { rows: [] };
      if (arrived.length > 0) setRows((before) => [...before, ...arrived]);
    };
    try {
      const outcome = await runInPage(
        { text: content, fileName: opened.fileName, quick },
        backend,
        {
          onStart: (info) => {
            setRunConfig(info.config);
            setProgress({ step: 0, ...(info.totalSteps !== undefined ? { total: info.totalSteps } : {}) });
          },
          onRow: (row) => {
            pending.current.rows.push(row);
            pending.current.timer ??= setTimeout(flush, REDRAW_MS);
          },
          onProgress: (step, total, loss) => setProgress({ step, ...(total !== undefined ? { total } : {}), ...(loss !== undefined ? { loss } : {}) }),
          onMessage: (line) => setMessages((before) => [...before, line]),
        },
        controller.signal,
      );
      if (pending.current.timer !== undefined) clearTimeout(pending.current.timer);
      flush();
      setResult(outcome);
      setState(outcome.status);
    } catch (error) {
      if (pending.current.timer !== undefined) clearTimeout(pending.current.timer);
      flush();
      setFailure(error instanceof ConfigError ? error.diagnostics.map((d) => (d.file === '' ? d.message : formatDiagnostic(d))) : [error instanceof Error ? error.message : String(error)]);
      setState('error');
    } finally {
      abort.current = undefined;
    }
  };

  const runOnMachine = async () => {
    const content = editor.current?.text() ?? text ?? '';
    setLaunch('starting');
    try {
      const unchanged = opened.experiment !== undefined && opened.original === content;
      setLaunch(await launchRun({ yaml: content, fileName: opened.fileName, quick, ...(unchanged ? { experiment: opened.experiment! } : {}) }));
    } catch (error) {
      setLaunch({ error: (error as Error).message });
    }
  };

  const busy = state === 'running';
  const usable = new Set(backendsHere.filter((b) => b.usable).map((b) => b.name));
  return (
    <main
      class="editor-page"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        void addFiles(e.dataTransfer?.files ?? null);
      }}
    >
      <header class="page-header">
        <h1>Experiment editor</h1>
        <div class="toolbar">
          <select
            aria-label="open an example"
            value={opened.experiment ?? ''}
            onChange={(e) => {
              const name = e.currentTarget.value;
              if (name !== '') void fetchExperimentText(name).then((content) => open({ fileName: name, experiment: name, original: content }, content));
            }}
          >
            <option value="">open an example…</option>
            {examples.map((x) => (
              <option key={x.file} value={x.file} title={x.description}>
                {x.file}
              </option>
            ))}
          </select>
          <label class="button">
            Open or add files
            <input type="file" multiple hidden onChange={(e) => void addFiles(e.currentTarget.files)} />
          </label>
          <input class="file-name" aria-label="file name" value={opened.fileName} onChange={(e) => setOpened({ fileName: e.currentTarget.value || 'experiment.yaml' })} />
        </div>
      </header>
      <div class="editor-layout">
        <div class="editor-column">
          {text !== undefined && (
            <YamlEditor
              initialText={text}
              schema={schema}
              validate={validate}
              onChange={setText}
              onProblems={(found, text) => {
                setProblems(found);
                setChecked(text);
              }}
              handle={(h) => (editor.current = h)}
            />
          )}
          <div class="problems" id="problems" data-count={problems.length} data-current={String(checked === text)}>
            {checked !== text ? (
              <p class="muted">checking…</p>
            ) : problems.length === 0 ? (
              <p class="ok">No problems: valid for `runner` (full and --quick).</p>
            ) : (
              <ul>
                {problems.map((d) => (
                  <li key={`${d.line}:${d.col}:${d.message}`} data-line={d.line} data-col={d.col}>
                    <button class="link" onClick={() => editor.current?.reveal(d.line, d.col)}>
                      {d.file === '' ? d.message : formatDiagnostic(d)}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </div>
          {files.length > 0 && (
            <p class="muted" id="page-files">
              Files beside the experiment (relative paths reach them): {files.join(', ')}
            </p>
          )}
          <p class="muted">Drop a .yaml to open it, or CSV and IDX files for `data:` to read.</p>
        </div>
        <div class="run-column" id="run-panel" data-state={state}>
          <div class="toolbar">
            <label>
              <input type="checkbox" checked={quick} onChange={(e) => setQuick(e.currentTarget.checked)} id="quick" /> --quick
            </label>
            <select aria-label="backend in this browser" id="backend" value={backend} onChange={(e) => setBackend(e.currentTarget.value as PageBackendChoice)}>
              <option value="experiment">backend: the experiment's (auto: best here)</option>
              {PAGE_BACKENDS.map((name) => (
                <option key={name} value={name} disabled={backendsHere.length > 0 && !usable.has(name)}>
                  {name}
                  {backendsHere.length > 0 && !usable.has(name) ? ' (not in this browser)' : ''}
                </option>
              ))}
            </select>
            {busy ? (
              <button id="stop" onClick={() => abort.current?.abort()}>
                Stop
              </button>
            ) : (
              <button id="run-here" class="primary" onClick={() => void runHere()}>
                Run in this browser
              </button>
            )}
            <button id="run-machine" disabled={!allowRuns || launch === 'starting'} title={allowRuns ? 'the runner CLI on the server, writing a run to the log folder' : 'start the dashboard with --allow-runs to run on this machine'} onClick={() => void runOnMachine()}>
              Run on this machine
            </button>
          </div>
          <LaunchNote launch={launch} />
          {state !== 'idle' && (
            <>
              <p class="facts" id="progress" data-step={progress.step}>
                <StatusBadge status={state} />
                <span>
                  step {progress.step}
                  {progress.total !== undefined ? ` of ${progress.total}` : ''}
                </span>
                {progress.loss !== undefined && <span>loss {progress.loss.toPrecision(4)}</span>}
                {result !== undefined && (
                  <span id="ms-per-step" data-value={String(result.msPerStep)} data-steady={String(steadyMsPerStep(rows) ?? '')}>
                    {result.msPerStep.toFixed(2)} ms per step on {result.backend.name}
                    {steadyMsPerStep(rows) !== undefined ? ` (${steadyMsPerStep(rows)!.toFixed(2)} after the first logged step)` : ''}
                  </span>
                )}
              </p>
              {failure.length > 0 && (
                <div class="error" role="alert" id="run-problems">
                  {failure.map((f) => (
                    <p key={f}>{f}</p>
                  ))}
                </div>
              )}
              <RunFigures run={{ dir: 'page', rows, ...(runConfig !== undefined ? { config: runConfig } : {}), ...(result?.predictions !== undefined ? { predictions: result.predictions } : {}) }} />
              {result !== undefined && (
                <div class="columns">
                  <Section title="Final metrics" id="page-metrics">
                    <MetricsTable metrics={result.metrics} />
                  </Section>
                  <Section title="Expectations" id="page-expectations">
                    <ExpectationsTable expectations={result.expectations} />
                  </Section>
                </div>
              )}
              <ul class="messages" id="messages">
                {messages.map((m, i) => (
                  <li key={i}>{m}</li>
                ))}
              </ul>
            </>
          )}
        </div>
      </div>
    </main>
  );
}

/**
 * Milliseconds per step between the first and the last logged row: the time per step once the
 * backend has warmed up (the first steps compile WebGL shaders and wasm kernels).
 */
function steadyMsPerStep(rows: MetricsRow[]): number | undefined {
  const timed = rows.filter((r) => r['timeMs'] !== undefined && r['step'] !== undefined);
  const [first, last] = [timed[0], timed.at(-1)];
  if (first === undefined || last === undefined || last['step']! <= first['step']!) return undefined;
  return (last['timeMs']! - first['timeMs']!) / (last['step']! - first['step']!);
}

function LaunchNote({ launch }: { launch: LaunchStatus | { error: string } | 'starting' | undefined }) {
  if (launch === undefined) return null;
  if (launch === 'starting') return <p class="muted" id="launch">starting the runner…</p>;
  if ('error' in launch) return <ErrorBox message={launch.error} />;
  const link = launch.kind === 'sweep' ? links.sweep(launch.path) : links.run(launch.path);
  return (
    <div id="launch" data-state={launch.state}>
      {launch.state === 'exited' && launch.exitCode !== 0 ? (
        <>
          <p class="error">The runner stopped (exit {String(launch.exitCode)}):</p>
          <pre class="output">{launch.output.join('\n')}</pre>
        </>
      ) : (
        <p>
          Running on this machine: <a href={link}>{launch.path}</a>
        </p>
      )}
    </div>
  );
}
