import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConflict, parseEndpoint, parseIntInRange, parseProvider, resolveToken } from '../../src/cli/options.js';
import { buildPutPlan, type PutFlags } from '../../src/cli/put-plan.js';
import { MiB } from '../../src/util/sizes.js';
import { thrown } from './helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-opts-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const TTY = { stderrIsTTY: true };
const PIPE = { stderrIsTTY: false };
const env = (over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ LAKEUP_STATE_DIR: path.join(os.tmpdir(), 'lakeup-test-state'), ...over });
const plan = (flags: PutFlags, files = ['a.bin'], e = env(), term = PIPE) => buildPutPlan(files, flags, e, term);
const base: PutFlags = { provider: 'memorylake', token: 'sk_test_123' };

describe('parseProvider', () => {
  it.each(['memorylake', 'copera', 'MemoryLake', 'COPERA'])('accepts %s', (v) => {
    expect(['memorylake', 'copera']).toContain(parseProvider(v));
  });
  it('rejects an unknown provider, naming it and the choices', () => {
    const e = thrown(() => parseProvider('dropbox'));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain("'dropbox'");
    expect(e.message).toContain('memorylake');
    expect(e.message).toContain('copera');
  });
  it.each([undefined, ''])('says --provider is required (or LAKEUP_PROVIDER) when it is %j', (v) => {
    const e = thrown(() => parseProvider(v));
    expect(e.message).toContain('--provider');
    expect(e.message).toContain('LAKEUP_PROVIDER');
  });
});

describe('parseIntInRange', () => {
  it.each([
    ['1', 1],
    ['64', 64],
    [' 8 ', 8],
  ])('accepts %j', (v, n) => {
    expect(parseIntInRange(v, '--concurrency', 1, 64)).toBe(n);
  });
  it.each(['0', '65', 'x', '', '4.5', '-1', '1e1', '0x10'])('rejects %j naming the flag and range', (v) => {
    const e = thrown(() => parseIntInRange(v, '--concurrency', 1, 64));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('--concurrency');
    expect(e.message).toContain('1 to 64');
  });
});

describe('parseConflict', () => {
  it.each(['rename', 'deny', 'overwrite', 'replace'])('accepts %s', (v) => {
    expect(parseConflict(v)).toBe(v);
  });
  it('rejects anything else', () => {
    expect(thrown(() => parseConflict('skip')).message).toContain('--on-conflict');
  });
});

describe('parseEndpoint', () => {
  it.each([
    ['https://app.memorylake.ai', 'https://app.memorylake.ai'],
    ['https://app.memorylake.ai/', 'https://app.memorylake.ai'],
    ['http://127.0.0.1:8080/base//', 'http://127.0.0.1:8080/base'],
    ['HTTPS://API.COPERA.AI', 'https://api.copera.ai'],
  ])('normalises %s', (v, out) => {
    expect(parseEndpoint(v)).toBe(out);
  });
  it.each([
    ['ftp://x.test', 'http and https'],
    ['file:///etc', 'http and https'],
    ['app.memorylake.ai', 'not a URL'],
    ['https://user:pw@x.test', 'credentials'],
  ])('rejects %s', (v, why) => {
    const e = thrown(() => parseEndpoint(v));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('--endpoint');
    expect(e.message).toContain(why);
  });
});

