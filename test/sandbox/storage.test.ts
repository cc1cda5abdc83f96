import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { SandboxHandle } from '../../src/sandbox/server.js';
import { api, bytes, md5, ML_ITEMS, ML_UPLOAD, put, s3Code, sandbox, until } from './helpers.js';

/** A one-part MemoryLake session of `size` bytes; returns its upload id and the part URL. */
async function onePart(sb: SandboxHandle, size = 1000): Promise<{ uploadId: string; url: string }> {
  const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: size })).json.data;
  return { uploadId: upload_id, url: part_items[0].upload_url };
}

/**
 * Sends a PUT with a Content-Length larger than what is written, waits until the sandbox has read those bytes, then
 * drops the connection.
 */
async function abortedPut(sb: SandboxHandle, url: string, declared: number, sent: number): Promise<void> {
  const u = new URL(url);
  const before = sb.stats().bytesReceived;
  const socket = connect(Number(u.port), u.hostname);
  await new Promise((r) => socket.once('connect', r));
  socket.write(`PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(bytes(sent));
  await until(() => sb.stats().bytesReceived - before >= sent);
  socket.destroy();
}

/** The files in an upload's part folder. */
const partFiles = (sb: SandboxHandle, uploadId: string) => {
  const dir = join(sb.dir, '.sandbox-parts', uploadId);
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('presigned part URLs', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuse an altered URL with 403 SignatureDoesNotMatch', async () => {
    const sb = await sandbox();
    const { url } = await onePart(sb);
    const altered = [
      url.replace('partNumber=1', 'partNumber=2'),
      url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=999999'),
      url.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
      `${url}&extra=1`,
      url.replace('/uploads/', '/uploads2/'),
    ];
    for (const u of altered) {
      const r = await put(u, bytes(1000));
      expect(r.status, u).toBe(403);
      expect(r.headers['content-type']).toBe('application/xml');
      expect(s3Code(r.text)).toBe('SignatureDoesNotMatch');
    }
    expect((await put(url, bytes(1000))).status).toBe(200);
  });

  it('refuse a bearer header with 400 InvalidArgument "Only one auth mechanism allowed"', async () => {
    const sb = await sandbox();
    const { url } = await onePart(sb);
    const r = await put(url, bytes(1000), { authorization: `Bearer ${sb.token}` });
    expect(r.status).toBe(400);
    expect(s3Code(r.text)).toBe('InvalidArgument');
    expect(r.text).toMatch(/<Message>Only one auth mechanism allowed/);
  });

  it('expire after X-Amz-Expires seconds (urlTtlMs) with 403 AccessDenied "Request has expired"', async () => {
    const sb = await sandbox({ urlTtlMs: 30_000 });
    const { url } = await onePart(sb);
    expect(url).toContain('X-Amz-Expires=30&');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 31_000);
    const r = await put(url, bytes(1000));
    expect(r.status).toBe(403);
    expect(s3Code(r.text)).toBe('AccessDenied');
    expect(r.text).toContain('<Message>Request has expired</Message>');
    vi.setSystemTime(Date.now() - 31_000);
    expect((await put(url, bytes(1000))).status).toBe(200);
  });

  it('expire all at once on POST /_sandbox/expire, while URLs issued afterwards work', async () => {
    const sb = await sandbox();
    const { url } = await onePart(sb);
    expect((await api(sb, '/_sandbox/expire', {})).status).toBe(200);
    expect(s3Code((await put(url, bytes(1000))).text)).toBe('AccessDenied');
    const fresh = await onePart(sb);
    expect((await put(fresh.url, bytes(1000))).status).toBe(200);
  });

  it('store nothing from a body shorter than its Content-Length, keeping an older copy', async () => {
    const sb = await sandbox();
    const { uploadId, url } = await onePart(sb, 100_000);
    await abortedPut(sb, url, 100_000, 30_000);
    expect(sb.stats().partPuts[uploadId]).toEqual({ 1: 1 });
    // The half-written temp file is removed once the sandbox notices the connection is gone.
    await until(() => partFiles(sb, uploadId).length === 0);
    expect(sb.stats().partsStored[uploadId]).toBeUndefined();

    const good = bytes(100_000);
    expect((await put(url, good)).headers.etag).toBe(`"${md5(good)}"`);
    await abortedPut(sb, url, 100_000, 50_000);
    await until(() => partFiles(sb, uploadId).length === 1);
    expect(partFiles(sb, uploadId)).toEqual(['1']);
    const item = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'k', from: { upload_id: uploadId, part_etags: [{ number: 1, etag: md5(good) }] } });
    expect(item.status).toBe(200);
  });

  it('require a Content-Length (411 MissingContentLength for a chunked body)', async () => {
    const sb = await sandbox();
    const { url } = await onePart(sb);
    const res = await request(url, { method: 'PUT', body: Readable.from([bytes(500), bytes(500)]) });
    expect(res.statusCode).toBe(411);
    expect(s3Code(await res.body.text())).toBe('MissingContentLength');
  });
});

describe('faults (rate 1)', () => {
  it('fail: answers 500/502/503/504 with S3 XML and stores nothing', async () => {
    const sb = await sandbox({ faults: { failRate: 1 }, seed: 7 });
    const { uploadId, url } = await onePart(sb);
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const r = await put(url, bytes(1000));
      expect([500, 502, 503, 504]).toContain(r.status);
      expect(s3Code(r.text)).toMatch(/^(InternalError|BadGateway|ServiceUnavailable|GatewayTimeout)$/);
      seen.add(r.status);
    }
    expect(seen.size).toBeGreaterThan(1);
    expect(sb.stats().faultsInjected.fail).toBe(12);
    expect(sb.stats().partsStored[uploadId]).toBeUndefined();
    // Faults are for part PUTs only: API calls still work.
    expect((await api(sb, ML_UPLOAD, { file_size: 1 })).status).toBe(200);
  });

  it('reset: the connection is destroyed mid-body', async () => {
    const sb = await sandbox({ faults: { resetRate: 1 } });
    const { uploadId, url } = await onePart(sb, 4 * 1024 * 1024);
    await expect(put(url, bytes(4 * 1024 * 1024))).rejects.toThrow();
    const stats = sb.stats();
    expect(stats.faultsInjected.reset).toBe(1);
    expect(stats.partsStored[uploadId]).toBeUndefined();
    expect(stats.bytesReceived).toBeGreaterThanOrEqual(2 * 1024 * 1024);
  });

  it('throttle: part PUTs get 503 SlowDown + Retry-After, API calls 429 in the provider\'s words', async () => {
    const sb = await sandbox();
    const { url } = await onePart(sb);
    sb.setFaults({ throttleRate: 1 });
    const part = await put(url, bytes(1000));
    expect(part.status).toBe(503);
    expect(part.headers['retry-after']).toBe('1');
    expect(s3Code(part.text)).toBe('SlowDown');

    const ml = await api(sb, ML_UPLOAD, { file_size: 1 });
    expect(ml.status).toBe(429);
    expect(ml.headers['retry-after']).toBe('1');
    expect(ml.json).toEqual({ success: false, message: expect.any(String), error_code: 'RATE_LIMITED' });
    const cp = await api(sb, '/public/v1/drive/files/upload/multipart/start', { fileName: 'a', fileSize: 1, mimeType: 'a/b' });
    expect(cp.status).toBe(429);
    expect(cp.headers['retry-after']).toBe('1');
    expect(cp.headers['x-ratelimit-remaining']).toBe('0');
    expect(cp.json).toEqual({ error: expect.any(String), code: 'RATE_LIMITED' });
    expect(sb.stats().faultsInjected.throttle).toBe(3);
  });

  it('corrupt: the ETag is the MD5 of different bytes, and finalizing with it stores those bytes', async () => {
    const sb = await sandbox({ faults: { corruptRate: 1 } });
    const { uploadId, url } = await onePart(sb);
    const data = bytes(1000);
    const r = await put(url, data);
    expect(r.status).toBe(200);
    const etag = String(r.headers.etag).replace(/"/g, '');
    expect(etag).toMatch(/^[0-9a-f]{32}$/);
    expect(etag).not.toBe(md5(data));
    expect(sb.stats().faultsInjected.corrupt).toBe(1);

    const honest = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'c', from: { upload_id: uploadId, part_etags: [{ number: 1, etag: md5(data) }] } });
    expect(honest.status).toBe(400);
    const blind = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'c', from: { upload_id: uploadId, part_etags: [{ number: 1, etag }] } });
    expect(blind.status).toBe(200);
    const { readFile } = await import('node:fs/promises');
    const stored = await readFile(join(sb.dir, 'memorylake', 'c'));
    expect(md5(stored)).toBe(etag);
    expect([...stored].filter((b, i) => b !== data[i])).toHaveLength(1);
  });

  it('stall: reads the body and never answers; close() still resolves promptly', async () => {
    const sb = await sandbox({ faults: { stallRate: 1 } });
    const { url } = await onePart(sb);
    await expect(request(url, { method: 'PUT', body: bytes(1000), headersTimeout: 300 })).rejects.toThrow(/timeout/i);
    expect(sb.stats().faultsInjected.stall).toBe(1);

    const pending = request(url, { method: 'PUT', body: bytes(1000) }).catch((e: unknown) => e);
    await until(() => sb.stats().faultsInjected.stall === 2);
    const t0 = performance.now();
    await sb.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('latency: delays every API and part answer', async () => {
    const sb = await sandbox({ faults: { latencyMs: 200 } });
    let t0 = performance.now();
    const { url } = await onePart(sb);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    t0 = performance.now();
    expect((await put(url, bytes(1000))).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('latency: many requests waiting at once raise no Node warning (it would reach the sandbox terminal)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const sb = await sandbox({ faults: { latencyMs: 50 } });
      const parts = await Promise.all(Array.from({ length: 16 }, () => onePart(sb)));
      const answers = await Promise.all(parts.map((p) => put(p.url, bytes(100))));
      expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual([]);
  });

  it('draws faults from a seeded PRNG: the same seed gives the same sequence', async () => {
    const { FaultInjector } = await import('../../src/sandbox/faults.js');
    const roll = (seed: number) => {
      const f = new FaultInjector({ failRate: 0.3, resetRate: 0.2, corruptRate: 0.1 }, seed);
      return Array.from({ length: 50 }, () => f.rollPart() ?? '-').join(',');
    };
    expect(roll(42)).toBe(roll(42));
    expect(roll(42)).not.toBe(roll(43));
    expect(() => new FaultInjector({ failRate: 2 }, 1)).toThrow(/failRate/);
    expect(() => new FaultInjector({ failrate: 0.1 } as never, 1)).toThrow(/unknown fault option/);
  });
});
