import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/http/retry-after.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it.each([
    ['3', 3000],
    ['0', 0],
    ['0.25', 250],
    [' 2 ', 2000],
    [['5', '9'], 5000],
  ] as Array<[string | string[], number]>)('reads seconds %j as %d ms', (v, ms) => {
    expect(parseRetryAfter(v, now)).toBe(ms);
  });

  it('reads an HTTP date as the time until then', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:07 GMT', now)).toBe(7000);
  });

  it('never returns a negative wait for a date in the past', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
  });

  it.each([undefined, '', 'soon', 'in a minute'])('is undefined for %j', (v) => {
    expect(parseRetryAfter(v, now)).toBeUndefined();
  });
});
