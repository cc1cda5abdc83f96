// Bad input and hostile answers, end to end: the built CLI against an in-process sandbox (one per
// test, so canned answers never leak between rows). Every failure must be exactly one
// `lakeup: error:` line, the documented exit code, no stack trace, no token anywhere in the output
// (also with --verbose), nothing reported as done, and with --json one {"ok":false,…} line.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { beforeAll, describe, it } from 'vitest';
import type { ErrorKind } from '../../src/errors.js';
import type { SandboxHandle, SandboxOptions } from '../../src/sandbox/server.js';
import { BIN, ROOT, baseEnv, runCli, type CliResult, type CliOptions } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { STACK_TRACE, errorLines, jsonLines, readStates } from '../helpers/outcome.js';
import { storedPath } from '../helpers/sandbox.js';
import { useSandboxPool } from '../helpers/sandbox-bed.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const TOKEN = 'sk_SECRET_do_not_print_123';
const WRONG_TOKEN = 'sk_WRONG_do_not_print_456';
/** A token of no known shape: only lakeup's registered-secret redaction can hide it. */
const PLAIN_TOKEN = 'plainSECRETtokenNoShape789';
const SIZE = 1 * MiB + 5; // MemoryLake: 5 parts of 256 KiB; Copera: one part
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

const pool = useSandboxPool({ token: TOKEN, memorylakePartSize: 256 * KiB }, 'lakeup-bad-input-');
let work: string;
let sample: string;
let sampleSha: string;
let closedPort: number;

beforeAll(async () => {
  work = pool.work;
  fs.chmodSync(work, 0o755); // the unreadable-file row may run the CLI as nobody
  sample = await makeFile(path.join(work, 'sample.bin'), SIZE, 7);
  sampleSha = await sha256File(sample);
  fs.writeFileSync(path.join(work, 'empty.bin'), '');
  fs.mkdirSync(path.join(work, 'a-folder'));
  fs.writeFileSync(path.join(work, 'a-folder', 'x.bin'), 'x');
  const locked = await makeFile(path.join(work, 'locked.bin'), 1000, 3);
  fs.chmodSync(locked, 0o000);
  // A local port nobody listens on: bound, read, released.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  closedPort = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
});

/** Whether the CLI can be run as nobody here (root only; a sandboxed root may not be allowed to). */
let nobodyWorks: boolean | undefined;
async function canRunAsNobody(): Promise<boolean> {
  if (nobodyWorks !== undefined) return nobodyWorks;
  if (!IS_ROOT) return (nobodyWorks = false);
  const r = await runAs(NOBODY, ['--version'], {});
  return (nobodyWorks = r.code === 0);
}

/** runCli as another user (root only): reading a chmod 000 file then really fails. */
function runAs(uid: number, args: string[], o: CliOptions): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: baseEnv(o.env), uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', () => resolve({ code: -1, signal: null, stdout, stderr }));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Ctx {
  sb: SandboxHandle;
  stateDir: string;
  env: Record<string, string | undefined>;
  args: string[];
  r: CliResult;
  expect: typeof import('vitest').expect;
}

interface Row {
  name: string;
  provider?: string; // default memorylake
  file?: () => string; // default the 1 MiB sample
  args?: string[];
  env?: Record<string, string | undefined>;
  sandbox?: SandboxOptions;
  setup?: (sb: SandboxHandle) => void;
  code: number;
  kind: ErrorKind;
  message: RegExp;
  maxMs?: number;
  asNobody?: boolean;
  after?: (c: Ctx) => void | Promise<void>;
}

const slowDown = (route: 'memorylake.create' | 'copera.start') => (sb: SandboxHandle) =>
  sb.script({ route, status: 429, headers: { 'retry-after': '2' }, body: { success: false, message: 'slow down', error_code: 'RATE_LIMITED' } });

