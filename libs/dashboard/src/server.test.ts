import { appendFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComparisonResponse, LaunchStatus, RunDetail, RunEvent, RunListResponse, SweepDetail } from './api';
import { startDashboard, type DashboardServer } from './server';
import { appFiles } from './web-app';
import { LAYERS_GRAPH, LAYERS_MODEL_JSON, rawRequest, temporaryFolder, writeRun, writeSummary, writeSweep } from './test-fixtures';

const base = temporaryFolder('server');
const logdir = join(base, 'runs');
const appDir = join(base, 'app');
const experimentsDir = join(base, 'experiments');
const mnistDir = join(base, 'mnist');
let dashboard: DashboardServer;

beforeAll(async () => {
  writeRun(join(logdir, 'lr', 'a'), { name: 'lr' });
  writeRun(join(logdir, 'deep', 'er', 'mnist'), { name: 'mnist', graph: LAYERS_GRAPH, modelJson: LAYERS_MODEL_JSON, metrics: { 'test.accuracy': 0.9, 'train.loss': 0.3 } });
  writeRun(join(logdir, 'going'), { name: 'going', running: true });
  writeSweep(join(logdir, 'sweeps', 'lr-sweep'));
  // What the server must never hand out: a file beside the log folder, and a link leading to it.
  writeFileSync(join(base, 'secret.txt'), 'not for the page');
  mkdirSync(join(base, 'outside-run'));
  writeRun(join(base, 'outside-run', 'r'), { name: 'outside' });
  symlinkSync(join(base, 'outside-run', 'r'), join(logdir, 'link-out'));
  mkdirSync(join(appDir, 'assets'), { recursive: true });
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(appDir, 'assets', 'app-1234.js'), 'console.log(1)');
  mkdirSync(experimentsDir);
  writeFileSync(join(experimentsDir, 'one.yaml'), 'name: one\ndescription: the first\n');
  writeFileSync(join(experimentsDir, 'notes.txt'), 'not an experiment');
  mkdirSync(mnistDir);
  writeFileSync(join(mnistDir, 't10k-labels-idx1-ubyte'), Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 7]));
  dashboard = await startDashboard({ logdir, app: { files: appFiles(appDir) }, port: 0, experimentsDir, datasets: { mnist: mnistDir } });
});

afterAll(async () => {
  await dashboard.close();
});

const get = (path: string, headers: Record<string, string> = {}) => rawRequest(dashboard.port, path, { headers });
const json = async <T>(path: string): Promise<T> => {
  const response = await get(path);
  expect(response.status, response.body).toBe(200);
  return JSON.parse(response.body) as T;
};

