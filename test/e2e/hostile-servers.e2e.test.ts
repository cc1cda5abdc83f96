// Servers that lie or attack, over real sockets (a gateway in front of the sandbox rewrites or
// replaces answers): lakeup neither freezes, nor hangs on an interrupt, nor reads without end,
// nor sends a file in clear text; it says what happened in one line. docs/hostile-servers.md.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { startLyingGateway } from '../helpers/lying-gateway.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });

const isFinalize = (provider: string, method: string, p: string, body: unknown) =>
  method === 'POST' &&
  (provider === 'memorylake'
    ? p.endsWith('/drives/items') && (body as { item_type?: string })?.item_type === 'file'
    : p.endsWith('/multipart/finalize'));

describe.each(['memorylake', 'copera'] as const)('%s: rate headers', (provider) => {
  it('an API that says remaining 0 (reset an hour away, in epoch ms) on every answer while serving: the upload completes', async () => {
    const headers = () => ({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.now() + 3_600_000) });
    const gw = await startLyingGateway(bed.sb.origin, () => ({ headers: headers() }));
    try {
      const file = await makeFile(path.join(bed.work, `zero-${provider}.bin`), 3 * MiB, 5);
      const r = await runCli(['put', file, '-p', provider, '--json'], { env: { ...bed.env, LAKEUP_ENDPOINT: gw.origin }, timeoutMs: 120_000 });
      expect(r.signal).toBeNull();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/TimeoutOverflowWarning/);
      expect(gw.lied).toBeGreaterThanOrEqual(2);
    } finally {
      await gw.close();
    }
  });

  it('SIGTERM while finalize waits out a Retry-After of a minute: the process ends at once (130), not after the wait', async () => {
    const gw = await startLyingGateway(bed.sb.origin, (m, p, b) =>
      isFinalize(provider, m, p, b) ? { status: 429, headers: { 'retry-after': '60', 'content-type': 'application/json' }, body: '{"error":"slow down"}' } : undefined,
    );
    try {
      const file = await makeFile(path.join(bed.work, `term-${provider}.bin`), 3 * MiB, 6);
      // The CLI is SIGKILLed if still there after 45 s (less than the minute it was told to wait).
      const child = startCli(['put', file, '-p', provider], { env: { ...bed.env, LAKEUP_ENDPOINT: gw.origin }, timeoutMs: 45_000 });
      await waitFor('the first 429 to finalize', () => gw.lied >= 1, 40_000);
      child.kill('SIGTERM');
      const r = await child.result;
      expect(r.signal, r.stderr).toBeNull();
      expect(r.code, r.stderr).toBe(130);
    } finally {
      await gw.close();
    }
  });
});
