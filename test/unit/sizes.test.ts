import { describe, expect, it } from 'vitest';
import { LakeupError } from '../../src/errors.js';
import { formatSize, GiB, KiB, MiB, parseDuration, parseRate, parseSize } from '../../src/util/sizes.js';

function usageError(fn: () => unknown): LakeupError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LakeupError);
    expect((e as LakeupError).kind).toBe('usage');
    return e as LakeupError;
  }
  throw new Error('expected a usage error, nothing was thrown');
}

describe('parseSize', () => {
  it.each([
    ['5MiB', 5_242_880],
    ['64MB', 64_000_000],
    ['1GiB', GiB],
    ['1048576', 1_048_576],
    ['1.5GiB', 1.5 * GiB],
    ['10 MiB', 10 * MiB],
    ['5mib', 5 * MiB],
    ['500KB', 500_000],
    ['4KiB', 4 * KiB],
    [' 8MiB ', 8 * MiB],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text, '--part-size')).toBe(bytes);
  });

  it.each(['abc', '', '   ', '-5MiB', '0', '0MiB', '10XB', '1.2.3MB', 'MiB', '5 MiB extra', '1e9'])('rejects %j naming the flag', (text) => {
    const e = usageError(() => parseSize(text, '--part-size'));
    expect(e.message).toContain('--part-size');
    expect(e.message).toContain(`'${text}'`);
  });

  it('returns whole bytes', () => {
    expect(Number.isInteger(parseSize('1.3MiB', '--x'))).toBe(true);
  });
});

describe('parseRate', () => {
  it.each([
    ['8MiB/s', 8 * MiB],
    ['500KB/s', 500_000],
    ['500KB', 500_000],
    ['1GiB/s', GiB],
    ['1048576/s', 1_048_576],
  ])('reads %j as %d bytes per second', (text, bps) => {
    expect(parseRate(text, '--limit-rate')).toBe(bps);
  });

  it.each(['fast', '0/s', '-1MiB/s', '8MiB/h', ''])('rejects %j as a usage error naming the flag', (text) => {
    const e = usageError(() => parseRate(text, '--limit-rate'));
    expect(e.message).toContain('--limit-rate');
    expect(e.message).toContain('not a rate');
  });
});

describe('parseDuration', () => {
  it.each([
    ['60', 60_000],
    ['30s', 30_000],
    ['200ms', 200],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['10S', 10_000],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text, '--timeout')).toBe(ms);
  });

  it.each(['abc', '', '-5s', '5 minutes', '5d', 's'])('rejects %j naming the flag', (text) => {
    expect(usageError(() => parseDuration(text, '--timeout')).message).toContain('--timeout');
  });
});

describe('formatSize', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [10 * MiB, '10 MiB'],
    [1.5 * GiB, '1.5 GiB'],
    [GiB + 10 * MiB, '1.01 GiB'],
  ])('formats %d as %j', (n, text) => {
    expect(formatSize(n)).toBe(text);
  });
});
