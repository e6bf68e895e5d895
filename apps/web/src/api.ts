import type {
  ApiError,
  ComparisonResponse,
  DatasetEntry,
  ExperimentEntry,
  LaunchRequest,
  LaunchStatus,
  RunDetail,
  RunEvent,
  RunListResponse,
  ServerStatus,
  SweepDetail,
} from '@dlexp/dashboard';

/** The dashboard server's API, from the page: one function per request. */

export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(response: Response): Promise<T> {
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = ((await response.json()) as ApiError).error;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new ApiRequestError(response.status, message);
  }
  return (await response.json()) as T;
}

const getJson = async <T>(path: string): Promise<T> => answer<T>(await fetch(path, { headers: { accept: 'application/json' } }));

const pathQuery = (path: string) => `path=${encodeURIComponent(path)}`;

export const fetchRuns = () => getJson<RunListResponse>('/api/runs');
export const fetchRun = (path: string) => getJson<RunDetail>(`/api/run?${pathQuery(path)}`);
export const fetchSweep = (path: string) => getJson<SweepDetail>(`/api/sweep?${pathQuery(path)}`);
export const fetchComparison = (paths: string[]) => getJson<ComparisonResponse>(`/api/compare?${paths.map(pathQuery).join('&')}`);
export const fetchExperiments = () => getJson<ExperimentEntry[]>('/api/experiments');
export const fetchDatasets = () => getJson<DatasetEntry[]>('/api/datasets');
export const fetchLaunches = () => getJson<LaunchStatus[]>('/api/launches');

export async function fetchExperimentText(file: string): Promise<string> {
  const response = await fetch(`/api/experiments/${encodeURIComponent(file)}`);
  if (!response.ok) throw new ApiRequestError(response.status, `${file}: ${response.status} ${response.statusText}`);
  return response.text();
}

export async function fetchDatasetFile(dataset: string, file: string): Promise<Uint8Array> {
  const response = await fetch(`/api/datasets/${encodeURIComponent(dataset)}/${encodeURIComponent(file)}`);
  if (!response.ok) throw new ApiRequestError(response.status, `${dataset}/${file}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function launchRun(request: LaunchRequest): Promise<LaunchStatus> {
  return answer<LaunchStatus>(await fetch('/api/launch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) }));
}

/**
 * Follows a running run (server-sent events): the rows appended since `from`, then the run once
 * it has finished. Returns `close`.
 */
export function followRun(path: string, from: number, onEvent: (event: RunEvent) => void, onError: () => void): () => void {
  const source = new EventSource(`/api/events?${pathQuery(path)}&from=${from}`);
  const listener = (message: MessageEvent<string>) => {
    const event = JSON.parse(message.data) as RunEvent;
    onEvent(event);
    if (event.type === 'finished') source.close();
  };
  for (const type of ['rows', 'reset', 'finished']) source.addEventListener(type, listener as EventListener);
  source.onerror = () => {
    // The browser reconnects by itself; the caller only shows that the stream is interrupted.
    if (source.readyState === EventSource.CLOSED) onError();
  };
  return () => source.close();
}

export const fetchStatus = () => getJson<ServerStatus>('/api/status');
