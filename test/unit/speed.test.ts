import { describe, expect, it } from 'vitest';
import { formatDuration, SpeedMeter } from '../../src/ui/speed.js';

describe('SpeedMeter', () => {
  it('is 0 until there are two samples', () => {
    const m = new SpeedMeter();
    expect(m.rate()).toBe(0);
    m.sample(100, 0);
    expect(m.rate()).toBe(0);
  });

  it('measures bytes per second over the window', () => {
    const m = new SpeedMeter(5000);
    m.sample(0, 0);
    m.sample(1_000_000, 1000);
    m.sample(2_000_000, 2000);
    expect(m.rate()).toBe(1_000_000);
  });

  it('forgets samples older than the window, so the rate follows a slowdown', () => {
    const m = new SpeedMeter(1000);
    m.sample(0, 0);
    m.sample(10_000_000, 1000); // fast
    m.sample(10_100_000, 2000); // slow
    m.sample(10_200_000, 3000);
    expect(m.rate()).toBeCloseTo(100_000, -3);
  });

  it('ignores samples closer than 100 ms to the last one', () => {
    const m = new SpeedMeter();
    m.sample(0, 0);
    m.sample(999_999, 50);
    expect(m.rate()).toBe(0);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [59_400, '59s'],
    [61_000, '1m01s'],
    [3_600_000, '1h00m'],
    [3_725_000, '1h02m'],
    [-1, '--'],
    [Infinity, '--'],
    [NaN, '--'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
