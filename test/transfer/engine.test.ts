// The transfer engine over real sockets against a programmable storage stand-in.
import { describe, expect, it } from 'vitest';
import { splitParts } from '../../src/providers/layout.js';
import { uploadParts } from '../../src/transfer/engine.js';
import { AdaptiveLimiter } from '../../src/transfer/limiter.js';
import type { FinishedPart } from '../../src/types.js';
import { readRange } from '../helpers/files.js';
import { s3Error } from '../helpers/part-server.js';
import { PART, SIZE, useEngineBed } from '../helpers/engine-bed.js';

const bed = useEngineBed(7);
const opts = bed.opts;

async function expectStored(done: Map<number, FinishedPart>): Promise<void> {
  const parts = splitParts(SIZE, PART);
  expect(done.size).toBe(parts.length);
  for (const p of parts) {
    const ok = bed.server.arrived.filter((a) => a.part === p.number && a.answered === 200);
    expect(ok.length, `part ${p.number} stored once`).toBe(1);
    expect(ok[0].bytes.equals(await readRange(bed.file, p.offset, p.size)), `part ${p.number} bytes`).toBe(true);
    expect(done.get(p.number)!.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(done.get(p.number)!.etag).toBe(done.get(p.number)!.md5);
  }
}

describe('uploadParts', () => {
  it('sends every part byte-exact with exact Content-Length, unquoted ETags and no Authorization', async () => {
    const o = opts();
    await uploadParts(o);
    await expectStored(o.done);
    for (const a of bed.server.arrived) {
      expect(a.headers.authorization).toBeUndefined();
      expect(Number(a.headers['content-length'])).toBe(a.bytes.length);
      expect(a.headers['content-type']).toBe('application/octet-stream');
    }
  });

  it('never has more than --concurrency parts in flight', async () => {
    bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 20 });
    await uploadParts(opts({ concurrency: 2 }));
    expect(bed.server.maxInFlight).toBeLessThanOrEqual(2);
    expect(bed.server.maxInFlight).toBe(2);
  });

  it('skips parts already done (resume) and sends only the rest', async () => {
    const done = new Map<number, FinishedPart>([[2, { number: 2, etag: 'x', size: PART }]]);
    await uploadParts(opts({ done }));
    expect(bed.server.arrived.some((a) => a.part === 2)).toBe(false);
    expect(done.size).toBe(7);
    expect(done.get(2)!.etag).toBe('x');
  });

  it('retries a reset connection with a fresh read of the part', async () => {
    bed.server.behave = (part, attempt) => (part === 3 && attempt === 1 ? { kind: 'reset', afterBytes: 1000 } : { kind: 'ok' });
    const o = opts();
    const retries: number[] = [];
    o.events.on('part:retry', (r) => retries.push(r.number));
    await uploadParts(o);
    await expectStored(o.done);
    expect(retries).toEqual([3]);
  });

  it('retries 500, 502, 504 and 408', async () => {
    const statuses = [500, 502, 504, 408];
    bed.server.behave = (part, attempt) =>
      part <= 4 && attempt === 1 ? { kind: 'status', status: statuses[part - 1], body: s3Error('InternalError', 'x') } : { kind: 'ok' };
    const o = opts();
    await uploadParts(o);
    await expectStored(o.done);
  });

  it('on 503 SlowDown pauses for Retry-After and lowers concurrency', async () => {
    bed.server.behave = (part, attempt) =>
      part === 1 && attempt === 1
        ? { kind: 'status', status: 503, body: s3Error('SlowDown', 'Please reduce your request rate.'), headers: { 'retry-after': '1' } }
        : { kind: 'ok' };
    const o = opts({ concurrency: 4 });
    const throttles: Array<{ pauseMs: number; concurrency: number }> = [];
    o.events.on('throttle', (t) => throttles.push(t));
    const t0 = performance.now();
    await uploadParts(o);
    await expectStored(o.done);
    expect(throttles).toEqual([{ pauseMs: 1000, concurrency: 2 }]);
    const retried = bed.server.arrived.filter((a) => a.part === 1);
    expect(retried.length).toBe(2);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('a burst of SlowDowns from parts sent together cuts concurrency once, and it grows back', async () => {
    // Every part's first attempt is throttled at once (Retry-After 0): one congestion event.
    bed.server.behave = (_part, attempt) =>
      attempt === 1
        ? { kind: 'status', status: 503, body: s3Error('SlowDown', 'Please reduce your request rate.'), headers: { 'retry-after': '0' } }
        : { kind: 'ok' };
    const limiter = new AdaptiveLimiter(4);
    const o = opts({ limiter, parts: splitParts(SIZE, PART).slice(0, 4) });
    const throttles: number[] = [];
    o.events.on('throttle', (t) => throttles.push(t.concurrency));
    await uploadParts(o);
    expect(throttles.length).toBe(4);
    expect(Math.min(...throttles)).toBe(2); // 4 → 2 once, not 4 → 2 → 1 → 1
    // Successes bring it back: +1 per `limit` parts.
    bed.server.behave = () => ({ kind: 'ok' });
    for (let i = 0; i < 3 && limiter.limit < 4; i++) await uploadParts(opts({ limiter }));
    expect(limiter.limit).toBe(4);
  });

  it('never prints a MaxListenersExceededWarning at high concurrency', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 5 });
      const many = 40;
      await uploadParts(opts({ concurrency: 32, parts: splitParts(SIZE, 8 * 1024).slice(0, many) }));
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('aborts a stalled answer after the stall timeout and retries the part', async () => {
    bed.server.behave = (part, attempt) => (part === 2 && attempt === 1 ? { kind: 'stall' } : { kind: 'ok' });
    const o = opts({ stallTimeoutMs: 400 });
    const reasons: string[] = [];
    o.events.on('part:retry', (r) => reasons.push(r.reason));
    await uploadParts(o);
    await expectStored(o.done);
    expect(reasons).toEqual(['stalled']);
  });

  it('does not time out a slow transfer that keeps moving', async () => {
    // Each 64 KiB part trickles in over ~ 8 chunks × 120 ms ≈ 1 s, far beyond the 400 ms stall timeout.
    bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 120 });
    const o = opts({ stallTimeoutMs: 400, concurrency: 7 });
    const reasons: string[] = [];
    o.events.on('part:retry', (r) => reasons.push(r.reason));
    await uploadParts({ ...o, parts: o.parts.slice(0, 2) });
    expect(reasons).toEqual([]);
  });

  it('re-sends a part whose ETag is not the MD5 of what was sent, unless verification is off', async () => {
    bed.server.behave = (part, attempt) => (part === 4 && attempt === 1 ? { kind: 'ok', etag: '0123456789abcdef0123456789abcdef' } : { kind: 'ok' });
    const o = opts();
    const reasons: string[] = [];
    o.events.on('part:retry', (r) => reasons.push(r.reason));
    await uploadParts(o);
    expect(reasons).toEqual(['BAD_DIGEST']);
    expect(o.done.get(4)!.etag).not.toBe('0123456789abcdef0123456789abcdef');

    const p = opts({ verify: false });
    bed.server.behave = (part) => (part === 4 ? { kind: 'ok', etag: '0123456789abcdef0123456789abcdef' } : { kind: 'ok' });
    await uploadParts(p);
    expect(p.done.get(4)!.etag).toBe('0123456789abcdef0123456789abcdef');
  });

  it('accepts an ETag that is not an MD5 (KMS, other stores) without comparing', async () => {
    bed.server.behave = () => ({ kind: 'ok', etag: 'abc-123' });
    const o = opts();
    await uploadParts(o);
    expect(o.done.get(1)!.etag).toBe('abc-123');
  });

  it('refreshes expired URLs once for all parts that met the expiry, then finishes', async () => {
    let generation = 0;
    bed.server.behave = (_part, _attempt) => ({ kind: 'ok' });
    const expiredUntilRefresh = (n: number) => `${bed.server.url(n)}&gen=${generation}`;
    bed.server.behave = (part, attempt) =>
      attempt === 1 && part > 2
        ? { kind: 'status', status: 403, body: s3Error('AccessDenied', 'Request has expired'), early: true }
        : { kind: 'ok' };
    let refreshes = 0;
    const o = opts({
      urlFor: expiredUntilRefresh,
      refreshUrls: async () => {
        refreshes++;
        await new Promise((r) => setTimeout(r, 50));
        generation++;
      },
    });
    await uploadParts(o);
    expect(o.done.size).toBe(7);
    expect(refreshes).toBeGreaterThanOrEqual(1);
    expect(refreshes).toBeLessThanOrEqual(2);
  });

  it('ends with URL_EXPIRED when URLs expire and cannot be refreshed', async () => {
    bed.server.behave = () => ({ kind: 'status', status: 403, body: s3Error('AccessDenied', 'Request has expired'), early: true });
    await expect(uploadParts(opts())).rejects.toMatchObject({ code: 'URL_EXPIRED' });
  });

  it('fails at once on 403 SignatureDoesNotMatch with the storage code in the message', async () => {
    bed.server.behave = (part) =>
      part === 1 ? { kind: 'status', status: 403, body: s3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match') } : { kind: 'slow', chunkDelayMs: 50 };
    const err = await uploadParts(opts()).catch((e) => e);
    expect(err.message).toMatch(/part 1: storage answered HTTP 403 \(SignatureDoesNotMatch/);
    expect(bed.server.arrived.filter((a) => a.part === 1).length).toBe(1);
  });

  it('gives up after --retries failed attempts without progress', async () => {
    bed.server.behave = (part) => (part === 1 ? { kind: 'status', status: 500, body: s3Error('InternalError', 'boom') } : { kind: 'ok' });
    const err = await uploadParts(opts({ retries: 2 })).catch((e) => e);
    expect(err.message).toMatch(/HTTP 500/);
    expect(bed.server.arrived.filter((a) => a.part === 1).length).toBe(3);
  });

  it('stops promptly with the abort reason when interrupted', async () => {
    bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 200 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(Object.assign(new Error('interrupted'), { kind: 'interrupted' })), 150);
    const t0 = performance.now();
    const err = await uploadParts(opts({ signal: ac.signal })).catch((e) => e);
    expect(err.message).toBe('interrupted');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('an interrupt starts no new part, lets the parts in flight finish and keeps them, then rejects with it', async () => {
    bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 5 });
    const ac = new AbortController();
    const interrupt = Object.assign(new Error('interrupted'), { kind: 'interrupted' });
    const o = opts({ concurrency: 3, signal: ac.signal, abortNow: new AbortController().signal });
    const started = new Set<number>();
    o.events.on('part:progress', (p) => {
      started.add(p.number);
      if (started.size === 3 && !ac.signal.aborted) ac.abort(interrupt); // three parts in flight
    });
    const recorded: number[] = [];
    o.onPartDone = (p) => void recorded.push(p.number);
    const err = await uploadParts(o).catch((e) => e);
    expect(err).toBe(interrupt);
    expect([...started].sort()).toEqual([1, 2, 3]);
    expect([...o.done.keys()].sort()).toEqual([1, 2, 3]);
    expect(recorded.sort()).toEqual([1, 2, 3]);
    expect(new Set(bed.server.arrived.map((a) => a.part))).toEqual(new Set([1, 2, 3]));
    expect(bed.server.arrived.every((a) => a.answered === 200)).toBe(true);
  });

  it('abortNow stops the parts in flight too', async () => {
    bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 50 });
    const soft = new AbortController();
    const hard = new AbortController();
    const interrupt = Object.assign(new Error('interrupted'), { kind: 'interrupted' });
    const o = opts({ concurrency: 3, signal: soft.signal, abortNow: hard.signal });
    o.events.on('part:progress', () => {
      if (soft.signal.aborted) return;
      soft.abort(interrupt);
      hard.abort(interrupt);
    });
    const err = await uploadParts(o).catch((e) => e);
    expect(err).toBe(interrupt);
    expect(o.done.size).toBe(0);
  });

  it('an interrupt after the last part started keeps every part and still rejects: finalize is the rerun\'s', async () => {
    bed.server.behave = () => ({ kind: 'slow', chunkDelayMs: 5 });
    const ac = new AbortController();
    const interrupt = new Error('interrupted');
    const o = opts({ concurrency: 7, signal: ac.signal, abortNow: new AbortController().signal });
    const started = new Set<number>();
    o.events.on('part:progress', (p) => {
      started.add(p.number);
      if (started.size === 7 && !ac.signal.aborted) ac.abort(interrupt);
    });
    expect(await uploadParts(o).catch((e) => e)).toBe(interrupt);
    await expectStored(o.done);
  });

  it('reports progress that adds up to the file size, minus nothing once done', async () => {
    bed.server.behave = (part, attempt) => (part === 2 && attempt === 1 ? { kind: 'reset', afterBytes: 30000 } : { kind: 'ok' });
    const o = opts();
    let bytes = 0;
    o.events.on('part:progress', (p) => (bytes += p.bytes));
    o.events.on('part:retry', (r) => (bytes -= r.lostBytes));
    await uploadParts(o);
    expect(bytes).toBe(SIZE);
  });
});