/** A MemoryLake session whose one part is a byte short of the file. */
const shortLayout = (sb: SandboxHandle) =>
  sb.script({
    route: 'memorylake.create',
    status: 200,
    body: {
      success: true,
      data: {
        upload_id: 'upl-short',
        part_items: [{ number: 1, size: SIZE - 1, upload_url: `${sb.origin}/storage/memorylake-sandbox/uploads/upl-short?uploadId=upl-short&partNumber=1` }],
      },
    },
  });

const PROXY_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const LOGIN_PAGE =
  '<!DOCTYPE html><html><head><title>Sign in to continue</title><style>body{font:12px sans-serif}</style><script>var x="<b>";</script></head><body><h1>Sign in to continue</h1><form>…</form></body></html>';

/** The state was kept and a plain rerun finishes the upload from it, byte-exact. */
async function rerunFinishes({ sb, stateDir, env, args, expect }: Ctx): Promise<void> {
  const saved = readStates(stateDir);
  expect(saved).toHaveLength(1);
  expect(saved[0]!.done.length).toBe(saved[0]!.session.parts.length);
  const again = await runCli(args.filter((a) => a !== '--verbose' && a !== '--json').concat('--json'), { env });
  expect(again.code, again.stderr).toBe(0);
  const out = jsonLines(again.stdout).pop()!;
  expect(out).toMatchObject({ ok: true, resumed: true });
  expect(await sha256File(storedPath(sb, out.provider as string, out.name as string))).toBe(sampleSha);
  expect(readStates(stateDir)).toEqual([]);
}

