import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, parseQueueUrl, QUEUE_PREFIX, redisOptions, redisServerPath, startLocalRedis, type LocalRedis } from '@dlexp/queue';
import { ROOT, RUNNER_BIN, runner, runnerEnvironment, temporaryFolder } from './helpers';
import { mnistSweep } from './fixtures/mnist-sweep';

/*
 * Distributed sweeps end to end: a coordinator (`runner <sweep> --queue URL`) and workers
 * (`runner worker --queue URL`) in processes of their own, on a Redis started here on the loopback
 * interface (and stopped at the end). Where redis-server is not installed these tests are skipped,
 * except with DLEXP_REQUIRE_REDIS=1 (CI), where they fail.
 */

interface TrialEntry {
  id: string;
  values: Record<string, unknown>;
  seed: number;
  status: string;
  metrics: Record<string, number | null>;
  intermediate: { epoch: number; value: number | null }[];
  epoch?: number;
  attempts?: number;
  runDirectory: string;
}

interface SweepSummary {
  status: string;
  trials: TrialEntry[];
  ranking: number[];
  best: unknown;
}

const summaryOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as SweepSummary;

/** What must be the same whether the trials ran here or on workers, killed or not. */
const outcome = (summary: SweepSummary) => ({
  trials: summary.trials.map((t) => ({ id: t.id, values: t.values, seed: t.seed, status: t.status, metrics: t.metrics, intermediate: t.intermediate, epoch: t.epoch })),
  ranking: summary.ranking,
  best: summary.best,
});

/** A trial's logged rows without their times. */
const rowsOf = (dir: string, trial: TrialEntry) =>
  readFileSync(join(dir, trial.runDirectory, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { timeMs: _time, ...row } = JSON.parse(line) as Record<string, number>;
      return row;
    });

