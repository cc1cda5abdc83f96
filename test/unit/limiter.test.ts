import { describe, expect, it } from 'vitest';
import { AdaptiveLimiter } from '../../src/transfer/limiter.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `n` fake parts through the limiter and reports the most that were ever in flight at once. */
async function drive(limiter: AdaptiveLimiter, n: number, work: (i: number) => Promise<void>, ok = true): Promise<{ maxInFlight: number; done: number }> {
  let inFlight = 0;
  let maxInFlight = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await limiter.acquire();
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      expect(limiter.active).toBeLessThanOrEqual(limiter.limit);
      try {
        await work(i);
      } finally {
        inFlight--;
        done++;
        limiter.release(ok);
      }
    }),
  );
  return { maxInFlight, done };
}

describe('AdaptiveLimiter', () => {
  it('never lets more than `limit` parts run at once, and runs them all', async () => {
    const limiter = new AdaptiveLimiter(4);
    const r = await drive(limiter, 40, (i) => sleep(i % 3));
    expect(r.done).toBe(40);
    expect(r.maxInFlight).toBe(4);
    expect(limiter.active).toBe(0);
  });

  it('with a limit of 1 runs parts strictly one at a time', async () => {
    const r = await drive(new AdaptiveLimiter(1), 10, () => sleep(1));
    expect(r.maxInFlight).toBe(1);
  });

  it('treats a limit below 1 as 1', () => {
    expect(new AdaptiveLimiter(0).limit).toBe(1);
  });

  it('halves the limit on throttle, never below 1', () => {
    const l = new AdaptiveLimiter(8);
    expect(l.throttle(0)).toEqual({ concurrency: 4, pauseMs: 0 });
    expect(l.throttle(0).concurrency).toBe(2);
    expect(l.throttle(0).concurrency).toBe(1);
    expect(l.throttle(0).concurrency).toBe(1);
    expect(new AdaptiveLimiter(3).throttle(0).concurrency).toBe(1);
  });

  it('after a throttle, never lets more than the new limit run', async () => {
    const l = new AdaptiveLimiter(8);
    l.throttle(0);
    // failures: the limit stays at 4 instead of growing back
    const r = await drive(l, 20, () => sleep(1), false);
    expect(r.maxInFlight).toBe(4);
  });

  it('pauses new acquires for the Retry-After time', async () => {
    const l = new AdaptiveLimiter(4);
    l.throttle(150);
    const t0 = performance.now();
    await l.acquire();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    l.release(true);
  });

  it('wakes a part already waiting for a slot only after the pause has passed', async () => {
    const l = new AdaptiveLimiter(1);
    await l.acquire();
    const t0 = performance.now();
    const waiting = l.acquire().then(() => performance.now() - t0);
    l.throttle(120);
    l.release(false);
    expect(await waiting).toBeGreaterThanOrEqual(110);
  });

  it('grows back by one after a run of successes (2 × the current limit)', async () => {
    const l = new AdaptiveLimiter(8);
    l.throttle(0); // 4
    for (let i = 0; i < 7; i++) {
      await l.acquire();
      l.release(true);
    }
    expect(l.limit).toBe(4);
    await l.acquire();
    l.release(true);
    expect(l.limit).toBe(5);
  });

  it('does not grow on failures, and never beyond the maximum', async () => {
    const l = new AdaptiveLimiter(2);
    l.throttle(0); // 1
    for (let i = 0; i < 10; i++) {
      await l.acquire();
      l.release(false);
    }
    expect(l.limit).toBe(1);
    for (let i = 0; i < 50; i++) {
      await l.acquire();
      l.release(true);
    }
    expect(l.limit).toBe(2);
  });

  it('a throttle restarts the success run', async () => {
    const l = new AdaptiveLimiter(8);
    l.throttle(0); // 4, needs 8 successes
    for (let i = 0; i < 7; i++) {
      await l.acquire();
      l.release(true);
    }
    l.throttle(0); // 2, needs 4 fresh successes
    for (let i = 0; i < 3; i++) {
      await l.acquire();
      l.release(true);
    }
    expect(l.limit).toBe(2);
    await l.acquire();
    l.release(true);
    expect(l.limit).toBe(3);
  });

  it('rejects a waiting acquire when its signal aborts, and frees nothing it did not take', async () => {
    const l = new AdaptiveLimiter(1);
    await l.acquire();
    const ac = new AbortController();
    const reason = new Error('stop');
    const waiting = l.acquire(ac.signal);
    ac.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(l.active).toBe(1);
    l.release(true);
    expect(l.active).toBe(0);
    await l.acquire();
    expect(l.active).toBe(1);
  });

  it('rejects at once when the signal is already aborted, even with free slots', async () => {
    const l = new AdaptiveLimiter(4);
    const ac = new AbortController();
    ac.abort(new Error('already'));
    await expect(l.acquire(ac.signal)).rejects.toThrow('already');
    expect(l.active).toBe(0);
  });

  it('rejects an acquire waiting out a pause when its signal aborts', async () => {
    const l = new AdaptiveLimiter(4);
    l.throttle(10_000);
    const ac = new AbortController();
    const t0 = performance.now();
    const p = l.acquire(ac.signal);
    setTimeout(() => ac.abort(new Error('bye')), 20);
    await expect(p).rejects.toThrow('bye');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