describe('the dashboard server', () => {
  it('binds to loopback by default and prints a loopback URL', async () => {
    const plain = await startDashboard({ logdir, app: { files: appFiles(appDir) }, port: 0 });
    try {
      expect(plain.host).toBe('127.0.0.1');
      expect((plain.server.address() as { address: string }).address).toBe('127.0.0.1');
      expect(plain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      // From another interface of this machine, nothing answers.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
      if (external !== undefined) await expect(rawRequest(plain.port, '/api/runs', { host: external.address })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await plain.close();
    }
  });

  it('lists every run at any depth, sweeps with their trials, and runs still going', async () => {
    const list = await json<RunListResponse>('/api/runs');
    expect(list.allowRuns).toBe(false);
    const byPath = new Map(list.runs.map((r) => [r.path, r]));
    expect([...byPath.keys()].sort()).toEqual(['deep/er/mnist', 'going', 'lr/a', 'sweeps/lr-sweep', 'sweeps/lr-sweep/trials/trial-001', 'sweeps/lr-sweep/trials/trial-002']);
    expect(byPath.get('going')!.status).toBe('running');
    expect(byPath.get('deep/er/mnist')).toMatchObject({ kind: 'run', name: 'mnist', status: 'completed', seed: 3, backend: 'cpu', keyMetrics: { 'test.accuracy': 0.9 } });
    expect(byPath.get('sweeps/lr-sweep')).toMatchObject({ kind: 'sweep', trials: 2, keyMetrics: { 'best train.loss': 0.2 } });
    expect(byPath.get('sweeps/lr-sweep/trials/trial-001')!.sweep).toBe('sweeps/lr-sweep');
    // The link out of the log folder is not followed.
    expect(list.runs.some((r) => r.name === 'outside')).toBe(false);
  });

  it('gives a run with its config, rows, expectations and model summary', async () => {
    const run = await json<RunDetail>('/api/run?path=deep/er/mnist');
    expect(run).toMatchObject({ path: 'deep/er/mnist', kind: 'run', name: 'mnist', status: 'completed', seed: 3, backend: 'cpu' });
    expect(run.rows).toHaveLength(2);
    expect(run.metricsOffset).toBeGreaterThan(0);
    expect(run.configText).toContain('learningRate: 0.2');
    expect(run.expectations[0]).toMatchObject({ metric: 'k', met: true });
    expect(run.model!.rows.map((r) => [r.name, r.type, r.details, r.params])).toEqual([
      ['input', 'Input', '', 0],
      ['dense_0', 'Dense', 'units 10, activation softmax', 7850],
    ]);
    expect(run.model!.rows[1]!.outputShape).toEqual([null, 10]);
    const ops = await json<RunDetail>('/api/run?path=lr/a');
    expect(ops.model!.rows.map((r) => `${r.name}:${r.type}:${r.params}`)).toEqual(['x:placeholder:0', 'k:variable:1', 'b:variable:1']);
  });

  it('gives a sweep with its trials and their rows, and compares runs by what differs', async () => {
    const sweep = await json<SweepDetail>('/api/sweep?path=sweeps/lr-sweep');
    expect(sweep).toMatchObject({ name: 'sweep-fixture', metric: 'train.loss', goal: 'minimize', bestId: 'trial-002', parameterNames: ['train.optimizer.learningRate'] });
    expect(sweep.trials.map((t) => t.path)).toEqual(['sweeps/lr-sweep/trials/trial-001', 'sweeps/lr-sweep/trials/trial-002']);
    expect(Object.keys(sweep.trialRows)).toEqual(['trial-001', 'trial-002']);
    const comparison = await json<ComparisonResponse>('/api/compare?path=lr/a&path=sweeps/lr-sweep');
    expect(comparison.runs.map((r) => r.path)).toEqual(['lr/a', 'sweeps/lr-sweep/trials/trial-001', 'sweeps/lr-sweep/trials/trial-002']);
    expect(comparison.differingKeys).toEqual(['name', 'seed', 'train.optimizer.learningRate', 'train.steps']);
    expect(comparison.runs[1]!.sweep).toEqual({ path: 'sweeps/lr-sweep', trial: 'trial-001' });
    expect(comparison.runs[0]!.rows).toHaveLength(2);
  });

  it('refuses every path out of the log folder, and serves only the app\'s own files', async () => {
    const attempts = [
      '/api/run?path=../outside-run/r',
      '/api/run?path=..%2Foutside-run%2Fr',
      '/api/run?path=lr/../../outside-run/r',
      `/api/run?path=${encodeURIComponent(join(base, 'outside-run', 'r'))}`,
      '/api/run?path=link-out',
      '/api/run?path=lr%5C..%5C..%5Coutside-run%5Cr',
      '/api/run?path=lr/a%00',
      '/api/events?path=../outside-run/r',
      '/api/sweep?path=../outside-run',
      '/api/compare?path=lr/a&path=../outside-run/r',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/../../secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/runs/lr/a/summary.json',
      '/api/experiments/..%2Fsecret.txt',
      '/api/experiments/notes.txt',
      '/api/datasets/mnist/..%2F..%2Fsecret.txt',
      '/api/datasets/other/t10k-labels-idx1-ubyte',
    ];
    for (const path of attempts) {
      const response = await get(path);
      expect([400, 403, 404], `${path} → ${response.status}`).toContain(response.status);
      expect(response.body, path).not.toContain('not for the page');
      expect(response.body, path).not.toContain('"name":"outside"');
    }
    expect((await get('/')).body).toContain('<title>app</title>');
    const script = await get('/assets/app-1234.js');
    expect(script.headers['content-type']).toContain('text/javascript');
    expect(script.headers['cache-control']).toContain('immutable');
    const page = await get('/');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
  });

  it('answers only to loopback host names, so other sites cannot reach it by DNS rebinding', async () => {
    expect((await get('/api/runs', { host: 'evil.example' })).status).toBe(421);
    expect((await get('/api/runs', { host: `localhost:${dashboard.port + 1}` })).status).toBe(421);
    expect((await get('/api/runs', { host: `localhost:${dashboard.port}` })).status).toBe(200);
    expect((await get('/api/runs', { host: `[::1]:${dashboard.port}` })).status).toBe(200);
  });

  it('serves the example experiments and the dataset files by their standard names', async () => {
    expect(await json('/api/experiments')).toEqual([{ file: 'one.yaml', name: 'one', description: 'the first' }]);
    expect((await get('/api/experiments/one.yaml')).body).toBe('name: one\ndescription: the first\n');
    expect(await json('/api/datasets')).toEqual([{ name: 'mnist', files: ['t10k-labels-idx1-ubyte'] }]);
    const labels = await get('/api/datasets/mnist/t10k-labels-idx1-ubyte');
    expect(labels.status).toBe(200);
    expect(labels.headers['content-length']).toBe('9');
  });

  it('refuses to start runs unless started with --allow-runs, and only from its own page', async () => {
    const post = (headers: Record<string, string>) => rawRequest(dashboard.port, '/api/launch', { method: 'POST', headers, body: JSON.stringify({ yaml: 'name: x', fileName: 'x.yaml' }) });
    const refused = await post({ 'content-type': 'application/json' });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('--allow-runs');
    expect((await post({ 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post({ 'content-type': 'application/json', origin: 'http://evil.example' })).status).toBe(403);
    expect((await rawRequest(dashboard.port, '/api/launch')).status).toBe(405);
    expect((await rawRequest(dashboard.port, '/api/runs', { method: 'DELETE' })).status).toBe(405);
  });

  it('streams the rows a running run appends, and its summary when it ends', async () => {
    const dir = join(logdir, 'going');
    const start = await json<RunDetail>('/api/run?path=going');
    expect(start.status).toBe('running');
    const events: RunEvent[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: dashboard.port, path: `/api/events?path=going&from=${start.metricsOffset}` }, (response: IncomingMessage) => {
        expect(response.headers['content-type']).toContain('text/event-stream');
        let buffer = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffer += chunk;
          for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
            const data = buffer.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
            buffer = buffer.slice(cut + 2);
            if (data !== undefined) events.push(JSON.parse(data.slice(6)) as RunEvent);
          }
        });
        response.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const waitFor = async (count: number) => {
      for (let i = 0; i < 200 && events.length < count; i++) await new Promise((r) => setTimeout(r, 25));
      expect(events.length).toBeGreaterThanOrEqual(count);
    };
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify({ step: 3, 'train.loss': 0.125 })}\n{"step": 4, "train.lo`);
    await waitFor(1);
    expect(events[0]).toMatchObject({ type: 'rows', rows: [{ step: 3, 'train.loss': 0.125 }] });
    // The half-written line arrives once it is whole.
    appendFileSync(join(dir, 'metrics.jsonl'), 'ss": 0.0625}\n');
    await waitFor(2);
    expect(events[1]).toMatchObject({ type: 'rows', rows: [{ step: 4, 'train.loss': 0.0625 }] });
    writeSummary(dir, { name: 'going' });
    await ended;
    const finished = events.at(-1)!;
    expect(finished.type).toBe('finished');
    expect(finished.type === 'finished' && finished.run.status).toBe('completed');
    expect(finished.type === 'finished' && finished.run.rows).toHaveLength(4);
  });
});

describe('starting runs on this machine', () => {
  it('runs the runner as a child process that writes a run folder under the log folder', async () => {
    // A stand-in for the runner: writes a run folder at --out, or fails like an invalid experiment.
    const fakeRunner = join(base, 'fake-runner.mjs');
    writeFileSync(
      fakeRunner,
      `import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
const [file, , out] = process.argv.slice(2);
if (readFileSync(file, 'utf8').includes('broken')) { console.error(file + ':1:1: broken experiment'); process.exit(2); }
mkdirSync(out, { recursive: true });
writeFileSync(out + '/config.resolved.yaml', 'name: launched\\n');
writeFileSync(out + '/metrics.jsonl', '');
setTimeout(() => {}, 200);
`,
    );
    const launching = await startDashboard({ logdir, app: { files: appFiles(appDir) }, port: 0, allowRuns: true, runner: { command: process.execPath, args: [fakeRunner], cwd: base }, experimentsDir });
    try {
      const post = (body: unknown) =>
        rawRequest(launching.port, '/api/launch', { method: 'POST', headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${launching.port}` }, body: JSON.stringify(body) });
      const started = await post({ yaml: 'name: launched\n', fileName: 'mine.yaml', quick: true });
      expect(started.status, started.body).toBe(200);
      const status = JSON.parse(started.body) as LaunchStatus;
      expect(status).toMatchObject({ state: 'running', kind: 'run' });
      expect(status.path).toMatch(/^launched\/\d{8}-\d{6}-web$/);
      const list = JSON.parse((await rawRequest(launching.port, '/api/runs')).body) as RunListResponse;
      expect(list.allowRuns).toBe(true);
      expect(JSON.parse((await rawRequest(launching.port, '/api/status')).body)).toMatchObject({ allowRuns: true });
      expect(list.runs.find((r) => r.path === status.path)?.status).toBe('running');
      const broken = JSON.parse((await post({ yaml: 'name: broken\n', fileName: 'broken.yaml' })).body) as LaunchStatus;
      expect(broken).toMatchObject({ state: 'exited', exitCode: 2 });
      expect(broken.output.join('\n')).toContain('broken experiment');
      expect((await post({ yaml: 'name: x', fileName: '../x.yaml' })).status).toBe(400);
      expect((await post({ fileName: 'x.yaml' })).status).toBe(400);
    } finally {
      await launching.close();
    }
  });
});
