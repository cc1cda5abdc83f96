// Servers that lie or attack, over real sockets (a gateway in front of the sandbox rewrites or
// replaces answers): lakeup neither freezes, nor hangs on an interrupt, nor reads without end,
// nor sends a file in clear text; it says what happened in one line. docs/hostile-servers.md.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { makeFile } from '../helpers/files.js';
import { isFinalize, startLyingGateway } from '../helpers/lying-gateway.js';
import { hasScript, runInPty } from '../helpers/pty.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });

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

// An OSC 52 clipboard write, a screen clear, a bell: what must never act on the user's terminal.
const FOREIGN = '\u001b]52;c;aGk=\u0007\u001b[2J';
/** Any escape or bell but an SGR colour sequence. */
const RAW_CONTROL = /\u001b(?!\[[0-9;]*m)|\u0007/;

describe('foreign control sequences are escaped in every human line', () => {
  it('a file name carrying them: the result line shows them escaped (on a pipe)', async () => {
    const file = await makeFile(path.join(bed.work, `osc${FOREIGN}.txt`), 100, 7);
    // (the drive refuses such names: the one in the drive is plain, the local one is not)
    const r = await runCli(['put', file, '-p', 'memorylake', '--name', 'osc.txt'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/[\u001b\u0007]/);
    expect(r.stdout).toContain('osc\\u001b]52;c;aGk=\\u0007\\u001b[2J.txt → osc.txt');
  });

  it('an error message carrying them (HTTP 401): one line, escaped', async () => {
    const body = JSON.stringify({ success: false, message: `bad token${FOREIGN}`, error_code: 'UNAUTHORIZED' });
    const gw = await startLyingGateway(bed.sb.origin, () => ({ status: 401, headers: { 'content-type': 'application/json' }, body }));
    try {
      const file = await makeFile(path.join(bed.work, 'e401.txt'), 100, 8);
      const r = await runCli(['put', file, '-p', 'memorylake'], { env: { ...bed.env, LAKEUP_ENDPOINT: gw.origin } });
      expect(r.code).toBe(3);
      expect(r.stderr).not.toMatch(/[\u001b\u0007]/);
      expect(r.stderr).toContain('HTTP 401 bad token\\u001b]52;c;aGk=\\u0007\\u001b[2J (UNAUTHORIZED)');
    } finally {
      await gw.close();
    }
  });

  it.skipIf(!hasScript)('on a real terminal, with colour: lakeup\'s colours pass, the bar and the result line show the foreign ones escaped', async () => {
    const file = await makeFile(path.join(bed.work, `tty${FOREIGN}.bin`), 3 * MiB, 9);
    const { code: status, raw: out } = await runInPty(['put', file, '-p', 'copera', '--name', 'tty.bin'], { env: bed.env }).result;
    expect(status, out).toBe(0);
    expect(out).toMatch(/\u001b\[32m✔/); // lakeup's own green
    expect(out).toContain('tty\\u001b]52;c;aGk=\\u0007\\u001b[2J.bin →');
    // the bar's cursor moves are lakeup's too; what is left must be no foreign sequence
    expect(out.replace(/\u001b\[\??[0-9;]*[A-Za-z]/g, '')).not.toMatch(RAW_CONTROL);
  });
});
