// Scripting and CI behaviour end to end: terminals and pipes, NDJSON progress, colour rules,
// several files, stdin, folders, dry runs, bandwidth limits, verbose logs without secrets, env
// configuration, proxies and shell completion.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, lastJson, runCli, startCli } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { hasScript, runInPty } from '../helpers/pty.js';
import { storedPath as storedIn } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const MiB = 1024 * 1024;
const ANSI = /\x1b\[/;
const TOKEN = 'sk_SECRET_token_never_printed_42';
const bed = useSandboxBed({ token: TOKEN, memorylakePartSize: 1 * MiB });

const stored = (provider: string, name: string): string => storedIn(bed.sb, provider, name);

/** Resolves once the sandbox has received `n` more body bytes than when it was called (the upload is under way). */
async function received(n: number, timeoutMs = 20_000): Promise<void> {
  const start = bed.sb.stats().bytesReceived;
  const t0 = Date.now();
  while (bed.sb.stats().bytesReceived - start < n) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${n} bytes to arrive`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('progress output', () => {
  it.skipIf(!hasScript)('draws a live bar with speed and ETA on a real terminal', async () => {
    const file = await makeFile(path.join(bed.work, 'tty.bin'), 12 * MiB);
    const r = await runInPty(['put', file, '-p', 'copera', '--limit-rate', '8MiB/s'], { env: bed.env }).result;
    expect(r.code).toBe(0);
    const out = r.raw;
    expect(out).toMatch(ANSI);
    expect(out).toMatch(/\d+% \| [\d.]+ (MiB|KiB|B)\/12 MiB \| [\d.]+ (MiB|KiB|B)\/s \| ETA \d+s/);
    expect(out).toMatch(/100% \| 12 MiB\/12 MiB/);
    expect(out).toMatch(/tty\.bin → tty\.bin \([0-9a-f]{24}\)/);
  });

  it('prints plain lines at most every interval, and a final line, with no ANSI codes on a pipe', async () => {
    const file = await makeFile(path.join(bed.work, 'pipe.bin'), 12 * MiB);
    const t0 = performance.now();
    const r = await runCli(['put', file, '-p', 'copera', '--limit-rate', '6MiB/s', '--progress-interval', '500ms'], { env: bed.env });
    const ms = performance.now() - t0;
    expect(r.code).toBe(0);
    expect(r.stderr + r.stdout).not.toMatch(ANSI);
    const lines = r.stderr.trim().split('\n');
    const periodic = lines.filter((l) => /^lakeup: pipe\.bin: [\d.]+% [\d.]+ \w+\/12 MiB [\d.]+ \w+\/s ETA/.test(l));
    expect(periodic.length).toBeGreaterThanOrEqual(2);
    // ~2 s of upload at one line per 500 ms: never more lines than the intervals the process lived.
    expect(periodic.length).toBeLessThanOrEqual(Math.floor(ms / 500) + 1);
    expect(lines[lines.length - 1]).toMatch(/^lakeup: pipe\.bin: done, 12 MiB in [\d.]+s/);
    expect(r.stdout).toMatch(/pipe\.bin → pipe\.bin/);
  });

  it('--progress json emits NDJSON events on stderr for wrappers', async () => {
    const file = await makeFile(path.join(bed.work, 'nd.bin'), 11 * MiB);
    const r = await runCli(['put', file, '-p', 'copera', '--progress', 'json', '--progress-interval', '200ms', '--limit-rate', '10MiB/s'], { env: bed.env });
    expect(r.code).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event: string; bytes?: number });
    const kinds = new Set(events.map((e) => e.event));
    for (const k of ['start', 'part', 'progress', 'done']) expect(kinds).toContain(k);
    expect(events.filter((e) => e.event === 'part')).toHaveLength(2);
    expect(events[events.length - 1]).toMatchObject({ event: 'done', bytes: 11 * MiB });
  });

  it('honours NO_COLOR and FORCE_COLOR', async () => {
    const file = await makeFile(path.join(bed.work, 'color.bin'), 1000);
    const forced = await runCli(['put', file, '-p', 'memorylake'], { env: { ...bed.env, FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(/\x1b\[32m✔/);
    const none = await runCli(['put', file, '-p', 'memorylake'], { env: { ...bed.env, FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(none.stdout).not.toMatch(ANSI);
  });
});

describe('several files, stdin and folders', () => {
  it('uploads several files with --jobs, one JSON line each, and exits non-zero with a summary if one failed', async () => {
    const a = await makeFile(path.join(bed.work, 'multi-a.bin'), 3 * MiB, 1);
    const b = await makeFile(path.join(bed.work, 'multi-b.bin'), 2 * MiB + 5, 2);
    const r = await runCli(['put', a, path.join(bed.work, 'missing.bin'), b, '-p', 'memorylake', '--jobs', '2', '--json'], { env: bed.env });
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.ok)).toHaveLength(2);
    expect(lines.filter((l) => !l.ok)).toHaveLength(1);
    expect(r.stderr).toMatch(/missing\.bin: no such file/);
    expect(r.stderr).toMatch(/lakeup: 3 files: 2 uploaded, 1 failed/);
    expect(await sha256File(stored('memorylake', 'multi-a.bin'))).toBe(await sha256File(a));
    expect(await sha256File(stored('memorylake', 'multi-b.bin'))).toBe(await sha256File(b));
  });

  it('spools standard input to a private temp file, uploads it and removes the spool', async () => {
    const src = await makeFile(path.join(bed.work, 'stdin-src.bin'), 3 * MiB + 3, 5);
    const tmp = fs.mkdtempSync(path.join(bed.work, 'tmp-'));
    const r = await runCli(['put', '-', '--name', 'from-stdin.bin', '-p', 'copera', '--json'], {
      env: { ...bed.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp },
      input: fs.readFileSync(src),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ ok: true, file: '-', name: 'from-stdin.bin', size: 3 * MiB + 3 });
    expect(await sha256File(stored('copera', 'from-stdin.bin'))).toBe(await sha256File(src));
    expect(fs.readdirSync(tmp)).toEqual([]);
    const noName = await runCli(['put', '-', '-p', 'copera'], { env: bed.env, input: 'x' });
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/pass --name/);
  });

  it.each(['memorylake', 'copera'])('--recursive recreates a folder tree (%s)', async (provider) => {
    const root = path.join(bed.work, `tree-${provider}`);
    fs.mkdirSync(path.join(root, 'sub', 'deeper'), { recursive: true });
    const files = [
      await makeFile(path.join(root, 'top.bin'), 1000, 1),
      await makeFile(path.join(root, 'sub', 'mid.bin'), 2 * MiB, 2),
      await makeFile(path.join(root, 'sub', 'deeper', 'low.bin'), 5, 3),
    ];
    const r = await runCli(['put', root, '-p', provider, '--recursive', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
    const base = path.join(bed.sb.dir, `tree-${provider}`);
    for (const f of files) {
      const rel = path.relative(root, f);
      const stored = bed.sb.stats().finalized.find((x) => x.provider === provider && x.path && x.path.endsWith(path.join(`tree-${provider}`, rel)));
      expect(stored, rel).toBeTruthy();
      expect(await sha256File(stored!.path!)).toBe(await sha256File(f));
    }
    expect(base).toBeTruthy();
    const flat = await runCli(['put', root, '-p', provider], { env: bed.env });
    expect(flat.code).toBe(2);
    expect(flat.stderr).toMatch(/is a directory \(use --recursive/);
  });
});

describe('plans, limits and logs', () => {
  it('--dry-run prints the plan and makes no API call, even without a token', async () => {
    const file = await makeFile(path.join(bed.work, 'dry.bin'), 25 * MiB);
    const calls = JSON.stringify(bed.sb.stats().apiCalls);
    const c = await runCli(['put', file, '-p', 'copera', '--dry-run', '--json'], { env: { ...bed.env, LAKEUP_TOKEN: undefined } });
    expect(c.code).toBe(0);
    expect(lastJson(c.stdout)).toMatchObject({ dryRun: true, size: 25 * MiB, parts: 3, partSize: 10 * MiB });
    const m = await runCli(['put', file, '-p', 'memorylake', '--dry-run'], { env: bed.env });
    expect(m.stdout).toMatch(/part layout: server decides/);
    expect(JSON.stringify(bed.sb.stats().apiCalls)).toBe(calls);
  });

  it('--dry-run says every file it cannot send, not only the first, and counts "1 part"', async () => {
    const good = await makeFile(path.join(bed.work, 'dry-good.bin'), 1000, 4);
    const empty = path.join(bed.work, 'dry-empty.bin');
    fs.writeFileSync(empty, '');
    const r = await runCli(['put', path.join(bed.work, 'dry-missing.bin'), empty, good, '-p', 'copera', '--dry-run'], { env: {} });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/dry-missing\.bin: no such file/),
      expect.stringMatching(/dry-empty\.bin: the file is empty/),
      // What the files it can send cost: Copera's calls (start, part URLs, finalize), and no limit to time them by.
      "lakeup: 1 file, 1000 B: about 3 API calls; Copera's rate limit: no documented number (the x-ratelimit-* headers say what is left)",
    ]);
    expect(r.stdout).toMatch(/dry-good\.bin: 1000 B → copera root\/dry-good\.bin at .*; 1 part of 10 MiB;/);
  });

  it('--limit-rate caps total bandwidth', async () => {
    const file = await makeFile(path.join(bed.work, 'rate.bin'), 4 * MiB);
    const t0 = Date.now();
    const r = await runCli(['put', file, '-p', 'memorylake', '--limit-rate', '2MiB/s', '-c', '4', '--json'], { env: bed.env });
    const secs = (Date.now() - t0) / 1000;
    expect(r.code).toBe(0);
    // 4 MiB at 2 MiB/s: about 2 s however many parts run at once (a small burst allowance aside).
    expect(secs).toBeGreaterThanOrEqual(1.6);
    expect(secs).toBeLessThan(8);
    const bad = await runCli(['put', file, '-p', 'memorylake', '--limit-rate', 'fast'], { env: bed.env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--limit-rate: 'fast' is not a rate/);
  });

  it('--verbose logs each API call and part attempt without their queries and with the token redacted', async () => {
    const file = await makeFile(path.join(bed.work, 'verbose.bin'), 2 * MiB + 1);
    const r = await runCli(['put', file, '-p', 'memorylake', '--verbose', '--token', TOKEN], { env: { ...bed.env, LAKEUP_TOKEN: undefined } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/openapi\/memorylake\/api\/v1\/drives\/items\/upload → 200 \d+ms/);
    // a part URL: origin and path, never the query (a signature may go by any name)
    expect(r.stderr).toMatch(/part 3 attempt 1 PUT http:\/\/127\.0\.0\.1:\d+\/[^?\s]+\?… → 200/);
    expect(r.stderr).not.toMatch(/X-Amz-|partNumber=/);
    expect(r.stderr + r.stdout).not.toContain(TOKEN);
  });

  it('never prints the token in errors, even when the server echoes it', async () => {
    const file = await makeFile(path.join(bed.work, 'echo.bin'), 10);
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: `bad token ${TOKEN}`, error_code: 'INVALID_ARGUMENT' } });
    const r = await runCli(['put', file, '-p', 'memorylake', '--verbose', '--json'], { env: bed.env });
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).not.toContain(TOKEN);
    expect(r.stderr).toMatch(/bad token REDACTED/);
  });
});

describe('configuration', () => {
  it('reads every option from LAKEUP_* variables and the token from --token-file', async () => {
    const file = await makeFile(path.join(bed.work, 'envcfg.bin'), 6 * MiB);
    const tokenFile = path.join(bed.work, 'token.txt');
    fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const r = await runCli(['put', file, '--token-file', tokenFile], {
      env: { ...bed.env, LAKEUP_TOKEN: undefined, LAKEUP_PROVIDER: 'copera', LAKEUP_PART_SIZE: '5MiB', LAKEUP_NAME: 'env-name.bin', LAKEUP_JSON: '1' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ provider: 'copera', name: 'env-name.bin', parts: 2 });
    const bad = await runCli(['put', file], { env: { ...bed.env, LAKEUP_PROVIDER: 'copera', LAKEUP_CONCURRENCY: '0' } });
    expect(bad.code).toBe(2);
    // auto is the default, so the line names it beside the numbers (it used to say only 1 to 64).
    expect(bad.stderr).toMatch(/--concurrency: expected auto or a whole number from 1 to 64, got '0'/);
  });

  it('goes through HTTP_PROXY and around it for NO_PROXY hosts', async () => {
    let proxied = 0;
    const proxy = http.createServer((req, res) => {
      proxied++;
      const target = new URL(req.url!);
      const up = http.request(
        { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode!, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    // undici tunnels through the proxy with CONNECT; plain forwarding is handled above too.
    proxy.on('connect', (req, client, head) => {
      proxied++;
      const [host, port] = req.url!.split(':');
      const up = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const file = await makeFile(path.join(bed.work, 'proxied.bin'), 2 * MiB);
      const r = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: { ...bed.env, HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl } });
      expect(r.code, r.stderr).toBe(0);
      expect(proxied).toBeGreaterThanOrEqual(1); // every connection to the sandbox went through it
      const before = proxied;
      const direct = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: { ...bed.env, HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
      expect(direct.code, direct.stderr).toBe(0);
      expect(proxied).toBe(before);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});

describe('help, version and completion', () => {
  it('prints the version from package.json and help with examples and exit codes', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(BIN), '..', 'package.json'), 'utf8'));
    expect((await runCli(['--version'])).stdout.trim()).toBe(pkg.version);
    for (const cmd of ['put', 'resume', 'abort', 'sandbox', 'completion']) {
      const h = await runCli([cmd, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Examples:\n\s+\$ lakeup/);
      // Help is our own text: the secret filter on the way out must not mangle it ("bearer REDACTED").
      expect(h.stdout, cmd).not.toMatch(/REDACTED/);
    }
    const put = await runCli(['put', '--help']);
    expect(put.stdout).toMatch(/130\s+interrupted/);
  });

  it.skipIf(process.platform === 'win32')('generates a bash completion script that bash accepts, and a zsh one', async () => {
    const bash = await runCli(['completion', 'bash']);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toMatch(/complete -o filenames -F _lakeup lakeup/);
    expect(bash.stdout).toMatch(/--part-size/);
    const f = path.join(bed.work, 'completion.bash');
    fs.writeFileSync(f, bash.stdout);
    execFileSync('bash', ['-n', f]);
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.stdout.startsWith('#compdef lakeup')).toBe(true);
    const bad = await runCli(['completion', 'fish']);
    expect(bad.code).toBe(2);
  });
});

describe('review fixes', () => {
  it('yes/no variables mean what they say: LAKEUP_DRY_RUN=false uploads, a typo is a usage error', async () => {
    const file = await makeFile(path.join(bed.work, 'envbool.bin'), 1000);
    const real = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: { ...bed.env, LAKEUP_DRY_RUN: 'false', LAKEUP_NO_VERIFY: '0' } });
    expect(real.code, real.stderr).toBe(0);
    expect(lastJson(real.stdout)).toMatchObject({ ok: true, name: 'envbool.bin' });
    const typo = await runCli(['put', file, '-p', 'memorylake'], { env: { ...bed.env, LAKEUP_DRY_RUN: 'flase' } });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/LAKEUP_DRY_RUN: expected 1\/true\/yes or 0\/false\/no, got 'flase'/);
  });

  it('a slow --limit-rate with a short --timeout is not mistaken for a stall', async () => {
    const file = await makeFile(path.join(bed.work, 'slowrate.bin'), 3 * MiB);
    const r = await runCli(['put', file, '-p', 'memorylake', '--limit-rate', '1MiB/s', '--timeout', '1', '-c', '4', '--verbose'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/no progress for|stalled/);
  });

  it('a file deleted during the upload is one clear line, not a crash', async () => {
    const file = await makeFile(path.join(bed.work, 'vanish.bin'), 8 * MiB);
    const arrived = received(256 * 1024);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '4MiB/s', '-c', '1'], { env: bed.env });
    await arrived;
    fs.rmSync(file);
    const r = await child.result;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lakeup: error: .*vanish\.bin: part \d+: the file was deleted or moved during the upload/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('Ctrl-C in a run of several files exits 130 even when the current file finishes', async () => {
    const a = await makeFile(path.join(bed.work, 'ctrlc-a.bin'), 6 * MiB, 1);
    const b = await makeFile(path.join(bed.work, 'ctrlc-b.bin'), 6 * MiB, 2);
    const arrived = received(512 * 1024);
    const child = startCli(['put', a, b, '-p', 'memorylake', '--limit-rate', '4MiB/s', '-j', '1', '--json'], { env: bed.env });
    await arrived;
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code).toBe(130);
    expect(r.stdout).not.toMatch(/"name":"ctrlc-b\.bin"/);
  });

  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('running an interrupted --recursive upload again reuses its folders and resumes', async () => {
    const root = path.join(bed.work, 'tree-resume');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const files = [await makeFile(path.join(root, 'a.bin'), 3 * MiB, 1), await makeFile(path.join(root, 'sub', 'b.bin'), 3 * MiB, 2)];
    const own = { ...bed.env, LAKEUP_STATE_DIR: fs.mkdtempSync(path.join(bed.work, 'state-resume-')) };
    const arrived = received(1 * MiB + 1);
    const child = startCli(['put', root, '-r', '-p', 'memorylake', '--limit-rate', '3MiB/s'], { env: own });
    await arrived;
    child.kill('SIGINT');
    expect((await child.result).code).toBe(130);
    const again = await runCli(['put', root, '-r', '-p', 'memorylake', '--json'], { env: own });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/created folder tree-resume /);
    // A second tree (tree-resume_1/…) would leave a file missing under tree-resume/ below.
    expect(again.stdout.trim().split('\n').map((l) => JSON.parse(l)).every((l) => l.ok)).toBe(true);
    for (const f of files) {
      const rel = path.relative(path.dirname(root), f);
      const stored = bed.sb.stats().finalized.filter((x) => x.provider === 'memorylake' && x.path?.endsWith(rel));
      expect(stored.length, rel).toBe(1);
      expect(await sha256File(stored[0].path!)).toBe(await sha256File(f));
    }
    expect(fs.readdirSync(own.LAKEUP_STATE_DIR).filter((n) => n.endsWith('.run.ndjson'))).toEqual([]);
  });
});
