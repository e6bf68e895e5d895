import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runner, temporaryFolder } from './helpers';

/** Two linear-regression runs that differ in seed and learning rate, under one log folder. */
const logdir = temporaryFolder('reports-');
const [first, second] = [join(logdir, 'linear-regression', 'a'), join(logdir, 'linear-regression', 'b')];

describe('what every run writes besides its metrics', () => {
  beforeAll(async () => {
    expect((await runner(['experiments/linear-regression.yaml', '--quick', '--out', first])).status).toBe(0);
    expect((await runner(['experiments/linear-regression.yaml', '--quick', '--seed', '2', '--set', 'train.optimizer.learningRate=0.3', '--out', second])).status).toBe(0);
  });

  it('writes a TensorBoard event file (file version, graph, scalars per split) and SVG and PNG plots', () => {
    const events = readdirSync(join(first, 'tensorboard')).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(events).toHaveLength(1);
    const bytes = readFileSync(join(first, 'tensorboard', events[0]!)).toString('latin1');
    for (const text of ['brain.Event:2', 'loss/train', 'learning_rate', 'k', 'summaries/mean']) expect(bytes).toContain(text);
    // The Text tab: the resolved config as a YAML code block.
    expect(bytes).toMatch(/```yaml\nname: linear-regression\n[^]*optimizer:/);
    expect(readdirSync(join(first, 'plots')).sort()).toEqual(['loss.png', 'loss.svg', 'values.png', 'values.svg']);
    expect(readFileSync(join(first, 'plots', 'loss.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('tensorboard: false and plots: false turn them off', async () => {
    const out = join(temporaryFolder('quiet-'), 'run');
    expect((await runner(['experiments/linear-regression.yaml', '--quick', '--set', 'tensorboard=false', '--set', 'plots=false', '--out', out])).status).toBe(0);
    expect(existsSync(join(out, 'tensorboard'))).toBe(false);
    expect(existsSync(join(out, 'plots'))).toBe(false);
  });

  it('compare prints the config keys that differ and the final metrics, as a table or as JSON, and writes a chart', async () => {
    const chart = join(logdir, 'comparison.png');
    const table = await runner(['compare', first, second, '--chart', chart]);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/seed/);
    expect(table.stdout).toMatch(/train\.optimizer\.learningRate/);
    expect(readFileSync(chart).subarray(1, 4).toString()).toBe('PNG');
    const json = await runner(['compare', first, second, '--json', '--chart', join(logdir, 'c.svg')]);
    const parsed = JSON.parse(json.stdout) as { differingKeys: string[]; runs: { metrics: Record<string, number> }[] };
    expect(parsed.differingKeys).toEqual(['seed', 'train.optimizer.learningRate']);
    expect(parsed.runs).toHaveLength(2);
  });

  it('runs list finds every run under the log folder; prune keeps the newest', async () => {
    const list = await runner(['runs', '--logdir', logdir, 'list', '--json']);
    expect(list.status).toBe(0);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(2);
    const prune = await runner(['runs', '--logdir', logdir, 'prune', '--keep', '1', '--dry-run']);
    expect(prune.stdout).toMatch(/would remove linear-regression\/a/);
    expect(existsSync(first)).toBe(true);
  });

  it('report writes one self-contained HTML page with the figures inline', async () => {
    const result = await runner(['report', first]);
    expect(result.status).toBe(0);
    const html = readFileSync(join(first, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    // SVG namespaces are names, not addresses: nothing else may point outside the page.
    const addresses = (html.match(/https?:\/\/[^"' )]*/g) ?? []).filter((url) => !url.startsWith('http://www.w3.org/'));
    expect(addresses).toEqual([]);
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it('a folder that is not a run is a clear error (exit 2)', async () => {
    const result = await runner(['report', temporaryFolder('empty-')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/neither a run folder nor a sweep folder/);
  });
});
