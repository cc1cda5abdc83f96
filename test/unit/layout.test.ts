import { plainEtag } from '../../src/util/etag.js';
import { describe, expect, it } from 'vitest';
import { LakeupError } from '../../src/errors.js';
import {
  checkServerLayout,
  choosePartSize,
  COPERA_DEFAULT_PART,
  S3_MAX_PART,
  S3_MAX_PARTS,
  splitParts,
  urlTtlMs,
} from '../../src/providers/layout.js';
import { GiB, MiB } from '../../src/util/sizes.js';

const TiB = 1024 * GiB;
const API = 'https://api.memorylake.test';
const url = (n: number) => `https://s3.test/bucket/key?partNumber=${n}&X-Amz-Signature=abc`;
const item = (number: unknown, size: unknown, upload_url: unknown = url(Number(number))) => ({ number, size, upload_url });

function layoutError(fn: () => unknown): LakeupError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LakeupError);
    return e as LakeupError;
  }
  throw new Error('expected a LakeupError, nothing was thrown');
}

describe('checkServerLayout', () => {
  it('accepts a good layout and computes each part offset from the sizes before it', () => {
    const size = 5 * MiB + 5 * MiB + 123;
    const { parts, urls } = checkServerLayout([item(1, 5 * MiB), item(2, 5 * MiB), item(3, 123)], size, 'MemoryLake', API);
    expect(parts).toEqual([
      { number: 1, offset: 0, size: 5 * MiB },
      { number: 2, offset: 5 * MiB, size: 5 * MiB },
      { number: 3, offset: 10 * MiB, size: 123 },
    ]);
    expect(urls).toEqual([url(1), url(2), url(3)]);
  });

  it('accepts parts of unequal sizes (the server decides)', () => {
    const { parts } = checkServerLayout([item(1, 7), item(2, 3), item(3, 11)], 21, 'MemoryLake', API);
    expect(parts.map((p) => p.offset)).toEqual([0, 7, 10]);
  });

  it('sorts out-of-order part numbers and keeps each URL with its part', () => {
    const { parts, urls } = checkServerLayout([item(3, 1, 'https://u/3'), item(1, 4, 'https://u/1'), item(2, 2, 'https://u/2')], 7, 'ML', API);
    expect(parts).toEqual([
      { number: 1, offset: 0, size: 4 },
      { number: 2, offset: 4, size: 2 },
      { number: 3, offset: 6, size: 1 },
    ]);
    expect(urls).toEqual(['https://u/1', 'https://u/2', 'https://u/3']);
  });

  it.each([
    ['a gap in the numbers', [item(1, 5), item(3, 5)], 10],
    ['a repeated number', [item(1, 5), item(1, 5)], 10],
    ['numbers not starting at 1', [item(2, 5), item(3, 5)], 10],
    ['numbers from 0', [item(0, 5), item(1, 5)], 10],
    ['a number given as a string', [item('1', 10, url(1))], 10],
    ['a zero size', [item(1, 0), item(2, 10)], 10],
    ['a negative size', [item(1, -5), item(2, 15)], 10],
    ['a non-integer size', [item(1, 4.5), item(2, 5.5)], 10],
    ['a size given as a string', [item(1, '10')], 10],
    ['sizes summing to less than the file', [item(1, 5), item(2, 4)], 10],
    ['sizes summing to more than the file', [item(1, 5), item(2, 6)], 10],
    ['a missing upload_url', [{ number: 1, size: 10 }], 10],
    ['an upload_url that is not http(s)', [item(1, 10, 'ftp://x/y')], 10],
    ['an empty list', [], 10],
    ['not an array', { number: 1, size: 10, upload_url: url(1) }, 10],
    ['null', null, 10],
    ['a null item', [null], 10],
  ])('rejects %s as a server error (BAD_LAYOUT)', (_why, items, fileSize) => {
    const e = layoutError(() => checkServerLayout(items, fileSize, 'MemoryLake', API));
    expect(e.kind).toBe('server');
    expect(e.code).toBe('BAD_LAYOUT');
    expect(e.message).toContain('MemoryLake');
  });

  it('refuses more than 10,000 parts (S3 completes no more) and accepts exactly 10,000', () => {
    const parts = (n: number) => Array.from({ length: n }, (_, i) => item(i + 1, 1));
    expect(checkServerLayout(parts(S3_MAX_PARTS), S3_MAX_PARTS, 'MemoryLake', API).parts).toHaveLength(S3_MAX_PARTS);
    const e = layoutError(() => checkServerLayout(parts(S3_MAX_PARTS + 1), S3_MAX_PARTS + 1, 'MemoryLake', API));
    expect(e.code).toBe('BAD_LAYOUT');
    expect(e.message).toBe('MemoryLake returned a part layout lakeup cannot use: 10001 parts, where S3 allows at most 10000');
  });

  it('refuses a plain http upload_url from an https API (the file would go in clear text), in one line', () => {
    const e = layoutError(() => checkServerLayout([item(1, 5), item(2, 5, 'http://s3.test/b/k?partNumber=2')], 10, 'MemoryLake', API));
    expect(e.code).toBe('BAD_LAYOUT');
    expect(e.message).toBe(
      "MemoryLake returned a part layout lakeup cannot use: part 2's upload_url is plain http:// while the API is https://: lakeup does not send a file unencrypted",
    );
  });

  it('accepts plain http upload URLs from a plain http API (the sandbox)', () => {
    const { urls } = checkServerLayout([item(1, 10, 'http://127.0.0.1:9/b/k')], 10, 'MemoryLake', 'http://127.0.0.1:9');
    expect(urls).toEqual(['http://127.0.0.1:9/b/k']);
  });

  it('says how many bytes the parts add up to when they do not cover the file', () => {
    const e = layoutError(() => checkServerLayout([item(1, 5), item(2, 4)], 10, 'MemoryLake', API));
    expect(e.message).toMatch(/9 bytes.*10/);
  });
});

