import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PlainValue, PruneVerdict, TrialChannel, TrialSpec } from '@dlexp/sweep';
import { redisOptions } from './connection';
import { startLocalRedis, type LocalRedis } from './local-redis';
import { QUEUE_PREFIX } from './protocol';
import { createQueueExecutor, workerSlots, type QueueExecutor } from './queue-executor';
import { parseQueueUrl } from './queue-url';
import { startTrialWorker, type TrialWorker } from './trial-worker';
import { describeWithRedis } from './test-redis';

/*
 * A coordinator's executor and a worker on one Redis, with trial processes written by hand in
 * plain JavaScript (the protocol of @dlexp/sweep's trial-process.ts): what travels through the
 * queue, verdicts included, and what a failure of each kind becomes.
 */
const folder = mkdtempSync(join(tmpdir(), 'queue-executor-'));
const TRIAL = join(folder, 'trial.mjs');
writeFileSync(
  TRIAL,
  `import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
process.send({ type: 'ready' });
let request; let epoch = 0;
const finish = (outcome) => process.send({ type: 'result', outcome: { trialId: request.spec.trialId, intermediate: [], ...outcome } }, () => process.exit(0));
const next = () => {
  epoch++;
  if (epoch > 3) return finish({ status: 'completed', metrics: { 'validation.accuracy': 0.5 + request.spec.index / 10, 'validation.loss': NaN }, run: { timing: { train: 1 } } });
  process.send({ type: 'epoch', epoch, metrics: { 'validation.accuracy': epoch / 10 } });
};
process.on('message', (m) => {
  if (m.type === 'run') {
    request = m;
    const behaviour = m.context.behaviour;
    mkdirSync(m.runDirectory, { recursive: true });
    writeFileSync(join(m.runDirectory, 'metrics.jsonl'), '{"step":1,"epoch":1}\\n');
    if (behaviour === 'diverge') return finish({ status: 'failed', metrics: { 'train.loss': NaN }, error: 'the loss became NaN at step 3' });
    if (behaviour === 'crash-once') {
      const marker = join(m.context.markers, request.spec.trialId);
      if (!existsSync(marker)) { writeFileSync(marker, 'crashed'); process.exit(137); }
    }
    if (behaviour === 'crash') process.exit(137);
    console.log('training ' + request.spec.trialId);
    next();
  }
  if (m.type === 'verdict') { if (m.prune) finish({ status: 'pruned', metrics: { 'validation.accuracy': epoch / 10 }, epoch }); else next(); }
});
`,
);

function spec(index: number, behaviour: string, data: PlainValue = { type: 'synthetic', function: 'linear' }): TrialSpec {
  const trialId = `trial-00${index + 1}`;
  return { sweepId: 'sweep-test', trialId, index, configuration: index, values: { behaviour }, parameters: { behaviour }, seed: 1, repeat: 0, configHash: `${index}${'0'.repeat(63)}`, experiment: { data } };
}

function channel(decide: (epoch: number) => PruneVerdict = () => ({ prune: false, reason: '' })): TrialChannel & { reports: [number, number][] } {
  const reports: [number, number][] = [];
  return {
    resume: false,
    signal: new AbortController().signal,
    reports,
    report: (epoch, metrics) => {
      reports.push([epoch, (metrics as Record<string, number>)['validation.accuracy']!]);
      return decide(epoch);
    },
  };
}

