import { describe, expect, it } from 'vitest';
import { candidatePartSizes } from '../../src/upload/same-content.js';

const MiB = 1024 * 1024;

describe('candidatePartSizes', () => {
  it('gives the sizes servers use first, only those that make exactly N parts', () => {
    expect(candidatePartSizes(12 * MiB + 5, 3)).toEqual([5 * MiB, 6 * MiB]);
    for (const p of candidatePartSizes(12 * MiB + 5, 3)) expect(Math.ceil((12 * MiB + 5) / p)).toBe(3);
    expect(candidatePartSizes(25 * MiB, 3)[0]).toBe(10 * MiB);
    expect(candidatePartSizes(3 * MiB, 3)).toEqual([1 * MiB]);
  });

  it('a single part is the whole file; impossible counts give nothing to try', () => {
    expect(candidatePartSizes(1000, 1)).toEqual([1000]);
    expect(candidatePartSizes(10, 11)).toEqual([]);
    expect(candidatePartSizes(10, 0)).toEqual([]);
  });

  it('when no whole-MiB size fits, tries the smallest size that does; never more than 4', () => {
    const odd = candidatePartSizes(100_000, 7);
    expect(odd).toEqual([Math.ceil(100_000 / 7)]);
    expect(candidatePartSizes(100 * MiB, 2).length).toBeLessThanOrEqual(4);
  });
});