const ROWS: Row[] = [
  { name: 'a missing file', file: () => path.join(work, 'no-such.bin'), code: 2, kind: 'input', message: /no-such\.bin: no such file/ },
  { name: 'an empty file', file: () => path.join(work, 'empty.bin'), code: 2, kind: 'input', message: /empty\.bin: the file is empty/ },
  // Not the private spool file's path, which the user never named and which is gone by then.
  { name: 'empty standard input', file: () => '-', args: ['--name', 'x.bin'], code: 2, kind: 'input', message: /(^|error: )-: standard input is empty/ },
  {
    name: 'a directory without --recursive',
    file: () => path.join(work, 'a-folder'),
    code: 2,
    kind: 'input',
    message: /a-folder: is a directory.*--recursive/,
  },
  { name: 'an unreadable file (chmod 000)', file: () => path.join(work, 'locked.bin'), asNobody: true, code: 2, kind: 'input', message: /locked\.bin: permission denied/ },
  { name: 'an unknown provider', provider: 'dropbox', code: 2, kind: 'usage', message: /unknown provider 'dropbox'/ },
  { name: 'an unknown flag', args: ['--bogus'], code: 2, kind: 'usage', message: /unknown option '--bogus'/ },
  // A mistyped --token with the token glued on: the flag is unknown, the token must not be echoed.
  { name: 'an unknown flag carrying the token (--tokn=…)', args: [`--tokn=${TOKEN}`], code: 2, kind: 'usage', message: /unknown option '--tokn/ },
  { name: "--part-size 'abc'", provider: 'copera', args: ['--part-size', 'abc'], code: 2, kind: 'usage', message: /--part-size: 'abc' is not a size/ },
  { name: '--part-size 1MiB (below 5 MiB)', provider: 'copera', args: ['--part-size', '1MiB'], code: 2, kind: 'usage', message: /at least 5 MiB/ },
  // In a run the folders are looked up before any file's session: the size must be refused first.
  {
    name: '--part-size 1MiB with a --recursive folder',
    provider: 'copera',
    file: () => path.join(work, 'a-folder'),
    args: ['-r', '--part-size', '1MiB'],
    code: 2,
    kind: 'usage',
    message: /(^|error: )--part-size must be at least 5 MiB/, // the plan's line, not one per file
  },
  { name: '--concurrency 0', args: ['--concurrency', '0'], code: 2, kind: 'usage', message: /--concurrency: .*1 to 64, got '0'/ },
  { name: '--concurrency 65', args: ['--concurrency', '65'], code: 2, kind: 'usage', message: /--concurrency: .*1 to 64, got '65'/ },
  { name: "--concurrency 'x'", args: ['--concurrency', 'x'], code: 2, kind: 'usage', message: /--concurrency: .*got 'x'/ },
  { name: 'no token', env: { LAKEUP_TOKEN: undefined }, code: 2, kind: 'usage', message: /no API token.*LAKEUP_TOKEN/ },
  // Two tokens: which one was meant is not for lakeup to guess (and neither is echoed).
  {
    name: '--token together with --token-file',
    args: ['--token', WRONG_TOKEN, '--token-file', 'token.txt'], // refused before the file is read
    code: 2,
    kind: 'usage',
    message: /(^|error: )--token and --token-file: give one of them, not both$/,
  },
  // A proxy variable undici cannot use; its value may hold a proxy password, so it is not echoed.
  { name: 'HTTP_PROXY that is not a URL', env: { HTTP_PROXY: 'proxy do_not_print' }, code: 2, kind: 'usage', message: /HTTP_PROXY is not a proxy URL/ },
  { name: 'a wrong token (MemoryLake 401)', args: ['--token', WRONG_TOKEN], code: 3, kind: 'auth', message: /MemoryLake refused .*HTTP 401.*check the token/ },
  { name: 'a wrong token (Copera 401)', provider: 'copera', args: ['--token', WRONG_TOKEN], code: 3, kind: 'auth', message: /Copera refused .*HTTP 401.*check the token/ },
  {
    name: 'a 403 from MemoryLake',
    setup: (sb) => sb.script({ route: 'memorylake.create', status: 403, body: { success: false, message: 'forbidden', error_code: 'PERMISSION_DENIED' } }),
    code: 3,
    kind: 'auth',
    message: /HTTP 403 forbidden \(PERMISSION_DENIED\).*permission/,
  },
  {
    name: 'a 403 from Copera (token without the drive scope)',
    provider: 'copera',
    setup: (sb) => sb.script({ route: 'copera.start', status: 403, body: { error: 'token lacks the drive scope', code: 'FORBIDDEN' } }),
    code: 3,
    kind: 'auth',
    message: /HTTP 403 token lacks the drive scope/,
  },
  {
    name: 'an unreachable endpoint (closed local port)',
    args: [], // the endpoint is set in env below
    env: {}, // filled per run: LAKEUP_ENDPOINT → the closed port
    code: 1,
    kind: 'network',
    message: /could not connect to MemoryLake at http:\/\/127\.0\.0\.1:\d+ .*connection refused/,
    maxMs: 15_000,
  },
  {
    name: 'malformed JSON from MemoryLake',
    setup: (sb) => sb.script({ route: 'memorylake.create', status: 200, body: 'not json{' }),
    code: 1,
    kind: 'server',
    message: /not JSON/,
  },
  {
    name: 'malformed JSON from Copera',
    provider: 'copera',
    setup: (sb) => sb.script({ route: 'copera.start', status: 200, body: '{"uploadId":' }),
    code: 1,
    kind: 'server',
    message: /not JSON/,
  },
  {
    name: 'a MemoryLake layout that does not cover the file',
    setup: shortLayout,
    code: 1,
    kind: 'server',
    message: /part layout .*add up to 1048580 bytes but the file has 1048581/,
    after: ({ sb, expect }) => expect(sb.stats().totalPartPuts).toBe(0),
  },
  {
    name: 'a 402 quota answer',
    setup: (sb) =>
      sb.script({ route: 'memorylake.create', status: 402, body: { success: false, message: 'storage limit reached', error_code: 'QUOTA_EXCEEDED' } }),
    code: 1,
    kind: 'server',
    message: /HTTP 402.*quota/,
  },
  {
    name: 'MemoryLake refusing Create Item (400)',
    setup: (sb) =>
      sb.script({ route: 'memorylake.item', status: 400, body: { success: false, message: 'item rejected', error_code: 'INVALID_ARGUMENT' } }),
    code: 1,
    kind: 'server',
    message: /HTTP 400 item rejected/,
    after: rerunFinishes,
  },
  {
    name: 'Copera refusing finalize (400)',
    provider: 'copera',
    setup: (sb) => sb.script({ route: 'copera.finalize', status: 400, body: { error: 'finalize rejected', code: 'VALIDATION_ERROR' } }),
    code: 1,
    kind: 'server',
    message: /HTTP 400 finalize rejected/,
    after: rerunFinishes,
  },
  {
    name: 'an HTML proxy error page (502) for Create Item',
    // A 502 may come after the origin acted: lakeup looks the item up, finalizes once more, and
    // reports the second refusal.
    setup: (sb) => sb.script({ route: 'memorylake.item', status: 502, headers: { 'content-type': 'text/html' }, body: PROXY_PAGE, times: 2 }),
    code: 1,
    kind: 'server',
    message: /HTTP 502 .*502 Bad Gateway/,
    after: ({ r, expect }) => expect(errorLines(r.stderr)[0]).not.toMatch(/<[a-z!/]/i),
  },
  {
    name: 'an HTML page (200) instead of JSON',
    setup: (sb) => sb.script({ route: 'memorylake.create', status: 200, headers: { 'content-type': 'text/html' }, body: LOGIN_PAGE }),
    code: 1,
    kind: 'server',
    message: /not JSON \(HTTP 200: an HTML page: Sign in to continue/,
    after: ({ r, expect }) => expect(errorLines(r.stderr)[0]).not.toMatch(/<[a-z!/]/i), // text, not markup
  },
  {
    name: 'an error body that echoes the token',
    setup: (sb) => sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: `bad request from Bearer ${TOKEN} (${TOKEN})`, error_code: 'INVALID_ARGUMENT' } }),
    code: 1,
    kind: 'server',
    message: /HTTP 400 bad request from/,
  },
  {
    name: 'an error body that echoes a token of no known shape',
    sandbox: { token: PLAIN_TOKEN },
    env: { LAKEUP_TOKEN: PLAIN_TOKEN },
    setup: (sb) => sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: `token ${PLAIN_TOKEN} is not allowed here`, error_code: 'INVALID_ARGUMENT' } }),
    code: 1,
    kind: 'server',
    message: /HTTP 400 token .* is not allowed here/,
  },
];

