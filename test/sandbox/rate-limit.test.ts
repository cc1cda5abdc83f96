import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { RateBucket } from '../../src/sandbox/rate-bucket.js';
import type { SandboxHandle } from '../../src/sandbox/server.js';
import type { Answer } from './helpers.js';
import { api, apiGet, bytes, CP, CP_TREE, get, ML_ITEMS, ML_UPLOAD, put, sandbox } from './helpers.js';

const cpStart = (sb: SandboxHandle) => api(sb, `${CP}/start`, { fileName: 'a.bin', fileSize: 1, mimeType: 'a/b' });
const hasRateHeaders = (a: Answer) => Object.keys(a.headers).some((h) => h.startsWith('x-ratelimit-'));

describe('RateBucket', () => {
  const clocks = () => {
    const t = { mono: 0, wall: 1_000_000 };
    const advance = (ms: number) => {
      t.mono += ms;
      t.wall += ms;
    };
    return { t, advance, bucket: (rate: number) => new RateBucket(rate, () => t.mono, () => t.wall) };
  };

  it('is unlimited at rate 0', () => {
    const { bucket } = clocks();
    expect(bucket(0).take()).toBeUndefined();
    expect(bucket(0).peek()).toBeUndefined();
  });

  it('holds one second of calls, refuses the next with the ceiling of the wait, refills continuously', () => {
    const { bucket, advance } = clocks();
    const b = bucket(5);
    expect([1, 2, 3, 4, 5].map(() => b.take()!.remaining)).toEqual([4, 3, 2, 1, 0]);
    expect(b.take()).toEqual({ ok: false, limit: 5, remaining: 0, resetEpochSec: 1001, retryAfterSec: 1 });
    advance(100); // half a token: still refused, still "1 s" (rounded up)
    expect(b.take()).toMatchObject({ ok: false, retryAfterSec: 1 });
    advance(100);
    expect(b.take()).toMatchObject({ ok: true, remaining: 0 });
    advance(10_000); // never more than the capacity
    expect(b.take()).toMatchObject({ ok: true, limit: 5, remaining: 4, resetEpochSec: 1011 });
  });

  it('keeps at least one call of capacity for rates below 1/s, and waits whole seconds', () => {
    const { bucket, advance } = clocks();
    const b = bucket(0.2);
    expect(b.take()).toMatchObject({ ok: true, limit: 1, remaining: 0 });
    expect(b.take()).toMatchObject({ ok: false, retryAfterSec: 5 });
    advance(4001);
    expect(b.take()).toMatchObject({ ok: false, retryAfterSec: 1 });
    advance(999);
    expect(b.take()!.ok).toBe(true);
  });

  it('restarts full when the rate changes, keeps its state when set to the same rate', () => {
    const { bucket } = clocks();
    const b = bucket(2);
    b.take();
    b.take();
    b.setRate(2);
    expect(b.take()!.ok).toBe(false);
    b.setRate(3);
    expect(b.take()).toMatchObject({ ok: true, remaining: 2 });
    expect(() => b.setRate(-1)).toThrow(/apiRate/);
  });
});

