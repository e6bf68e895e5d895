import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { ConfigError, DataError } from '@dlexp/core';
import type { ApiError, LaunchRequest, RunEvent, RunListResponse, ServerStatus } from './api';
import { datasetFile, listDatasets, listExperiments, readExperiment } from './experiments';
import { followRun } from './follow-run';
import { Launcher, LaunchError, MAX_EXPERIMENT_BYTES, type RunnerCommand } from './launcher';
import { Logdir, NotServedError } from './logdir';
import { compareFolders, listLogdir, readRunDetail, readSweepDetail } from './read-runs';
import type { WebApp } from './web-app';

/** The dashboard's default port: not TensorBoard's 6006, so both can run side by side. */
export const DEFAULT_PORT = 6160;

export const DEFAULT_HOST = '127.0.0.1';

export interface DashboardOptions {
  /** The log folder: every run (a folder holding summary.json, at any depth) and sweep under it. */
  logdir: string;
  /** The built web app (see prepareWebApp). */
  app: Pick<WebApp, 'files'>;
  /** Default 127.0.0.1: only this machine can connect. */
  host?: string;
  /** Default DEFAULT_PORT; 0 takes any free port. */
  port?: number;
  /** Start runs on this machine when the page asks ("Run on this machine"); refused unless set. */
  allowRuns?: boolean;
  /** How to start the runner (needed with allowRuns). */
  runner?: RunnerCommand;
  /** Example experiments the editor can open (the files directly in this folder). */
  experimentsDir?: string;
  /** IDX datasets the page can fetch to train in the browser, by the name `data.type` gives them. */
  datasets?: Record<string, string>;
  /** Errors the server answered with 500 (bugs): the host decides whether to print them. */
  onError?: (error: unknown) => void;
}

export interface DashboardServer {
  url: string;
  host: string;
  port: number;
  server: Server;
  /** Stops listening, ends live streams and stops runs it started (they save a checkpoint). */
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The page may load only its own files and talk only to this server. 'unsafe-eval': ajv compiles
 * the experiment schema and Vega compiles chart expressions into functions; 'wasm-unsafe-eval':
 * the wasm backend compiles its WebAssembly.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host name of a Host header (`[::1]:6160` → `[::1]`, `localhost:6160` → `localhost`). */
function hostName(header: string): { name: string; port?: string } {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(header);
  return match === null ? { name: '' } : { name: match[1]!.toLowerCase(), ...(match[2] !== undefined ? { port: match[2] } : {}) };
}

/**
 * Starts the dashboard: the web app and its JSON API over the log folder. It serves the app's
 * files and, under /api/, what the runs hold (read with the plots library's readers); nothing else
 * on disk. Bound to loopback, it also refuses requests whose Host header names another machine,
 * so a web page elsewhere cannot reach it through DNS rebinding.
 */
export async function startDashboard(options: DashboardOptions): Promise<DashboardServer> {
  const logdir = new Logdir(options.logdir);
  const host = options.host ?? DEFAULT_HOST;
  const datasets = options.datasets ?? {};
  if (options.allowRuns === true && options.runner === undefined) throw new ConfigError('allowRuns needs the runner command to start runs with');
  const launcher = options.allowRuns === true ? new Launcher(logdir, options.runner!, options.experimentsDir) : undefined;
  const streams = new Set<() => void>();
  let port = options.port ?? DEFAULT_PORT;

  const checkHost = (request: IncomingMessage) => {
    if (!isLoopback(host)) return;
    const { name, port: given } = hostName(request.headers.host ?? '');
    if (!isLoopback(name) || (given !== undefined && Number(given) !== port)) throw new HttpError(421, `this dashboard answers only as localhost:${port}`);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    checkHost(request);
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    const method = request.method ?? 'GET';
    const path = url.pathname;
    if (path === '/api/launch') {
      if (method !== 'POST') throw new HttpError(405, 'POST a JSON experiment to /api/launch');
      return launch(request, response);
    }
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `${method} is not served`);
    if (path.startsWith('/api/')) return api(path, url.searchParams, request, response);
    return serveAppFile(path, response, method === 'HEAD');
  };