describe('choosePartSize', () => {
  it('defaults to 10 MiB for ordinary files', () => {
    expect(COPERA_DEFAULT_PART).toBe(10 * MiB);
    expect(choosePartSize(1)).toBe(10 * MiB);
    expect(choosePartSize(1 * GiB)).toBe(10 * MiB);
  });

  it('keeps a requested size when the count fits', () => {
    expect(choosePartSize(100 * MiB, 5 * MiB)).toBe(5 * MiB);
    expect(choosePartSize(100 * MiB, 64 * MiB)).toBe(64 * MiB);
  });

  it('rejects a requested size under 5 MiB as a usage error', () => {
    const e = layoutError(() => choosePartSize(100 * MiB, 5 * MiB - 1));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('--part-size');
  });

  it('rejects a requested size over 5 GiB as a usage error', () => {
    expect(choosePartSize(10 * GiB, 5 * GiB)).toBe(5 * GiB);
    const e = layoutError(() => choosePartSize(10 * GiB, 5 * GiB + 1));
    expect(e.kind).toBe('usage');
  });

  it.each([
    ['200 GiB', 200 * GiB],
    ['1 TiB', TiB],
    ['exactly 10,000 × 10 MiB', S3_MAX_PARTS * 10 * MiB],
    ['10,000 × 10 MiB + 1', S3_MAX_PARTS * 10 * MiB + 1],
    ['10,000 × 10 MiB − 1', S3_MAX_PARTS * 10 * MiB - 1],
    ['10,000 × 37 MiB + 1', S3_MAX_PARTS * 37 * MiB + 1],
    ['40 TiB', 40 * TiB],
    ['48.8 TiB (the S3 limit) ', S3_MAX_PARTS * S3_MAX_PART],
  ])('keeps %s within 10,000 parts with a whole number of MiB', (_n, fileSize) => {
    const size = choosePartSize(fileSize);
    expect(size % MiB).toBe(0);
    expect(size).toBeGreaterThanOrEqual(10 * MiB);
    expect(size).toBeLessThanOrEqual(S3_MAX_PART);
    expect(Math.ceil(fileSize / size)).toBeLessThanOrEqual(S3_MAX_PARTS);
    // and it is the smallest MiB multiple (≥ the default) that does so
    if (size > 10 * MiB) expect(Math.ceil(fileSize / (size - MiB))).toBeGreaterThan(S3_MAX_PARTS);
  });

  it('does not grow the part size when exactly 10,000 parts of 10 MiB fit', () => {
    expect(choosePartSize(S3_MAX_PARTS * 10 * MiB)).toBe(10 * MiB);
  });

  it('grows by one MiB when one byte more would need a 10,001st part', () => {
    expect(choosePartSize(S3_MAX_PARTS * 10 * MiB + 1)).toBe(11 * MiB);
  });

  it('grows 200 GiB to 21 MiB parts and 1 TiB to 105 MiB parts', () => {
    expect(choosePartSize(200 * GiB)).toBe(21 * MiB);
    expect(choosePartSize(TiB)).toBe(105 * MiB);
  });

  it('grows a requested size too, not only the default', () => {
    const s = choosePartSize(TiB, 6 * MiB);
    expect(Math.ceil(TiB / s)).toBeLessThanOrEqual(S3_MAX_PARTS);
  });

  it('refuses a file too big even for 10,000 parts of 5 GiB as an input error', () => {
    const e = layoutError(() => choosePartSize(S3_MAX_PARTS * S3_MAX_PART + 1));
    expect(e.kind).toBe('input');
    expect(e.message).toContain('too large');
  });
});

