import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runner, temporaryFolder } from './helpers';

const experiments = readdirSync(join(ROOT, 'experiments')).filter((f) => f.endsWith('.yaml'));

// Every experiment's real code path, at its own small --quick budget, on the backend `auto` picks.
describe.each(experiments)('experiments/%s --quick', (file) => {
  it('completes and meets quick.expect', async () => {
    const out = join(temporaryFolder('quick-'), 'run');
    const result = await runner([`experiments/${file}`, '--quick', '--out', out]);
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.status).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('completed');
  });
});