/** A worker process, its output kept as it comes. */
interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startWorker(url: string, args: string[] = [], cwd = ROOT): WorkerProcess {
  const child = spawn(RUNNER_BIN, ['worker', '--queue', url, '--lock-ms', '2000', ...args], { cwd, env: runnerEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

/** The jobs of one sweep in the queue, by id. */
async function jobsOf(url: string, sweepId: string): Promise<string[]> {
  const queue = new Queue('dlexp-trials', { connection: redisOptions(parseQueueUrl(url)), prefix: QUEUE_PREFIX });
  try {
    const jobs = await queue.getJobs(['completed', 'failed', 'active', 'wait', 'delayed']);
    return jobs.map((j) => j.id ?? '').filter((id) => id.startsWith(`${sweepId}.`));
  } finally {
    await queue.close();
  }
}

const haveRedis = redisServerPath() !== undefined || process.env['DLEXP_REQUIRE_REDIS'] === '1';

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A private CA and a certificate it signed for 127.0.0.1, made with openssl for the test. */
function certificates(): { ca: string; cert: string; key: string } {
  const dir = temporaryFolder('queue-tls-');
  const files = { ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), csr: join(dir, 'server.csr'), ext: join(dir, 'ext.cnf') };
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.caKey, '-out', files.ca, '-days', '2', '-subj', '/CN=dlexp test CA']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', files.csr, '-subj', '/CN=localhost']);
  writeFileSync(files.ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(['x509', '-req', '-in', files.csr, '-CA', files.ca, '-CAkey', files.caKey, '-CAcreateserial', '-out', files.cert, '-days', '2', '-extfile', files.ext]);
  return { ca: files.ca, cert: files.cert, key: files.key };
}

describe('a bad queue is a clear error within seconds, not a hang', () => {
  it('a malformed URL, or --queue without a sweep, is refused before anything starts (exit 2)', async () => {
    const folder = temporaryFolder('queue-bad-url-');
    const out = join(folder, 'sweep');
    const malformed = await runner([mnistSweep(), '--queue', 'http://localhost:6379', '--out', out]);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain("--queue http://localhost:6379: the scheme must be redis or rediss, not 'http'");
    expect(existsSync(out)).toBe(false);
    const noSweep = await runner(['experiments/linear-regression.yaml', '--queue', 'redis://127.0.0.1:6379/0']);
    expect(noSweep.status).toBe(2);
    expect(noSweep.stderr).toContain('--queue runs the trials of a sweep on workers, and experiments/linear-regression.yaml has no sweep: block');
    const worker = await runner(['worker', '--queue', 'redis://h:99999']);
    expect(worker.status).toBe(2);
    expect(worker.stderr).toContain("--queue redis://h:99999: the port must be a number from 1 to 65535, not '99999'");
  });

  it('nothing listening at the URL: the coordinator and a worker say so and exit 2 within seconds', async () => {
    const port = await freePort();
    const out = join(temporaryFolder('queue-unreachable-'), 'sweep');
    const started = Date.now();
    const coordinator = await runner([mnistSweep(), '--queue', `redis://127.0.0.1:${port}/0`, '--out', out], { timeoutMs: 60_000 });
    expect(coordinator.status).toBe(2);
    expect(coordinator.stderr).toContain(`--queue redis://127.0.0.1:${port}/0: nothing accepts connections at 127.0.0.1:${port} (is redis-server running there?)`);
    expect(existsSync(out)).toBe(false);
    const worker = await runner(['worker', '--queue', `redis://127.0.0.1:${port}`], { timeoutMs: 60_000 });
    expect(worker.status).toBe(2);
    expect(worker.stderr).toContain(`nothing accepts connections at 127.0.0.1:${port}`);
    // Two runner starts (a few seconds each on a busy 2-core machine) and no waiting on the network.
    expect(Date.now() - started).toBeLessThan(40_000);
  });
});

describe.skipIf(!haveRedis)('sweeps on workers through Redis', () => {
  let redis: LocalRedis;
  let secured: LocalRedis;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    redis = await startLocalRedis();
    secured = await startLocalRedis({ password: 'correct horse' });
  });
  // A test that fails half-way must not leave its workers to take the next test's trials.
  afterEach(async () => {
    await stopWorkers(workers.splice(0));
  });
  afterAll(async () => {
    await redis?.stop();
    await secured?.stop();
  });

  it('a wrong or missing password is a clear error (exit 2); the right one is used', async () => {
    const file = mnistSweep();
    const out = join(temporaryFolder('queue-password-'), 'sweep');
    const wrong = await runner([file, '--queue', `redis://:staple@127.0.0.1:${secured.port}/0`, '--out', out]);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain(`--queue redis://:***@127.0.0.1:${secured.port}/0: Redis refused the password (WRONGPASS`);
    expect(wrong.stderr).not.toContain('staple');
    const missing = await runner(['worker', '--queue', `redis://127.0.0.1:${secured.port}/0`]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('Redis asks for a password, and the URL has none');
    expect(existsSync(out)).toBe(false);
    const right = startWorker(`redis://:correct%20horse@127.0.0.1:${secured.port}/0`);
    workers.push(right);
    await waitFor('the worker to listen', () => right.output().includes(`taking trials from queue dlexp-trials at redis://:***@127.0.0.1:${secured.port}/0`), 60_000);
    expect(right.output()).not.toContain('correct');
  });

  it.skipIf(!haveOpenssl)('rediss:// speaks TLS: a certificate from a private CA is refused, saying how to trust it, then accepted', async () => {
    const files = certificates();
    const tls = await startLocalRedis({ password: 'over tls', tls: files });
    try {
      expect(tls.url).toMatch(/^rediss:\/\//);
      const untrusted = await runner(['worker', '--queue', tls.url]);
      expect(untrusted.status).toBe(2);
      expect(untrusted.stderr).toContain(`--queue rediss://:***@127.0.0.1:${tls.port}/0: the TLS handshake failed: self-signed certificate in certificate chain`);
      expect(untrusted.stderr).toContain('NODE_EXTRA_CA_CERTS');
      const child = spawn(RUNNER_BIN, ['worker', '--queue', tls.url], { cwd: ROOT, env: runnerEnvironment({ NODE_EXTRA_CA_CERTS: files.ca }), stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      const worker = { child, output: () => text, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
      workers.push(worker);
      await waitFor('the worker to listen over TLS', () => text.includes(`taking trials from queue dlexp-trials at rediss://:***@127.0.0.1:${tls.port}/0`) || worker.child.exitCode !== null, 60_000);
      expect(text).toContain('taking trials');
      await stopWorkers(workers.splice(0));
    } finally {
      await tls.stop();
    }
  });

  it('a worker without the trial\'s data file fails the trial at once, saying where it looked; the sweep ends', async () => {
    const folder = temporaryFolder('queue-csv-');
    writeFileSync(join(folder, 'points.csv'), `x,y\n${Array.from({ length: 20 }, (_, i) => `${i / 20},${(0.1 * i) / 20 + 0.2}`).join('\n')}\n`);
    const file = join(folder, 'csv-sweep.yaml');
    writeFileSync(
      file,
      `name: csv-sweep
seed: 1
backend: cpu
data: {type: csv, train: points.csv, features: [x], labels: [y]}
model:
  type: ops
  placeholders: {x: {shape: [null, 1]}, y: {shape: [null, 1]}}
  variables: {k: {initializer: {type: zeros}}, b: {initializer: {type: zeros}}}
  nodes: {prediction: k * x + b, loss: reduceMean(square(y - prediction))}
  loss: loss
train: {optimizer: {type: sgd, learningRate: 0.2}, steps: 5}
tensorboard: false
plots: false
sweep:
  parameters: {train.optimizer.learningRate: {values: [0.1, 0.2]}}
  metric: train.loss
  goal: minimize
`,
    );
    // The worker runs elsewhere: the experiment's folder, found from its own, holds no points.csv.
    const workerRoot = temporaryFolder('queue-elsewhere-');
    const elsewhere = join(workerRoot, 'a', 'b', 'c');
    mkdirSync(elsewhere, { recursive: true });
    workers.push(startWorker(redis.url, [], elsewhere));
    const out = join(folder, 'out');
    const result = await runner([file, '--queue', redis.url, '--out', out]);
    expect(result.status).toBe(1);
    const summary = summaryOf(out);
    expect(summary.trials.map((t) => [t.status, t.attempts])).toEqual([
      ['failed', 1],
      ['failed', 1],
    ]);
    const error = (summary.trials[0] as TrialEntry & { error?: string }).error!;
    expect(error).toMatch(/^dataset csv: points\.csv \(looked for .*points\.csv\) is not on this worker; give it the same file as the coordinator's$/);
    // Looked for from the worker's own folder, not at the coordinator's path.
    expect(error).toContain(`(looked for ${workerRoot}/`);
    expect(result.stdout).toContain('trial-001 failed: dataset csv: points.csv');
  });

  it('two workers, one killed mid-trial: every trial recorded once, with the metrics of a local run; the lost trial resumes from its checkpoint', async () => {
    const file = mnistSweep();
    const local = join(temporaryFolder('queue-local-'), 'sweep');
    expect((await runner([file, '--out', local])).status).toBe(0);

    const checkpoints = temporaryFolder('queue-checkpoints-');
    const [first, second] = [startWorker(redis.url, ['--checkpoints', checkpoints]), startWorker(redis.url, ['--checkpoints', checkpoints])];
    workers.push(first!, second!);
    await waitFor('the workers to listen', () => first!.output().includes('taking trials') && second!.output().includes('taking trials'));

    const out = join(temporaryFolder('queue-remote-'), 'sweep');
    const coordinator = runner([file, '--queue', redis.url, '--out', out]);
    // Kill whichever worker first reaches the end of an epoch in a trial: mid-trial, after a checkpoint.
    let victim: WorkerProcess | undefined;
    await waitFor('a trial to finish its first epoch on a worker', () => {
      victim = [first!, second!].find((w) => /\] step 10 \(epoch 1\)/.test(w.output()));
      return victim !== undefined;
    });
    victim!.child.kill('SIGKILL');
    const survivor = victim === first ? second! : first!;

    const result = await coordinator;
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/its worker stopped answering \(killed, or cut off from Redis\): the trial goes back to the queue/);
    const remote = summaryOf(out);
    expect(remote.status).toBe('completed');
    expect(outcome(remote)).toEqual(outcome(summaryOf(local)));
    // Once each, the lost one counted twice; each trial's folder as a local sweep's, checkpoints aside.
    expect(remote.trials.map((t) => t.id)).toEqual(['trial-001', 'trial-002', 'trial-003', 'trial-004']);
    expect(remote.trials.map((t) => t.attempts).sort()).toEqual([1, 1, 1, 2]);
    for (const trial of remote.trials) {
      expect(rowsOf(out, trial)).toEqual(rowsOf(local, trial));
      expect(existsSync(join(out, trial.runDirectory, 'summary.json'))).toBe(true);
      expect(existsSync(join(out, trial.runDirectory, 'config.resolved.yaml'))).toBe(true);
    }
    const lost = remote.trials.find((t) => t.attempts === 2)!;
    expect(survivor.output()).toMatch(new RegExp(`mlp-sweep ${lost.id} started \\(attempt 2, from its last checkpoint\\)`));
    expect(survivor.output()).toMatch(new RegExp(`\\[mlp-sweep ${lost.id}\\] resuming from step \\d+`));
    const sweepId = (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { sweep: { id: string } }).sweep.id;
    expect(await jobsOf(redis.url, sweepId)).toHaveLength(4);
    await stopWorkers([first!, second!]);
    expect(survivor.child.exitCode).toBe(130);
  });

  it('TPE with ASHA: a coordinator killed after enqueuing is run again, picks up the queued jobs (no duplicates) and ends as a local run', async () => {
    const file = mnistSweep(`  earlyTermination: {type: asha, minEpochs: 1, reductionFactor: 2}\n`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('method: random', 'method: tpe'));
    const args = ['--set', 'sweep.maxTrials=5'];
    const local = join(temporaryFolder('queue-asha-local-'), 'sweep');
    expect((await runner([file, ...args, '--out', local])).status).toBe(0);

    // No worker yet: the first coordinator enqueues two trials and is killed while they wait.
    const out = join(temporaryFolder('queue-asha-'), 'sweep');
    const first = spawn(RUNNER_BIN, [file, ...args, '--queue', redis.url, '--out', out], { cwd: ROOT, env: runnerEnvironment(), stdio: 'ignore' });
    const firstExit = new Promise((resolve) => first.on('exit', resolve));
    await waitFor('two trials enqueued', () => existsSync(join(out, 'summary.json')) && summaryOf(out).trials.filter((t) => t.status === 'running').length === 2);
    const sweepId = (JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { sweep: { id: string } }).sweep.id;
    // summary.json says a trial started before its job is added: wait for both jobs.
    for (let i = 0; i < 200 && (await jobsOf(redis.url, sweepId)).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    first.kill('SIGKILL');
    await firstExit;
    const queued = await jobsOf(redis.url, sweepId);
    expect(queued).toHaveLength(2);

    const pair = [startWorker(redis.url), startWorker(redis.url)];
    workers.push(...pair);
    const again = await runner([file, ...args, '--queue', redis.url, '--out', out]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('(those already there are followed, not enqueued again)');
    const remote = summaryOf(out);
    expect(outcome(remote)).toEqual(outcome(summaryOf(local)));
    expect(remote.trials.some((t) => t.status === 'pruned')).toBe(true);
    const jobs = await jobsOf(redis.url, sweepId);
    expect(jobs).toHaveLength(5);
    for (const id of queued) expect(jobs).toContain(id);
    // Each trial ran once, on one worker or the other.
    const started = pair.flatMap((w) => w.output().match(/mlp-sweep trial-\d+ started/g) ?? []);
    expect(started.sort()).toEqual(remote.trials.map((t) => `mlp-sweep ${t.id} started`));
    await stopWorkers(pair);
  });
});
