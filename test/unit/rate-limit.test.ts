// The token bucket of --limit-rate on a clock of the test's own: what it lets through, and when,
// is exact (no wall-clock window to miss on a busy machine).
import { describe, expect, it } from 'vitest';
import { RateLimiter, type BucketClock } from '../../src/transfer/rate-limit.js';
import { KiB, MiB } from '../../src/util/sizes.js';

/** A clock whose sleeps pass at once, moving its time on; each sleep is recorded. */
function fakeClock(): BucketClock & { t: number; sleeps: number[] } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

async function send(limiter: RateLimiter, total: number, chunk: number): Promise<void> {
  for (let sent = 0; sent < total; sent += chunk) await limiter.take(Math.min(chunk, total - sent));
}

describe('RateLimiter', () => {
  it('sends 1 MiB at 4 MiB/s in a quarter of a second, less the bucket it starts with (50 ms)', async () => {
    const clock = fakeClock();
    await send(new RateLimiter(4 * MiB, clock), MiB, 64 * KiB);
    expect(clock.t).toBeGreaterThanOrEqual(195);
    expect(clock.t).toBeLessThanOrEqual(205);
  });

  it('pays for a request larger than the bucket in installments', async () => {
    const clock = fakeClock();
    await new RateLimiter(4 * MiB, clock).take(MiB);
    expect(clock.t).toBeGreaterThanOrEqual(195);
    expect(clock.t).toBeLessThanOrEqual(205);
    // Installments of at most the bucket's 50 ms.
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(50.5);
  });

  it('shares one budget between parts sent at the same time', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(4 * MiB, clock);
    await Promise.all([send(limiter, MiB / 2, 64 * KiB), send(limiter, MiB / 2, 64 * KiB)]);
    // Two halves at once take as long as the whole alone, and no less.
    expect(clock.t).toBeGreaterThanOrEqual(195);
  });

  it('does not slow down traffic well under the rate', async () => {
    const clock = fakeClock();
    await send(new RateLimiter(100 * MiB, clock), 64 * KiB, 16 * KiB);
    expect(clock.sleeps).toEqual([]);
  });

  it('waits by sleeping, never by spinning: every installment it cannot pay yet is one sleep', async () => {
    const clock = fakeClock();
    await new RateLimiter(4 * MiB, clock).take(MiB);
    // 1 MiB less the 50 ms bucket it starts with, in installments of a bucket: about 4 sleeps.
    expect(clock.sleeps.length).toBeGreaterThan(0);
    expect(clock.sleeps.length).toBeLessThanOrEqual(6);
    expect(clock.sleeps.every((ms) => ms >= 1)).toBe(true);
  });

  it('stops waiting when the signal aborts, with the abort reason', async () => {
    const ac = new AbortController();
    let sleeping!: () => void;
    const asleep = new Promise<void>((r) => (sleeping = r));
    // A sleep that only ends when the signal aborts (as util/sleep does).
    const clock: BucketClock = {
      now: () => 0,
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          sleeping();
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    };
    const taken = new RateLimiter(64 * KiB, clock).take(10 * MiB, ac.signal);
    await asleep;
    ac.abort(new Error('stop'));
    await expect(taken).rejects.toThrow('stop');
  });
});