describe('resolveToken', () => {
  it('takes --token, else --token-file, then LAKEUP_TOKEN, then LAKEUP_TOKEN_FILE', () => {
    const f1 = path.join(tmp, 't1');
    const f2 = path.join(tmp, 't2');
    fs.writeFileSync(f1, 'from-file\n');
    fs.writeFileSync(f2, '  from-env-file  \n');
    expect(resolveToken('flag', undefined, { LAKEUP_TOKEN: 'env', LAKEUP_TOKEN_FILE: f2 })).toBe('flag');
    expect(resolveToken(undefined, f1, { LAKEUP_TOKEN: 'env' })).toBe('from-file');
    expect(resolveToken(undefined, undefined, { LAKEUP_TOKEN: ' env ', LAKEUP_TOKEN_FILE: f2 })).toBe('env');
    expect(resolveToken(undefined, undefined, { LAKEUP_TOKEN_FILE: f2 })).toBe('from-env-file');
  });
  it('refuses --token together with --token-file, without echoing the token', () => {
    const f1 = path.join(tmp, 't1');
    fs.writeFileSync(f1, 'from-file\n');
    const e = thrown(() => resolveToken('sk_flag_secret', f1, {}));
    expect(e.kind).toBe('usage');
    expect(e.message).toMatch(/--token and --token-file/);
    expect(e.message).not.toContain('sk_flag_secret');
  });
  it('a missing token names LAKEUP_TOKEN', () => {
    const e = thrown(() => resolveToken(undefined, undefined, {}));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('LAKEUP_TOKEN');
    expect(e.message).toContain('--token');
  });
  it('an unreadable or empty token file is a usage error naming the file', () => {
    const missing = path.join(tmp, 'nope');
    expect(thrown(() => resolveToken(undefined, missing, {})).message).toContain(missing);
    const empty = path.join(tmp, 'empty');
    fs.writeFileSync(empty, '\n  \n');
    expect(thrown(() => resolveToken(undefined, empty, {})).message).toContain('empty');
  });
});