describe('splitParts', () => {
  it('gives the last part the remainder', () => {
    expect(splitParts(25, 10)).toEqual([
      { number: 1, offset: 0, size: 10 },
      { number: 2, offset: 10, size: 10 },
      { number: 3, offset: 20, size: 5 },
    ]);
  });

  it('makes one 1-byte part for a 1-byte file', () => {
    expect(splitParts(1, 10 * MiB)).toEqual([{ number: 1, offset: 0, size: 1 }]);
  });

  it('makes equal parts for an exact multiple, with no empty trailing part', () => {
    const parts = splitParts(30 * MiB, 10 * MiB);
    expect(parts).toHaveLength(3);
    expect(parts.every((p) => p.size === 10 * MiB)).toBe(true);
  });

  it('adds a 1-byte part when the file is one byte over a boundary', () => {
    const parts = splitParts(20 * MiB + 1, 10 * MiB);
    expect(parts).toHaveLength(3);
    expect(parts[2]).toEqual({ number: 3, offset: 20 * MiB, size: 1 });
  });

  it('covers the file exactly, contiguously, numbered from 1', () => {
    const fileSize = 123 * MiB + 456;
    const parts = splitParts(fileSize, 7 * MiB);
    let offset = 0;
    parts.forEach((p, i) => {
      expect(p.number).toBe(i + 1);
      expect(p.offset).toBe(offset);
      offset += p.size;
    });
    expect(offset).toBe(fileSize);
  });
});

describe('urlTtlMs', () => {
  it('reads X-Amz-Expires in milliseconds', () => {
    expect(urlTtlMs('https://b.s3.amazonaws.com/k?X-Amz-Expires=3600&X-Amz-Signature=x')).toBe(3_600_000);
  });
  it.each([undefined, 'https://b/k', 'https://b/k?X-Amz-Expires=soon', 'not a url'])('is undefined for %s', (u) => {
    expect(urlTtlMs(u)).toBeUndefined();
  });
});

describe('plainEtag', () => {
  it.each([
    ['"d41d8cd98f00b204e9800998ecf8427e"', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['d41d8cd98f00b204e9800998ecf8427e', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['W/"abc-1"', 'abc-1'],
    [' "x" ', 'x'],
    ['"', '"'],
  ])('%j → %j', (raw, plain) => {
    expect(plainEtag(raw)).toBe(plain);
  });
});