const MODES = [
  { mode: 'human', flags: [] as string[] },
  { mode: '--json --verbose', flags: ['--json', '--verbose'] },
];

const SECRET_FRAGMENTS = [TOKEN, WRONG_TOKEN, PLAIN_TOKEN, 'do_not_print', 'NoShape789'];

const withSandbox = pool.with;

describe.concurrent('bad input and refusals: one line, the documented exit code, no stack, no token', () => {
  it.for(ROWS.flatMap((row) => MODES.map((m) => ({ ...row, ...m }))))('$name ($mode) → exit $code', async (row, { expect, skip }) => {
    if (row.asNobody && IS_ROOT && !(await canRunAsNobody())) skip('running as root, and the CLI cannot be run as nobody here');
    await withSandbox(row.sandbox, async (sb) => {
      row.setup?.(sb);
      const stateDir = fs.mkdtempSync(path.join(work, 'state-'));
      const env: Record<string, string | undefined> = { ...pool.envFor(sb, stateDir), ...row.env };
      if (row.kind === 'network') env.LAKEUP_ENDPOINT = `http://127.0.0.1:${closedPort}`;
      const file = row.file?.() ?? sample;
      const args = ['put', file, '--provider', row.provider ?? 'memorylake', '--progress', 'plain', ...(row.args ?? []), ...row.flags];
      const t0 = performance.now();
      const r = row.asNobody && IS_ROOT ? await runAs(NOBODY, args, { env }) : await runCli(args, { env });
      const elapsed = performance.now() - t0;
      const all = r.stdout + r.stderr;

      expect(r.code, all).toBe(row.code);
      const lines = errorLines(r.stderr);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(row.message);
      expect(all).not.toMatch(STACK_TRACE);
      for (const s of SECRET_FRAGMENTS) expect(all, `output contains '${s}'`).not.toContain(s);
      // Nothing half-done is reported as done.
      expect(r.stdout).not.toMatch(/"ok":\s*true|✔/);
      expect(r.stderr).not.toMatch(/: done, /);
      expect(sb.stats().finalized).toEqual([]);
      if (row.flags.includes('--json')) {
        const out = jsonLines(r.stdout);
        // A failure of the named file says which file (as a run's failures do); a usage error has none.
        const error = { kind: row.kind, message: expect.any(String) };
        expect(out, r.stdout).toEqual([row.kind === 'usage' ? { ok: false, error } : { ok: false, file, error }]);
        expect((out[0]!.error as { message: string }).message).toMatch(row.message);
      } else {
        expect(r.stdout).toBe('');
      }
      if (row.code === 2) {
        // Usage and local-input errors are caught before anything is asked of the API.
        expect(sb.stats().apiCalls).toEqual({});
        expect(sb.stats().totalPartPuts).toBe(0);
        expect(readStates(stateDir)).toEqual([]);
      }
      if (row.maxMs !== undefined) expect(elapsed).toBeLessThan(row.maxMs);
      await row.after?.({ sb, stateDir, env, args, r, expect });
    });
  });
});

