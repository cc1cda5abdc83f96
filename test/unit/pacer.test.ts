import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiPacer } from '../../src/http/pacer.js';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 23, 8, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A server's account-wide token bucket: `rate` calls a second, one second of burst. */
function bucket(rate: number, headers = false) {
  let tokens = rate;
  let last = Date.now();
  return (): { status: number; retryAfterMs?: number; headers?: Record<string, string> } => {
    const now = Date.now();
    tokens = Math.min(rate, tokens + ((now - last) / 1000) * rate);
    last = now;
    const h = headers
      ? { 'x-ratelimit-remaining': String(Math.max(0, Math.floor(tokens - 1))), 'x-ratelimit-reset': String(Math.ceil((now + ((rate - tokens) / rate) * 1000) / 1000)) }
      : undefined;
    if (tokens >= 1) {
      tokens -= 1;
      return { status: 200, headers: h };
    }
    return { status: 429, retryAfterMs: Math.max(1000, Math.ceil((1 - tokens) / rate) * 1000), headers: h };
  };
}

/** `jobs` callers making `calls` calls in all through one pacer, each answered after `latencyMs`. */
async function drive(pacer: ApiPacer, serve: ReturnType<typeof bucket>, jobs: number, calls: number, latencyMs: number) {
  let left = calls;
  let throttled = 0;
  const t0 = Date.now();
  const job = async () => {
    while (left > 0) {
      left--;
      for (;;) {
        const answered = await pacer.acquire();
        await new Promise((r) => setTimeout(r, latencyMs));
        const a = serve();
        answered(a);
        if (a.status !== 429) break;
        throttled++;
      }
    }
  };
  const all = Promise.all(Array.from({ length: jobs }, job));
  let done = false;
  void all.then(() => (done = true));
  while (!done) await vi.advanceTimersByTimeAsync(5);
  return { ms: Date.now() - t0, throttled };
}

describe('ApiPacer', () => {
  it('lets calls through at once while nothing limits them', async () => {
    const p = new ApiPacer();
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) (await p.acquire())({ status: 200 });
    expect(Date.now() - t0).toBe(0);
  });

  it('pauses every caller when one is told to slow down', async () => {
    const p = new ApiPacer();
    const told = await p.acquire();
    told({ status: 429, retryAfterMs: 2000 });
    const t0 = Date.now();
    const others = Promise.all([p.acquire(), p.acquire(), p.acquire()]).then(() => Date.now() - t0);
    await vi.advanceTimersByTimeAsync(1999);
    let waited: number | undefined;
    void others.then((w) => (waited = w));
    await vi.advanceTimersByTimeAsync(0);
    expect(waited).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2000);
    expect(waited).toBeGreaterThanOrEqual(2000);
  });

  it('cuts its pace once per throttle window, however many calls in flight get a 429', async () => {
    const p = new ApiPacer();
    const inFlight = await Promise.all(Array.from({ length: 8 }, () => p.acquire()));
    for (const a of inFlight) a({ status: 429, retryAfterMs: 1000 });
    expect(p.stats.throttled).toBe(8);
    // 8 calls were started in the last second: the pace is 85% of that, not 8 × 15% less.
    expect(p.pace).toBeCloseTo(8 * 0.85, 5);
    expect(p.stats.throttled).toBe(8);
  });

  it('stays near an account limit of 100 calls/s with few 429s (no rate headers)', async () => {
    const p = new ApiPacer();
    const r = await drive(p, bucket(100), 8, 600, 20);
    // 600 calls at 100/s after a burst of 100: about 5 s at best.
    expect(r.ms).toBeLessThan(5000 * 1.35);
    expect(r.throttled / 600).toBeLessThan(0.05);
  });

  it('spreads calls by x-ratelimit-remaining/-reset and meets no 429 at all', async () => {
    const p = new ApiPacer();
    const r = await drive(p, bucket(100, true), 8, 600, 20);
    expect(r.ms).toBeLessThan(5000 * 1.35);
    expect(r.throttled).toBeLessThanOrEqual(2);
  });

  it('grows its pace back while calls succeed, and lets it go after 10 s without a 429', async () => {
    const p = new ApiPacer();
    const burst = await Promise.all(Array.from({ length: 8 }, () => p.acquire()));
    burst[0]({ status: 429, retryAfterMs: 1000 });
    for (const b of burst.slice(1)) b({ status: 429, retryAfterMs: 1000 });
    const cut = p.pace;
    expect(cut).toBeCloseTo(8 * 0.85, 5);
    await vi.advanceTimersByTimeAsync(1000);
    for (let i = 0; i < 5; i++) {
      const a = await p.acquire();
      await vi.advanceTimersByTimeAsync(1000);
      a({ status: 200 });
    }
    expect(p.pace).toBeGreaterThan(cut * 1.3);
    expect(Number.isFinite(p.pace)).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    (await p.acquire())({ status: 200 });
    expect(p.pace).toBe(Infinity);
  });

  it('does not learn a rate from a 429 that came after a call or two (another client spent the budget)', async () => {
    const p = new ApiPacer();
    (await p.acquire())({ status: 429, retryAfterMs: 1000 });
    expect(p.pace).toBe(Infinity);
  });

  it('gives up waiting when the run is interrupted', async () => {
    const p = new ApiPacer();
    (await p.acquire())({ status: 429, retryAfterMs: 30_000 });
    const ac = new AbortController();
    const waiting = p.acquire(ac.signal);
    ac.abort(new Error('interrupted'));
    await expect(waiting).rejects.toThrow('interrupted');
  });
});

