/**
 * The dashboard's JSON API: what each request answers. The web app imports these types, so the
 * server and the pages agree on one definition. Paths are always relative to the log folder, with
 * '/' separators; the server never takes or gives an absolute path.
 */

/** A number per metric key (`test.accuracy`, `train.loss`, fetched values such as `k`). */
export type Metrics = Record<string, number>;

/** One row of metrics.jsonl: step, epoch, timeMs and every metric logged at that step. */
export type MetricsRow = Record<string, number>;

export type RunKind = 'run' | 'sweep' | 'trial';

/** GET /api/runs: every run and sweep under the log folder, at any depth. */
export interface RunListEntry {
  path: string;
  kind: RunKind;
  name: string;
  /** completed, failed, interrupted; `running` while a run has no summary.json; `incomplete` for such a sweep. */
  status: string;
  seed?: number;
  backend?: string;
  startedAt: string;
  metrics: Metrics;
  /** The few metrics the list shows (a sweep: `best <metric>`). */
  keyMetrics: Metrics;
  /** For a trial: the path of its sweep. */
  sweep?: string;
  /** For a sweep: how many trials it has. */
  trials?: number;
  /** Why its summary.json could not be read. */
  problem?: string;
}

export interface RunListResponse {
  /** The log folder as the server was told it. */
  logdir: string;
  runs: RunListEntry[];
  /** Whether "Run on this machine" is allowed (the server was started with --allow-runs). */
  allowRuns: boolean;
}

export interface ExpectationRecord {
  metric: string;
  min?: number;
  max?: number;
  actual?: number;
  met: boolean;
}

/** A layer (or a variable of an ops model) and its parameters. */
export interface ModelSummaryRow {
  name: string;
  type: string;
  /** The settings worth a glance: units, filters, kernel size, activation, rate. */
  details: string;
  /** Shapes of its weights, `[5, 5, 1, 32]`. */
  shapes: number[][];
  params: number;
  /** The shape of its output, null for the batch dimension. */
  outputShape?: (number | null)[];
}

export interface ModelSummary {
  /** Which file it was read from: model/model.json, model/tensors.json or graph.json. */
  source: string;
  rows: ModelSummaryRow[];
  totalParams: number;
}

export interface PredictionsTable {
  columns: string[];
  rows: number[][];
}

/** GET /api/run?path=: a single run (or a sweep's trial) with what its folder holds. */
export interface RunDetail {
  path: string;
  kind: 'run' | 'trial';
  /** For a trial: its sweep's path. */
  sweep?: string;
  name: string;
  status: string;
  seed?: number;
  backend?: string;
  startedAt?: string;
  metrics: Metrics;
  expectations: ExpectationRecord[];
  error?: string;
  /** summary.json as written (timing, versions, ...); absent while the run is going. */
  summary?: Record<string, unknown>;
  /** config.resolved.yaml: its text and parsed. */
  configText?: string;
  config?: Record<string, unknown>;
  rows: MetricsRow[];
  /** Bytes of metrics.jsonl the rows were read from: the live stream continues from there. */
  metricsOffset: number;
  predictions?: PredictionsTable;
  model?: ModelSummary;
  /** invocation.json: the file and options the run was started with. */
  invocation?: Record<string, unknown>;
  /** Files that could not be read but did not stop the page (a malformed predictions.csv). */
  problems: string[];
}

/**
 * GET /api/events?path=&from=: server-sent events following a run. `rows` carries rows appended
 * to metrics.jsonl since `from`; `reset` all rows, when the file was cut back (a resumed run
 * drops what it logged after its checkpoint); `finished` the run's detail once summary.json is
 * written, after which the stream ends.
 */
export type RunEvent =
  | { type: 'rows'; rows: MetricsRow[]; offset: number }
  | { type: 'reset'; rows: MetricsRow[]; offset: number }
  | { type: 'finished'; run: RunDetail };

export interface SweepTrialEntry {
  id: string;
  parameters: Record<string, unknown>;
  status: string;
  metrics: Metrics;
  expectationsMet?: boolean;
  /** The trial's run folder, when it has one. */
  path?: string;
  seed?: number;
  repeat?: number;
  configuration?: number;
  repeats: { seed?: number; status?: string; metrics: Metrics; path?: string }[];
}

/** GET /api/sweep?path=: a sweep, its trials and each trial's logged rows. */
export interface SweepDetail {
  path: string;
  name: string;
  status: string;
  method?: string;
  metric?: string;
  goal?: 'maximize' | 'minimize';
  parameterNames: string[];
  trials: SweepTrialEntry[];
  bestId?: string;
  bestIds: string[];
  configurations: { configuration: number; values: Record<string, unknown>; trialIds: string[]; status: string; metric?: { mean: number; std: number; count: number } }[];
  /** metrics.jsonl of each trial that has one, by trial id. */
  trialRows: Record<string, MetricsRow[]>;
  problems: string[];
}

/** GET /api/compare?path=a&path=b: runs side by side (a sweep counts as each of its trials). */
export interface ComparedRunEntry {
  /** A short name unique among the compared runs. */
  label: string;
  path: string;
  kind: 'run' | 'trial';
  name: string;
  status: string;
  seed?: number;
  sweep?: { path: string; trial: string };
  /** The resolved config flattened to dotted paths (`train.optimizer.learningRate`). */
  config: Record<string, unknown>;
  metrics: Metrics;
  expectationsMet?: boolean;
  rows: MetricsRow[];
}

export interface ComparisonResponse {
  runs: ComparedRunEntry[];
  /** Config paths whose values are not the same in every run. */
  differingKeys: string[];
  metricKeys: string[];
}

/** GET /api/experiments: the example experiments the editor can open. */
export interface ExperimentEntry {
  file: string;
  name: string;
  description?: string;
}

/** GET /api/datasets: datasets the page can fetch to train in the browser, and which files each has. */
export interface DatasetEntry {
  name: string;
  files: string[];
}

/** POST /api/launch (only with --allow-runs): runs an experiment with the runner on this machine. */
export interface LaunchRequest {
  /** The experiment's text. */
  yaml: string;
  /** Its file name, for messages and for the saved copy (`mnist-cnn.yaml`). */
  fileName: string;
  /** When the text is an example experiment unchanged: its file name, so the runner reads the original (and its relative paths hold). */
  experiment?: string;
  quick?: boolean;
  /** --backend for the runner (default: the experiment's own). */
  backend?: string;
}

export interface LaunchStatus {
  id: string;
  /** `starting` until the run folder appears; `running` while the runner works; `exited` after. */
  state: 'starting' | 'running' | 'exited';
  /** The run (or sweep) folder the runner writes. */
  path: string;
  /** What the folder holds, once it exists: a run, or a sweep (its trials/ folder appeared). */
  kind?: 'run' | 'sweep';
  exitCode?: number | null;
  /** The runner's last lines of output (its diagnostics when the experiment is invalid). */
  output: string[];
  startedAt: string;
}

/** GET /api/status: what the page needs to know of the server. */
export interface ServerStatus {
  logdir: string;
  allowRuns: boolean;
}

/** The body of every error answer. */
export interface ApiError {
  error: string;
}
