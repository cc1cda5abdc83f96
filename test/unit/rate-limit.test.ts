import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/transfer/rate-limit.js';
import { KiB, MiB } from '../../src/util/sizes.js';

async function send(limiter: RateLimiter, total: number, chunk: number): Promise<number> {
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += chunk) await limiter.take(Math.min(chunk, total - sent));
  return performance.now() - t0;
}

describe('RateLimiter', () => {
  it('sends 1 MiB at 4 MiB/s in about a quarter of a second', async () => {
    const ms = await send(new RateLimiter(4 * MiB), MiB, 64 * KiB);
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(600);
  });

  it('pays for a request larger than the bucket in installments', async () => {
    const t0 = performance.now();
    await new RateLimiter(4 * MiB).take(MiB);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(600);
  });

  it('shares one budget between parts sent at the same time', async () => {
    const limiter = new RateLimiter(4 * MiB);
    const t0 = performance.now();
    await Promise.all([send(limiter, MiB / 2, 64 * KiB), send(limiter, MiB / 2, 64 * KiB)]);
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(150);
    expect(ms).toBeLessThan(600);
  });

  it('does not slow down traffic well under the rate', async () => {
    const ms = await send(new RateLimiter(100 * MiB), 64 * KiB, 16 * KiB);
    expect(ms).toBeLessThan(50);
  });

  it('keeps the event loop free while it waits (no busy spinning)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      await new RateLimiter(4 * MiB).take(MiB);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('stops waiting when the signal aborts, with the abort reason', async () => {
    const limiter = new RateLimiter(64 * KiB);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 30);
    const t0 = performance.now();
    await expect(limiter.take(10 * MiB, ac.signal)).rejects.toThrow('stop');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
