/**
 * The dashboard's server: the web app (built once and cached) and a JSON API over a log folder —
 * the run list, a run with its config, curves, model and expectations, live rows while it trains
 * (server-sent events), sweeps, comparisons — and, when allowed, runs started on this machine
 * through the runner CLI. It serves the app and what lies under the log folder, nothing else; it
 * never prints and never touches the process: the host (the runner's `ui` command) does.
 */
export { startDashboard, DEFAULT_PORT, DEFAULT_HOST, isLoopback } from './server';
export type { DashboardOptions, DashboardServer } from './server';
export { prepareWebApp, hashSources, appFiles, WebAppBuildError } from './web-app';
export type { WebApp, WebAppSources } from './web-app';
export { Logdir, NotServedError } from './logdir';
export { Launcher, LaunchError, LAUNCHED_FOLDER, safeSegment } from './launcher';
export type { RunnerCommand } from './launcher';
export { readRowsFrom } from './metrics-file';
export type { RowsRead } from './metrics-file';
export { followRun } from './follow-run';
export type { FollowOptions } from './follow-run';
export { readModelSummary } from './model-summary';
export { listLogdir, readRunDetail, readSweepDetail, compareFolders } from './read-runs';
export { listExperiments, readExperiment, listDatasets, datasetFile, IDX_FILES } from './experiments';
export type * from './api';