describe('account-wide API rate limit (apiRate)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets about R of a burst of 2R calls through; the rest get 429 + Retry-After, and calls succeed again after it', async () => {
    const R = 5;
    // The bucket's clocks (monotonic and wall) are the test's: the Retry-After wait is a tick, not a sleep.
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const sb = await sandbox({ apiRate: R });
    const began = performance.now();
    const answers: Answer[] = [];
    for (let i = 0; i < 2 * R; i++) answers.push(await cpStart(sb));
    const elapsedSec = (performance.now() - began) / 1000;

    const ok = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    expect(ok.length + limited.length).toBe(2 * R);
    expect(ok.length).toBeGreaterThanOrEqual(R);
    expect(ok.length).toBeLessThanOrEqual(R + Math.ceil(elapsedSec * R)); // what refilled during the burst
    expect(answers[0]!.status).toBe(200);
    expect(answers.at(-1)!.status).toBe(429);

    // Copera: the headers are on every answer, successes included; remaining counts down to 0.
    const remaining = answers.map((a) => Number(a.headers['x-ratelimit-remaining']));
    expect(remaining[0]).toBe(R - 1);
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBeLessThanOrEqual(remaining[i - 1]!);
    const now = Date.now() / 1000;
    for (const a of answers) {
      expect(a.headers['x-ratelimit-limit']).toBe(String(R));
      const reset = Number(a.headers['x-ratelimit-reset']);
      expect(Number.isInteger(reset)).toBe(true);
      expect(reset).toBeGreaterThanOrEqual(Math.floor(now));
      expect(reset).toBeLessThanOrEqual(Math.ceil(now) + 2); // a full refill takes 1 s at most
    }
    for (const a of limited) {
      expect(a.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(a.headers['x-ratelimit-remaining']).toBe('0');
      expect(a.json).toEqual({ error: expect.stringMatching(/retry after/i), code: 'RATE_LIMITED' });
    }
    const stats = sb.stats();
    expect(stats.rateLimited).toBe(limited.length);
    expect(stats.apiCalls['copera.start']).toBe(2 * R);
    expect(stats.faultsInjected.throttle).toBe(0);

    vi.advanceTimersByTime(Number(limited.at(-1)!.headers['retry-after']) * 1000);
    const again = await cpStart(sb);
    expect(again.status).toBe(200);
    expect(Number(again.headers['x-ratelimit-remaining'])).toBeGreaterThanOrEqual(R - 1);
  });

  it('is one bucket for both providers and for GET calls; MemoryLake gets its own error body and only Retry-After', async () => {
    const sb = await sandbox({ apiRate: 2 });
    const first = await apiGet(sb, `${ML_ITEMS}/MY_SPACE/children`);
    const second = await apiGet(sb, `${ML_ITEMS}/MY_SPACE`);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(hasRateHeaders(first) || hasRateHeaders(second)).toBe(false);

    const ml = await api(sb, ML_UPLOAD, { file_size: 10 });
    expect(ml.status).toBe(429);
    expect(ml.headers['retry-after']).toBe('1');
    expect(hasRateHeaders(ml)).toBe(false);
    expect(ml.json).toEqual({ success: false, message: expect.any(String), error_code: 'RATE_LIMITED' });

    const cp = await apiGet(sb, CP_TREE);
    expect(cp.status).toBe(429);
    expect(cp.json.code).toBe('RATE_LIMITED');
    expect(cp.headers['x-ratelimit-remaining']).toBe('0');
    expect(sb.stats().rateLimited).toBe(2);
    expect(sb.stats().apiCalls).toMatchObject({ 'memorylake.children': 1, 'memorylake.get': 1, 'memorylake.create': 1, 'copera.tree': 1 });
  });

  it('never limits part PUTs, /plain or the controls, and does not charge unauthenticated calls', async () => {
    const sb = await sandbox({ apiRate: 1, memorylakePartSize: 100 });
    expect((await api(sb, ML_UPLOAD, {}, { token: 'wrong' })).status).toBe(401); // no account: no token taken
    const session = await api(sb, ML_UPLOAD, { file_size: 300 });
    expect(session.status).toBe(200);
    expect((await api(sb, ML_UPLOAD, { file_size: 1 })).status).toBe(429);
    const parts: { upload_url: string }[] = session.json.data.part_items;
    for (const p of parts) expect((await put(p.upload_url, bytes(100))).status).toBe(200);
    expect((await put(`${sb.origin}/plain/x.bin`, bytes(10))).status).toBe(200);
    expect((await get(`${sb.origin}/_sandbox/stats`)).status).toBe(200);
    expect(sb.stats().rateLimited).toBe(1);
  });

  it('is set, changed and lifted at run time through setFaults and POST /_sandbox/faults', async () => {
    const sb = await sandbox();
    const unlimited = await cpStart(sb);
    expect(unlimited.status).toBe(200);
    expect(hasRateHeaders(unlimited)).toBe(false);

    const set = await request(`${sb.origin}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ apiRate: 1 }) });
    expect(set.statusCode).toBe(200);
    expect(await set.body.json()).toEqual({ ok: true, faults: { apiRate: 1 } });
    const one = await cpStart(sb);
    expect(one.headers).toMatchObject({ 'x-ratelimit-limit': '1', 'x-ratelimit-remaining': '0' });
    expect((await cpStart(sb)).status).toBe(429);

    sb.setFaults({ apiRate: 0 });
    const lifted = await cpStart(sb);
    expect(lifted.status).toBe(200);
    expect(hasRateHeaders(lifted)).toBe(false);

    for (const bad of [-1, 'fast', null]) {
      const r = await request(`${sb.origin}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ apiRate: bad }) });
      expect(r.statusCode).toBe(400);
      expect(((await r.body.json()) as { error: string }).error).toMatch(/apiRate/);
    }
    expect(() => sb.setFaults({ apiRate: Infinity })).toThrow(/apiRate/);
  });

  it('random throttling on top of a bucket reports the bucket truthfully and is counted as a fault, not a rate limit', async () => {
    const sb = await sandbox({ apiRate: 10, faults: { throttleRate: 1 } });
    const r = await cpStart(sb);
    expect(r.status).toBe(429);
    expect(r.headers).toMatchObject({ 'retry-after': '1', 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '9' });
    expect(sb.stats()).toMatchObject({ rateLimited: 0, faultsInjected: { throttle: 1 } });
  });
});
