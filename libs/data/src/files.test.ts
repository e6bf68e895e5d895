import { describe, expect, it } from 'vitest';
import { allInOrder } from './files';

const after = <T>(ms: number, settle: () => T): Promise<T> => new Promise<void>((resolve) => setTimeout(resolve, ms)).then(settle);

describe('allInOrder', () => {
  it('gives every value in order, and when several fail, the failure of the first in order, not the first in time', async () => {
    expect(await allInOrder(after(20, () => 'x'), after(1, () => 2))).toEqual(['x', 2]);
    const failing = allInOrder(
      after(20, () => {
        throw new Error('images missing');
      }),
      after(1, () => {
        throw new Error('labels missing');
      }),
    );
    await expect(failing).rejects.toThrow('images missing');
  });
});
