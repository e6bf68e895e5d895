import { describe, expect, it } from 'vitest';
import { createDatasetRegistry } from './registry';

describe('objective dataset', () => {
  it('is one training example that nothing reads, and no other split', async () => {
    const entry = createDatasetRegistry().get('objective');
    const loaded = await entry.create({}, { seed: 1, resolvePath: (p) => p });
    expect(Object.keys(loaded.splits)).toEqual(['train']);
    const train = loaded.splits.train!;
    expect(train.kind === 'memory' && train.size).toBe(1);
    expect(train.kind === 'memory' && [...train.columns['unit']!.data]).toEqual([1]);
  });
});