describe('buildPutPlan', () => {
  it('has the documented defaults', () => {
    const p = plan(base);
    expect(p).toMatchObject({
      provider: 'memorylake',
      endpoint: 'https://app.memorylake.ai',
      token: 'sk_test_123',
      files: ['a.bin'],
      concurrency: 'auto',
      jobs: 16,
      retries: 8,
      stallTimeoutMs: 60_000,
      verify: true,
      resume: true,
      json: false,
      verbose: false,
      dryRun: false,
    });
    expect(p.partSize).toBeUndefined();
    expect(p.limitRate).toBeUndefined();
    expect(p.onConflict).toBeUndefined();
  });

  it('defaults the endpoint per provider', () => {
    expect(plan({ provider: 'copera', token: 't' }).endpoint).toBe('https://api.copera.ai');
    expect(plan(base).endpoint).toBe('https://app.memorylake.ai');
  });

  it('takes the endpoint from --endpoint, then LAKEUP_ENDPOINT', () => {
    expect(plan({ ...base, endpoint: 'http://127.0.0.1:9/' }, ['a'], env({ LAKEUP_ENDPOINT: 'https://env.test' })).endpoint).toBe('http://127.0.0.1:9');
    expect(plan(base, ['a'], env({ LAKEUP_ENDPOINT: 'https://env.test' })).endpoint).toBe('https://env.test');
  });

  it('requires an http(s) endpoint', () => {
    expect(thrown(() => plan({ ...base, endpoint: 'ftp://x.test' })).message).toContain('--endpoint');
  });

  it('rejects an unknown provider', () => {
    expect(thrown(() => plan({ ...base, provider: 'gdrive' })).message).toContain("'gdrive'");
  });

  it('falls back to LAKEUP_PROVIDER when --provider is missing, and fails when both are', () => {
    expect(plan({ token: 't' }, ['a'], env({ LAKEUP_PROVIDER: 'copera' })).provider).toBe('copera');
    const e = thrown(() => plan({ token: 't' }));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('LAKEUP_PROVIDER');
  });

  it('the flag wins over LAKEUP_PROVIDER', () => {
    expect(plan(base, ['a'], env({ LAKEUP_PROVIDER: 'copera' })).provider).toBe('memorylake');
  });

  it('takes --concurrency auto (any case) or a number that pins it', () => {
    expect(plan({ ...base, concurrency: 'AUTO' }).concurrency).toBe('auto');
    expect(plan({ ...base, concurrency: '16' }).concurrency).toBe(16);
  });

  it.each(['0', '65', 'x'])('rejects --concurrency %s', (c) => {
    const e = thrown(() => plan({ ...base, concurrency: c }));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('--concurrency');
  });

  it('requires at least one file', () => {
    expect(thrown(() => plan(base, [])).kind).toBe('usage');
  });

  it('rejects --name with several files', () => {
    const e = thrown(() => plan({ ...base, name: 'x.bin' }, ['a', 'b']));
    expect(e.message).toContain('--name');
  });

  it.each(['', '  ', 'a/b', 'a\\b'])('rejects --name %j', (name) => {
    expect(thrown(() => plan({ ...base, name })).message).toContain('--name');
  });

  it('rejects --part-size with memorylake (the server decides) and accepts it with copera', () => {
    expect(thrown(() => plan({ ...base, partSize: '16MiB' })).message).toContain('--part-size');
    expect(plan({ provider: 'copera', token: 't', partSize: '16MiB' }).partSize).toBe(16 * MiB);
  });

  it('refuses a Copera --part-size outside the S3 limits (5 MiB to 5 GiB) here, before any file or call', () => {
    for (const [size, why] of [['4MiB', 'at least 5 MiB'], ['6GiB', 'at most 5 GiB']]) {
      const e = thrown(() => plan({ provider: 'copera', token: 't', partSize: size }));
      expect(e.kind).toBe('usage');
      expect(e.message).toContain(why);
    }
  });

  it('rejects --on-conflict with copera and accepts it with memorylake', () => {
    expect(thrown(() => plan({ provider: 'copera', token: 't', onConflict: 'deny' })).message).toContain('--on-conflict');
    expect(plan({ ...base, onConflict: 'deny' }).onConflict).toBe('deny');
    expect(thrown(() => plan({ ...base, onConflict: 'skip' })).kind).toBe('usage');
  });

  it('without any token says how to give one, naming LAKEUP_TOKEN', () => {
    const e = thrown(() => plan({ provider: 'memorylake' }));
    expect(e.kind).toBe('usage');
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('LAKEUP_TOKEN');
  });

  it('takes the token from LAKEUP_TOKEN', () => {
    expect(plan({ provider: 'copera' }, ['a'], env({ LAKEUP_TOKEN: 'cp_pat_envtoken' })).token).toBe('cp_pat_envtoken');
  });

  it('reads --token-file and trims it', () => {
    const f = path.join(tmp, 'token');
    fs.writeFileSync(f, '  sk_from_file_abc\r\n');
    expect(plan({ provider: 'memorylake', tokenFile: f }).token).toBe('sk_from_file_abc');
  });

  it('needs no token for --dry-run', () => {
    expect(plan({ provider: 'memorylake', dryRun: true }).token).toBe('');
  });

  it('progress auto is a bar on a terminal and plain lines otherwise; --quiet is none', () => {
    expect(plan(base, ['a'], env(), TTY).progress).toBe('bar');
    expect(plan(base, ['a'], env(), PIPE).progress).toBe('plain');
    expect(plan({ ...base, quiet: true }, ['a'], env(), TTY).progress).toBe('none');
    expect(plan({ ...base, quiet: true, progress: 'bar' }, ['a'], env(), TTY).progress).toBe('none');
    expect(plan({ ...base, progress: 'json' }, ['a'], env(), TTY).progress).toBe('json');
    expect(plan(base, ['a'], env({ LAKEUP_PROGRESS: 'none' }), TTY).progress).toBe('none');
    expect(thrown(() => plan({ ...base, progress: 'fancy' })).message).toContain('--progress');
  });

  it('turns --no-verify and --no-resume off', () => {
    const p = plan({ ...base, verify: false, resume: false });
    expect(p.verify).toBe(false);
    expect(p.resume).toBe(false);
  });

  it('parses --timeout, --retries, --limit-rate and --state-dir', () => {
    const p = plan({ ...base, timeout: '90s', retries: '0', limitRate: '8MiB/s', stateDir: path.join(tmp, 's') });
    expect(p.stallTimeoutMs).toBe(90_000);
    expect(p.retries).toBe(0);
    expect(p.limitRate).toBe(8 * MiB);
    expect(p.stateDir).toBe(path.join(tmp, 's'));
    expect(thrown(() => plan({ ...base, timeout: '200ms' })).message).toContain('--timeout');
    expect(thrown(() => plan({ ...base, retries: '101' })).message).toContain('--retries');
  });

  it('refuses a --progress-interval of 0 (a line every millisecond) and takes 200ms', () => {
    expect(plan({ ...base, progressInterval: '200ms' }).progressIntervalMs).toBe(200);
    for (const v of ['0', '0s', '5ms']) {
      const e = thrown(() => plan({ ...base, progressInterval: v }));
      expect(e.kind).toBe('usage');
      expect(e.message).toContain('--progress-interval');
    }
  });
});