interface OkRow {
  name: string;
  provider: 'memorylake' | 'copera';
  setup: (sb: SandboxHandle) => void;
  minMs?: number;
  calls?: Record<string, number>;
}

const OK_ROWS: OkRow[] = [
  { name: 'MemoryLake answering 429 + Retry-After: 2 once', provider: 'memorylake', setup: slowDown('memorylake.create'), minMs: 2000, calls: { 'memorylake.create': 2 } },
  { name: 'Copera answering 429 + Retry-After: 2 once', provider: 'copera', setup: slowDown('copera.start'), minMs: 2000, calls: { 'copera.start': 2 } },
  { name: 'Copera presigned URLs in the SDK shape', provider: 'copera', setup: (sb) => sb.script({ route: 'copera.presign', shape: 'sdk' }) },
  { name: 'Copera finalize answering the other item shape', provider: 'copera', setup: (sb) => sb.script({ route: 'copera.finalize', shape: 'sdk' }) },
];

describe.concurrent('answers lakeup must cope with', () => {
  it.for(OK_ROWS)('$name: uploads byte-exact', async (row, { expect }) => {
    await withSandbox(undefined, async (sb) => {
      row.setup(sb);
      const env = pool.envFor(sb);
      const t0 = performance.now();
      const r = await runCli(['put', sample, '--provider', row.provider, '--json', '--verbose', '--progress', 'plain'], { env });
      const elapsed = performance.now() - t0;
      const all = r.stdout + r.stderr;
      expect(r.code, all).toBe(0);
      expect(errorLines(r.stderr)).toEqual([]);
      for (const s of SECRET_FRAGMENTS) expect(all).not.toContain(s);
      const out = jsonLines(r.stdout);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ ok: true, provider: row.provider, size: SIZE });
      if (row.provider === 'copera') expect(out[0]!.id).toMatch(/^[0-9a-f]{24}$/);
      expect(await sha256File(storedPath(sb, row.provider, out[0]!.name as string))).toBe(sampleSha);
      if (row.minMs !== undefined) expect(elapsed).toBeGreaterThanOrEqual(row.minMs);
      for (const [route, n] of Object.entries(row.calls ?? {})) expect(sb.stats().apiCalls[route]).toBe(n);
    });
  });
});
