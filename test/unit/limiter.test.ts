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

  it('cuts once for a burst of throttles from parts that were in flight together', async () => {
    const l = new AdaptiveLimiter(16);
    const tickets = await Promise.all(Array.from({ length: 16 }, () => l.acquire()));
    // All sixteen get a SlowDown at once: one congestion event, one cut.
    for (const t of tickets) {
      l.release(false);
      l.throttle(0, t);
    }
    expect(l.limit).toBe(8);
    // A part sent after the cut that is throttled again is a new event.
    const t = await l.acquire();
    l.release(false);
    expect(l.throttle(0, t).concurrency).toBe(4);
  });

  it('grows back by one per round of successes (limit successes) up to where it was', async () => {
    const l = new AdaptiveLimiter(8);
    const t = await l.acquire();
    l.release(false);
    l.throttle(0, t); // 4
    for (let i = 0; i < 3; i++) {
      await l.acquire();
      l.release(true);
    }
    expect(l.limit).toBe(4);
    await l.acquire();
    l.release(true);
    expect(l.limit).toBe(5); // after 4 successes
    for (let i = 0; i < 5 + 6 + 7 + 10; i++) {
      await l.acquire();
      l.release(true);
    }
    expect(l.limit).toBe(8); // never beyond the maximum
  });

  it('recovers the parts in flight within a bounded time after a burst of SlowDowns', async () => {
    const l = new AdaptiveLimiter(16);
    let inFlight = 0;
    const seen: number[] = [];
    let throttling = true;
    setTimeout(() => (throttling = false), 100);
    const t0 = performance.now();
    let recoveredAt: number | undefined;
    // 16 workers send 5 ms parts; for the first 100 ms every part gets a SlowDown (Retry-After 20 ms).
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (performance.now() - t0 < 1500 && recoveredAt === undefined) {
          const ticket = await l.acquire();
          inFlight++;
          seen.push(inFlight);
          await sleep(5);
          inFlight--;
          if (throttling) {
            l.release(false);
            l.throttle(20, ticket);
          } else {
            l.release(true);
            if (l.limit === 16 && recoveredAt === undefined) recoveredAt = performance.now() - t0;
          }
        }
      }),
    );
    expect(recoveredAt, 'back to 16 parts in flight').toBeDefined();
    // Cut once per round of throttled parts (a few times in 100 ms), not to 1 by the first burst;
    // then +1 per round of 5 ms parts: well under a second.
    expect(recoveredAt!).toBeLessThan(1200);
    expect(Math.max(...seen)).toBeLessThanOrEqual(16);
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

  it('a pinned limit does not back off on plain failures; adaptive mode does, once per event', async () => {
    const pinned = new AdaptiveLimiter(8);
    pinned.failed(await pinned.acquire());
    expect(pinned.limit).toBe(8);
    const auto = new AdaptiveLimiter(64, { adaptive: true, initial: 8 });
    const a = await auto.acquire();
    const b = await auto.acquire();
    auto.release(false);
    auto.failed(a);
    auto.release(false);
    auto.failed(b);
    expect(auto.limit).toBe(4);
  });

  it('slots are granted in the order asked for, one per free slot', async () => {
    const l = new AdaptiveLimiter(1);
    await l.acquire();
    const order: number[] = [];
    const waits = [1, 2, 3].map((i) => l.acquire().then(() => order.push(i)));
    l.release(true);
    await sleep(1);
    expect(order).toEqual([1]);
    l.release(true);
    l.release(true);
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
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

  describe('adaptive (--concurrency auto)', () => {
    const MiB = 2 ** 20;
    /**
     * A fluid model of a link on a fake clock, in steps of 10 ms: `rate(n)` bytes/ms in all when n
     * parts are in flight, shared equally, told to the limiter as `sent` bytes; parts start as the
     * limiter grants slots. Returns the limit after each step (with its time) and, from `judgeFrom`
     * ms on, the most seconds of sending that the parts in flight ever had left.
     */
    async function run(l: AdaptiveLimiter, parts: number, size: number, rate: (inFlight: number) => number, clock: { t: number }, judgeFrom = 1000) {
      const inFlight: Array<{ left: number; t0: number; ticket: number }> = [];
      let started = 0;
      const limits: Array<{ t: number; limit: number }> = [];
      let mostSecondsLeft = 0;
      while (started < parts || inFlight.length > 0) {
        while (started < parts && l.active < l.limit) {
          const ticket = await l.acquire(undefined, size);
          inFlight.push({ left: size, t0: clock.t, ticket });
          started++;
        }
        const r = rate(inFlight.length);
        if (clock.t >= judgeFrom) mostSecondsLeft = Math.max(mostSecondsLeft, inFlight.reduce((n, p) => n + p.left, 0) / r / 1000);
        clock.t += 10;
        const each = (r * 10) / inFlight.length;
        for (let i = inFlight.length - 1; i >= 0; i--) {
          const p = inFlight[i]!;
          const n = Math.min(each, p.left);
          p.left -= n;
          l.sent(n);
          if (p.left <= 1e-6) {
            inFlight.splice(i, 1);
            l.release(true, size, clock.t - p.t0, p.ticket);
          }
        }
        limits.push({ t: clock.t, limit: l.limit });
      }
      return { limits, mostSecondsLeft, top: Math.max(...limits.map((x) => x.limit)), last: limits.at(-1)!.limit };
    }

    it('starts at 16 and doubles within a second while throughput grows in proportion (a distant link, per-connection limits)', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(64, { adaptive: true, now: () => clock.t });
      expect(l.limit).toBe(16);
      // 16 MiB/s per connection, no cap in all: more connections, more throughput.
      const r = await run(l, 400, 16 * MiB, (n) => (n * 16 * MiB) / 1000, clock);
      // 16 → 32 → 64, a step of 300 ms each: at the top before the first part is even done (1 s).
      expect(r.limits.find((x) => x.limit === 64)!.t).toBeLessThan(1000);
      expect(r.top).toBe(64);
    });

    it('holds where more parts in flight stop paying (a shared bottleneck)', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(64, { adaptive: true, now: () => clock.t });
      // 600 MiB/s in all, however many connections (loopback bound by CPU): it doubles once, sees
      // no gain, goes back to 16, and from there probes down (free) rather than up (no gain).
      const r = await run(l, 1000, 16 * MiB, () => (600 * MiB) / 1000, clock);
      expect(r.top).toBe(32);
      expect(r.last).toBeLessThanOrEqual(16);
      expect(Math.min(...r.limits.map((x) => x.limit))).toBeGreaterThanOrEqual(4); // probes stop at 4
    });

    it('on a slow link keeps at most ~2 s of sending in flight, so Ctrl-C and kill -9 lose little', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(64, { adaptive: true, now: () => clock.t });
      // 20 MiB/s in all (a slow link, unknown in advance), 10 MiB parts: the 16 parts started before
      // anything was measured are 8 s of sending; the first step (300 ms) brings the limit to 4, and
      // once that first round is over no more than ~2 s of sending is ever in flight.
      const r = await run(l, 60, 10 * MiB, () => (20 * MiB) / 1000, clock, 8000);
      expect(r.limits.find((x) => x.limit <= 4)!.t).toBeLessThanOrEqual(300);
      expect(r.last).toBeLessThanOrEqual(4);
      expect(r.top).toBe(16);
      expect(r.mostSecondsLeft).toBeLessThanOrEqual(2.01);
    });

    it('with the rate known in advance (--limit-rate) never starts more than ~2 s of sending', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(64, { adaptive: true, rateHint: 20 * MiB, now: () => clock.t });
      const r = await run(l, 60, 10 * MiB, () => (20 * MiB) / 1000, clock);
      expect(r.top).toBe(4);
      expect(r.mostSecondsLeft).toBeLessThanOrEqual(2.01);
    });

    it('a slow link leaves at least 2 parts in flight', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(64, { adaptive: true, rateHint: 1 * MiB, now: () => clock.t });
      const r = await run(l, 6, 10 * MiB, () => (1 * MiB) / 1000, clock);
      expect(r.last).toBe(2);
    });

    it('does not double while fewer parts than the limit are in flight (nothing to measure)', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(64, { adaptive: true, now: () => clock.t });
      const r = await run(l, 12, 16 * MiB, (n) => (n * 16 * MiB) / 1000, clock);
      expect(r.top).toBe(16);
    });

    it('a pinned limit never moves on throughput', async () => {
      const clock = { t: 0 };
      const l = new AdaptiveLimiter(4, { now: () => clock.t });
      const r = await run(l, 100, 2 ** 20, (n) => (n * 2 ** 20) / 1000, clock);
      expect(new Set(r.limits.map((x) => x.limit))).toEqual(new Set([4]));
    });
  });
});