describeWithRedis('sweeps through a queue', () => {
  let redis: LocalRedis;
  let worker: TrialWorker;
  const markers = mkdtempSync(join(tmpdir(), 'queue-markers-'));
  const lines: string[] = [];
  const out = mkdtempSync(join(tmpdir(), 'queue-sweep-'));
  const queueName = 'test-trials';

  const executor = (run: { sweepId: string; startedAt: string }, pruning = false, retries = 2): QueueExecutor =>
    createQueueExecutor({
      target: parseQueueUrl(redis.url),
      queueName,
      run,
      name: 'fake',
      experimentFile: join(folder, 'fake.yaml'),
      workspace: folder,
      quick: false,
      pruning,
      retries,
      invocation: { file: 'fake.yaml' },
      argv: [],
      runDirectory: (s) => join(out, run.startedAt, s.trialId),
      onOutput: (id, line) => lines.push(`${id}: ${line}`),
      pollMs: 500,
    });

  beforeAll(async () => {
    redis = await startLocalRedis();
    worker = await startTrialWorker({
      target: parseQueueUrl(redis.url),
      queueName,
      concurrency: 2,
      workspace: folder,
      entry: TRIAL,
      context: ({ job }) => ({ behaviour: job.spec.values['behaviour'] ?? 'epochs', markers }),
      name: 'test-worker.c2',
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await redis?.stop();
  });

  it('a trial runs on the worker: its epochs reported, its outcome and files written where the coordinator keeps the trial', async () => {
    const run = { sweepId: 'sweep-a', startedAt: '2026-01-01T00:00:01.000Z' };
    const queue = executor(run);
    const trialChannel = channel();
    const outcome = await queue.submit(spec(0, 'epochs'), trialChannel);
    await queue.close();
    expect(outcome).toMatchObject({ status: 'completed', metrics: { 'validation.accuracy': 0.5 }, run: { attempts: 1, timing: { train: 1, queued: expect.any(Number), delivered: expect.any(Number) } } });
    expect(outcome.status === 'completed' && Number.isNaN(outcome.metrics['validation.loss'])).toBe(true);
    expect(trialChannel.reports).toEqual([
      [1, 0.1],
      [2, 0.2],
      [3, 0.3],
    ]);
    expect(readFileSync(join(out, '2026-01-01T00:00:01.000Z', 'trial-001', 'metrics.jsonl'), 'utf8')).toBe('{"step":1,"epoch":1}\n');
    expect(lines).toContain('trial-001: running on test-worker.c2');
  });

  it('prunes through the queue: the worker waits at each epoch end for the verdict', async () => {
    const queue = executor({ sweepId: 'sweep-b', startedAt: '2026-01-01T00:00:01.000Z' }, true);
    const pruned = channel((epoch) => ({ prune: epoch === 2, reason: 'below the median' }));
    const kept = channel();
    const [first, second] = await Promise.all([queue.submit(spec(0, 'epochs'), pruned), queue.submit(spec(1, 'epochs'), kept)]);
    await queue.close();
    expect(first).toMatchObject({ status: 'pruned', epoch: 2 });
    expect(pruned.reports.map(([e]) => e)).toEqual([1, 2]);
    expect(second).toMatchObject({ status: 'completed', metrics: { 'validation.accuracy': 0.6 } });
  });

  it('the same trial submitted again (a restarted coordinator) follows the one job; another run of the sweep gets its own', async () => {
    const run = { sweepId: 'sweep-c', startedAt: '2026-01-01T00:00:01.000Z' };
    const [a, b] = [executor(run), executor(run)];
    const outcomes = await Promise.all([a.submit(spec(0, 'epochs'), channel()), b.submit(spec(0, 'epochs'), channel())]);
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed']);
    const again = await b.submit(spec(0, 'epochs'), channel());
    expect(again).toMatchObject({ status: 'completed', run: { attempts: 1 } });
    await Promise.all([a.close(), b.close()]);
    const other = executor({ ...run, startedAt: '2026-01-01T00:00:02.000Z' });
    await other.submit(spec(0, 'epochs'), channel());
    await other.close();
    const queue = new Queue(queueName, { connection: redisOptions(parseQueueUrl(redis.url)), prefix: QUEUE_PREFIX });
    const jobs = (await queue.getJobs(['completed'])).map((j) => j.id).filter((id) => id?.startsWith('sweep-c.'));
    await queue.close();
    expect(jobs.sort()).toEqual([`sweep-c.20260101T000001000Z.trial-001.${'0'.repeat(16)}`, `sweep-c.20260101T000002000Z.trial-001.${'0'.repeat(16)}`]);
  });

  it('a trial that fails by its own account is failed at once, its files kept; a lost one is retried, then given up', async () => {
    const queue = executor({ sweepId: 'sweep-d', startedAt: '2026-01-01T00:00:01.000Z' }, false, 2);
    const [diverged, recovered, lost, missing] = await Promise.all([
      queue.submit(spec(0, 'diverge'), channel()),
      queue.submit(spec(1, 'crash-once'), channel()),
      queue.submit(spec(2, 'crash'), channel()),
      queue.submit(spec(3, 'epochs', { type: 'csv', file: '/no/such/prices.csv' }), channel()),
    ]);
    await queue.close();
    expect(diverged).toMatchObject({ status: 'failed', error: 'the loss became NaN at step 3', run: { attempts: 1 } });
    expect(existsSync(join(out, '2026-01-01T00:00:01.000Z', 'trial-001', 'metrics.jsonl'))).toBe(true);
    expect(recovered).toMatchObject({ status: 'completed', run: { attempts: 2 } });
    expect(lost).toMatchObject({ status: 'failed', error: 'the trial process exited with code 137 before reporting a result (after 3 attempts)', run: { attempts: 3 } });
    expect(missing).toMatchObject({
      status: 'failed',
      error: 'dataset csv: /no/such/prices.csv is not on this worker (nor on the coordinator, which could not check what it holds)',
      run: { attempts: 1 },
    });
    expect(lines.some((l) => /^trial-002: attempt 1 failed \(the trial process exited with code 137/.test(l))).toBe(true);
  });

  it('a trial whose values make no valid experiment is failed with the reason, never sent to a worker', async () => {
    const queue = createQueueExecutor({
      target: parseQueueUrl(redis.url),
      queueName,
      run: { sweepId: 'sweep-e', startedAt: '2026-01-01T00:00:01.000Z' },
      name: 'fake',
      experimentFile: join(folder, 'fake.yaml'),
      workspace: folder,
      quick: false,
      pruning: false,
      invocation: {},
      argv: [],
      runDirectory: (s) => join(out, 'e', s.trialId),
      explainUnresolved: (s) => `fake.yaml:3:5: units ${String(s.values['behaviour'])} is not a number`,
    });
    const { configHash: _hash, ...unresolved } = spec(0, 'many');
    const outcome = await queue.submit(unresolved, channel());
    await queue.close();
    expect(outcome).toEqual({ trialId: 'trial-001', status: 'failed', metrics: {}, intermediate: [], error: 'fake.yaml:3:5: units many is not a number' });
    const bull = new Queue(queueName, { connection: redisOptions(parseQueueUrl(redis.url)), prefix: QUEUE_PREFIX });
    const jobs = (await bull.getJobs(['completed', 'failed', 'wait', 'active'])).filter((j) => j.id?.startsWith('sweep-e.'));
    await bull.close();
    expect(jobs).toEqual([]);
  });

  it('counts the trial slots of the workers listening', async () => {
    await expect(workerSlots(parseQueueUrl(redis.url), queueName)).resolves.toEqual({ workers: 1, slots: 2 });
    await expect(workerSlots(parseQueueUrl(redis.url), 'nobody-listens')).resolves.toEqual({ workers: 0, slots: 0 });
  });
});
