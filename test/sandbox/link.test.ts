// The sandbox behind a distant link: latency each way, a per-connection rate.
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { bytes, md5, put, sandbox } from './helpers.js';

describe('link (--latency each way, --conn-rate)', () => {
  it('delays a new connection by a round trip plus the request and the answer, and caps each connection', async () => {
    const sb = await sandbox({ link: { latencyMs: 50, connRate: 1024 * 1024 } });
    const data = bytes(512 * 1024);
    const t0 = performance.now();
    const r = await put(`${sb.origin}/plain/x.bin`, data);
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe(`"${md5(data)}"`);
    // handshake RTT (100) + request (50) + 0.5 s at 1 MiB/s + answer (50)
    expect(ms).toBeGreaterThanOrEqual(650);
    expect(ms).toBeLessThan(3000);
  });

  it('delivers an answer the server sends just before it closes the connection (Connection: close)', async () => {
    const sb = await sandbox({ link: { latencyMs: 30 } });
    const data = bytes(64 * 1024);
    const r = await put(`${sb.origin}/plain/close.bin`, data, { connection: 'close' });
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe(`"${md5(data)}"`);
  });

  it('carries connections side by side, each at its own rate', async () => {
    const sb = await sandbox({ link: { latencyMs: 5, connRate: 256 * 1024 } });
    const data = bytes(256 * 1024);
    const agent = new Agent({ connections: 4 });
    try {
      const t0 = performance.now();
      await Promise.all(
        [1, 2, 3, 4].map(async (i) => {
          const res = await request(`${sb.origin}/plain/x${i}.bin`, { method: 'PUT', body: data, dispatcher: agent });
          await res.body.dump();
          expect(res.statusCode).toBe(200);
        }),
      );
      const ms = performance.now() - t0;
      // Four connections of 256 KiB at 256 KiB/s each: ~1 s side by side, 4 s if they shared one
      // rate; the margin between is wide enough for a busy CI machine.
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(3000);
    } finally {
      await agent.close();
    }
  });
});