describe('calls in flight', () => {
  it('at most MAX_IN_FLIGHT at once; the next goes when one answers', async () => {
    const { MAX_IN_FLIGHT } = await import('../../src/http/pacer.js');
    const p = new ApiPacer();
    const held = await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, () => p.acquire()));
    let next = false;
    const more = p.acquire().then((a) => ((next = true), a));
    await vi.advanceTimersByTimeAsync(100);
    expect(next).toBe(false);
    held[0]({ status: 200 });
    const a = await more;
    expect(next).toBe(true);
    a({ status: 200 });
    for (const h of held.slice(1)) h({ status: 200 });
  });
});

describe('rate headers are advice, read in every form, and never freeze a run', () => {
  /** Fake-time ms the next acquire waits after one answer with these headers. */
  async function waitAfter(headers: Record<string, string>, status = 200): Promise<number> {
    const p = new ApiPacer();
    (await p.acquire())({ status, headers });
    const t0 = Date.now();
    let waited: number | undefined;
    void p.acquire().then(() => (waited = Date.now() - t0));
    for (let i = 0; i < 400 && waited === undefined; i++) await vi.advanceTimersByTimeAsync(250);
    return waited ?? Infinity;
  }
  const in5s = () => Date.now() + 5000;

  it.each([
    ['seconds from now', () => '5'],
    ['epoch seconds', () => String(in5s() / 1000)],
    ['epoch milliseconds', () => String(in5s())],
    ['an HTTP date', () => new Date(in5s()).toUTCString()],
  ])('reads x-ratelimit-reset as %s: remaining 0 waits until the reset, 5 s', async (_form, reset) => {
    const waited = await waitAfter({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset() });
    expect(waited).toBeGreaterThanOrEqual(4750);
    expect(waited).toBeLessThanOrEqual(5250);
  });

  it.each([
    ['nothing left', '0'],
    ['one call left (spread over the hour)', '1'],
  ])('waits at most MAX_ADVISED_WAIT_MS on headers alone when they say %s until a reset an hour away', async (_what, remaining) => {
    const { MAX_ADVISED_WAIT_MS } = await import('../../src/http/pacer.js');
    const p = new ApiPacer();
    const headers = { 'x-ratelimit-remaining': remaining, 'x-ratelimit-reset': String(Date.now() + 3_600_000) };
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = Date.now();
      let answered: ((a: { status: number; headers: Record<string, string> }) => void) | undefined;
      void p.acquire().then((a) => (answered = a));
      for (let j = 0; j < 100 && !answered; j++) await vi.advanceTimersByTimeAsync(250);
      waits.push(Date.now() - t0);
      answered?.({ status: 429, headers });
      // a 429 pauses one second; the wait measured next is the headers' own
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(Math.max(...waits)).toBeGreaterThan(0);
    expect(Math.max(...waits)).toBeLessThanOrEqual(MAX_ADVISED_WAIT_MS);
  });

  it('a server that says remaining 0 on every answer while serving: one capped wait, then full speed', async () => {
    const p = new ApiPacer();
    const headers = () => ({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600) });
    const t0 = Date.now();
    let served = 0;
    const job = (async () => {
      for (let i = 0; i < 50; i++) {
        (await p.acquire())({ status: 200, headers: headers() });
        served++;
      }
    })();
    for (let i = 0; i < 200 && served < 50; i++) await vi.advanceTimersByTimeAsync(250);
    await job;
    expect(served).toBe(50);
    expect(Date.now() - t0).toBeLessThanOrEqual(10_500);
  });

  it('a limit that never lifts (429 on every call) fails with one line after GIVE_UP_MS, not later', async () => {
    const { GIVE_UP_MS } = await import('../../src/http/pacer.js');
    const p = new ApiPacer();
    const t0 = Date.now();
    let failure: Error | undefined;
    const job = (async () => {
      for (;;) (await p.acquire())({ status: 429, retryAfterMs: 60_000 });
    })().catch((e: Error) => (failure = e));
    for (let i = 0; i < 2 * GIVE_UP_MS / 1000 && !failure; i++) await vi.advanceTimersByTimeAsync(1000);
    await job;
    expect(failure?.message).toBe("the API's rate limit has not reset in 3 minutes: try later");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GIVE_UP_MS);
    expect(Date.now() - t0).toBeLessThanOrEqual(GIVE_UP_MS + 60_000);
  });

  it('one success lifts the limit: 429s before it do not count towards giving up', async () => {
    const { GIVE_UP_MS } = await import('../../src/http/pacer.js');
    const p = new ApiPacer();
    (await p.acquire())({ status: 429, retryAfterMs: 1000 });
    await vi.advanceTimersByTimeAsync(GIVE_UP_MS - 1000);
    (await p.acquire())({ status: 200 });
    await vi.advanceTimersByTimeAsync(5000);
    (await p.acquire())({ status: 429, retryAfterMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    await expect(p.acquire()).resolves.toBeTypeOf('function');
  });

  it('an interrupt ends a wait on rate headers at once', async () => {
    const p = new ApiPacer();
    (await p.acquire())({ status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '30' } });
    const ac = new AbortController();
    const waiting = p.acquire(ac.signal);
    await vi.advanceTimersByTimeAsync(100);
    ac.abort(new Error('interrupted'));
    await expect(waiting).rejects.toThrow('interrupted');
  });
});