  const api = async (path: string, query: URLSearchParams, request: IncomingMessage, response: ServerResponse) => {
    const one = (name: string) => {
      const value = query.get(name);
      if (value === null) throw new HttpError(400, `missing ?${name}=`);
      return value;
    };
    if (path === '/api/status') return sendJson(response, 200, { logdir: logdir.given, allowRuns: launcher !== undefined } satisfies ServerStatus);
    if (path === '/api/runs') {
      const body: RunListResponse = { logdir: logdir.given, runs: listLogdir(logdir), allowRuns: launcher !== undefined };
      return sendJson(response, 200, body);
    }
    if (path === '/api/run') return sendJson(response, 200, readRunDetail(logdir, logdir.resolveRunFolder(one('path'), 'run').dir));
    if (path === '/api/sweep') return sendJson(response, 200, readSweepDetail(logdir, logdir.resolveRunFolder(one('path'), 'sweep').dir));
    if (path === '/api/compare') {
      const paths = query.getAll('path');
      if (paths.length === 0) throw new HttpError(400, 'give the runs to compare as ?path=a&path=b');
      return sendJson(response, 200, compareFolders(logdir, paths.map((p) => logdir.resolveRunFolder(p))));
    }
    if (path === '/api/events') return streamRun(one('path'), Number(query.get('from') ?? '0'), request, response);
    if (path === '/api/experiments') return sendJson(response, 200, options.experimentsDir === undefined ? [] : listExperiments(options.experimentsDir));
    if (path.startsWith('/api/experiments/')) {
      const text = readExperiment(options.experimentsDir, decodeURIComponent(path.slice('/api/experiments/'.length)));
      response.writeHead(200, { ...commonHeaders(), 'content-type': 'text/yaml; charset=utf-8', 'cache-control': 'no-store' });
      response.end(text);
      return;
    }
    if (path === '/api/datasets') return sendJson(response, 200, listDatasets(datasets));
    const dataset = /^\/api\/datasets\/([^/]+)\/([^/]+)$/.exec(path);
    if (dataset !== null) return sendFile(datasetFile(datasets, decodeURIComponent(dataset[1]!), decodeURIComponent(dataset[2]!)), 'application/octet-stream', response, 'max-age=3600');
    if (path === '/api/launches') return sendJson(response, 200, launcher?.list() ?? []);
    throw new HttpError(404, `${path}: no such API`);
  };

  const streamRun = (path: string, from: number, request: IncomingMessage, response: ServerResponse) => {
    const { dir } = logdir.resolveRunFolder(path, 'run');
    if (!Number.isInteger(from) || from < 0) throw new HttpError(400, '?from= must be a byte offset (a whole number ≥ 0)');
    response.writeHead(200, { ...commonHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    response.write(': following the run\n\n');
    const send = (event: RunEvent) => response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    const heartbeat = setInterval(() => response.write(': still here\n\n'), 15_000);
    const end = () => {
      clearInterval(heartbeat);
      stop();
      streams.delete(end);
      response.end();
    };
    const stop = followRun(dir, {
      from,
      send: (event) => {
        send(event);
        if (event.type === 'finished') setImmediate(end);
      },
      finished: () => readRunDetail(logdir, dir),
    });
    streams.add(end);
    request.on('close', end);
  };

  const launch = async (request: IncomingMessage, response: ServerResponse) => {
    // Only the page itself may start runs: a JSON body (which a form on another site cannot send
    // without a CORS preflight this server never answers) from this origin.
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host ?? ''}`) throw new HttpError(403, 'runs can be started only from the dashboard\'s own page');
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'runs can be started only from the dashboard\'s own page');
    if (!(request.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send the experiment as JSON (content-type: application/json)');
    if (launcher === undefined) throw new HttpError(403, 'starting runs is off: start the dashboard with --allow-runs to run experiments on this machine');
    const body = await readBody(request, MAX_EXPERIMENT_BYTES + 10_000);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'the body is not valid JSON');
    }
    try {
      return sendJson(response, 200, await launcher.launch(parsed as LaunchRequest));
    } catch (error) {
      if (error instanceof LaunchError) throw new HttpError(400, error.message);
      throw error;
    }
  };

  const serveAppFile = (path: string, response: ServerResponse, head: boolean) => {
    const file = options.app.files.get(path === '/' ? '/index.html' : path);
    if (file === undefined) throw new HttpError(404, `${path}: not a file of the dashboard`);
    const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
    // Vite names built assets by their content: they never change, so browsers may keep them.
    const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return sendFile(file, type, response, cache, head, type.startsWith('text/html') ? { 'content-security-policy': CONTENT_SECURITY_POLICY } : {});
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : error instanceof NotServedError ? error.status : error instanceof ConfigError || error instanceof DataError ? 422 : 500;
      if (status === 500) options.onError?.(error);
      const message = error instanceof Error ? error.message : String(error);
      if (response.headersSent) {
        response.end();
        return;
      }
      sendJson(response, status, { error: status === 500 ? `internal error: ${message}` : message } satisfies ApiError);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    server,
    async close() {
      for (const end of [...streams]) end();
      await launcher?.stopAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function commonHeaders(): Record<string, string> {
  return { 'x-content-type-options': 'nosniff', 'cross-origin-resource-policy': 'same-origin', 'referrer-policy': 'no-referrer' };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...commonHeaders(), 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

function sendFile(file: string, type: string, response: ServerResponse, cache: string, head = false, extra: Record<string, string> = {}): void {
  const size = statSync(file).size;
  response.writeHead(200, { ...commonHeaders(), ...extra, 'content-type': type, 'content-length': String(size), 'cache-control': cache });
  if (head) {
    response.end();
    return;
  }
  createReadStream(file).pipe(response);
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `the request is larger than ${limit} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
