// Faults over real sockets: the built CLI against an in-process sandbox that answers part PUTs
// with 5xx, resets, throttling, corrupted bytes and stalls. Every upload must end byte-exact, or
// fail with one line and a state file that a later run resumes from.
//
// Seeds: the sandbox draws faults from a seeded PRNG in request order, one draw per fault kind
// configured (plus one to pick the 5xx status), so a seed fixes which requests misbehave however
// the parts interleave. The seeds below were chosen so every configured kind occurs and the run
// stays short; if the sandbox changes how it draws, the "each kind happened" assertions say so and
// a new seed has to be picked.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { FaultKind, FaultOptions, SandboxHandle } from '../../src/sandbox/server.js';
import { lastJson, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { STACK_TRACE, errorLines, jsonLines, readStates } from '../helpers/outcome.js';
import { storedPath } from '../helpers/sandbox.js';
import { useSandboxPool } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ML_PART = 256 * KiB; // the sandbox's MemoryLake layout for these tests: many small parts
const KINDS: FaultKind[] = ['fail', 'reset', 'throttle', 'corrupt', 'stall'];
type Provider = 'memorylake' | 'copera';

// A sandbox of its own for each test (faults never leak between tests), closed after the test file.
const pool = useSandboxPool({ memorylakePartSize: ML_PART }, 'lakeup-faults-');
const sandbox = pool.start;

const files = new Map<string, Promise<{ file: string; sha: string }>>();
/** A sample file of `size` bytes, made once per size. */
function sample(size: number): Promise<{ file: string; sha: string }> {
  const key = String(size);
  let p = files.get(key);
  if (!p) {
    p = (async () => {
      const file = await makeFile(path.join(pool.work, `sample-${size}.bin`), size, size % 251);
      return { file, sha: await sha256File(file) };
    })();
    files.set(key, p);
  }
  return p;
}

const envFor = pool.envFor;

function putArgs(provider: Provider, file: string, extra: string[]): string[] {
  return ['put', file, '--provider', provider, '--json', ...(provider === 'copera' ? ['--part-size', '5MiB'] : []), ...extra];
}

/** Success: exit 0, no error line, one ok line, the stored file byte-identical to the source. */
async function expectExact(sb: SandboxHandle, provider: Provider, r: CliResult, sample: { file: string; sha: string }, parts: number) {
  expect(r.code, r.stderr).toBe(0);
  expect(errorLines(r.stderr)).toEqual([]);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  const out = lastJson(r.stdout);
  expect(out).toMatchObject({ ok: true, provider, parts, size: fs.statSync(sample.file).size });
  expect(await sha256File(storedPath(sb, provider, out.name as string))).toBe(sample.sha);
  return out;
}

function faultsExcept(sb: SandboxHandle, kinds: FaultKind[]): Record<string, number> {
  const f = sb.stats().faultsInjected;
  return Object.fromEntries(Object.entries(f).filter(([k]) => !kinds.includes(k as FaultKind)));
}

describe('all faults at once', () => {
  const ALL: FaultOptions = { failRate: 0.15, resetRate: 0.1, throttleRate: 0.1, corruptRate: 0.1, stallRate: 0.05 };

  it.each([
    // provider, file size, parts, seed
    ['memorylake', 6 * MiB + 1234, 25, 69],
    ['copera', 26 * MiB + 4321, 6, 207], // 210 until a single file looked in the drive first (one more API call shifts the draws)
  ] as const)(
    '%s: byte-exact with failRate .15, resetRate .1, throttleRate .1, corruptRate .1 and stallRate .05 at once',
    async (provider, size, parts, seed) => {
      const sb = await sandbox({ faults: ALL, seed });
      const s = await sample(size);
      const stateDir = fs.mkdtempSync(path.join(pool.work, 'state-'));
      const r = await runCli(putArgs(provider, s.file, ['--timeout', '2']), { env: envFor(sb, stateDir) });
      const stats = sb.stats();
      for (const kind of KINDS) {
        expect(stats.faultsInjected[kind], `seed ${seed} injected no '${kind}' fault: ${JSON.stringify(stats.faultsInjected)}`).toBeGreaterThan(0);
      }
      await expectExact(sb, provider, r, s, parts);
      expect(stats.totalPartPuts).toBeGreaterThan(parts);
      expect(stats.sessions).toBe(1); // no restart: every fault was survived within the session
      expect(readStates(stateDir)).toEqual([]); // forgotten once finalized
    },
  );
});

describe('one fault at a time', () => {
  const ML = { size: 2 * MiB + 777, parts: 9 };
  const CP = { size: 11 * MiB + 99, parts: 3 };

  it.each([
    // kind, provider, faults, seed, extra flags, what --verbose must show
    ['fail', 'memorylake', { failRate: 0.3 }, 19, [], /→ 50[024] /],
    ['fail', 'copera', { failRate: 0.3 }, 12, [], /→ 50[024] /],
    ['reset', 'memorylake', { resetRate: 0.3 }, 1, [], /ECONNRESET|EPIPE|other side closed|socket/i],
    ['reset', 'copera', { resetRate: 0.3 }, 3, [], /ECONNRESET|EPIPE|other side closed|socket/i],
    ['throttle', 'memorylake', { throttleRate: 0.3 }, 19, [], /throttled, pausing 1000ms/],
    ['throttle', 'copera', { throttleRate: 0.3 }, 1, [], /throttled, pausing 1000ms/],
    ['corrupt', 'memorylake', { corruptRate: 0.3 }, 1, [], /does not match the MD5 sent/],
    ['corrupt', 'copera', { corruptRate: 0.3 }, 3, [], /does not match the MD5 sent/],
    ['stall', 'memorylake', { stallRate: 0.3 }, 1, ['--timeout', '1'], /no progress for 1s/],
    ['stall', 'copera', { stallRate: 0.3 }, 3, ['--timeout', '1'], /no progress for 1s/],
  ] as const)('%s on %s: survived, byte-exact', async (kind, provider, faults, seed, extra, shown) => {
    const sb = await sandbox({ faults, seed });
    const { size, parts } = provider === 'memorylake' ? ML : CP;
    const s = await sample(size);
    const t0 = performance.now();
    const r = await runCli(putArgs(provider, s.file, ['--verbose', '--progress', 'none', ...extra]), { env: envFor(sb) });
    const elapsed = performance.now() - t0;
    const stats = sb.stats();
    expect(stats.faultsInjected[kind], `seed ${seed} injected no '${kind}' fault`).toBeGreaterThan(0);
    expect(faultsExcept(sb, [kind])).toEqual(Object.fromEntries(KINDS.filter((k) => k !== kind).map((k) => [k, 0])));
    await expectExact(sb, provider, r, s, parts);
    expect(r.stderr).toMatch(shown);
    expect(stats.totalPartPuts).toBeGreaterThan(parts);
    if (kind === 'corrupt') {
      // The corrupted body was stored, detected, and replaced by the re-sent one (the newest wins).
      const stored = Object.values(stats.partsStored)[0]!;
      expect(Math.max(...Object.values(stored))).toBeGreaterThanOrEqual(2);
    }
    if (kind === 'stall') {
      // Each stall costs about --timeout (1 s), not the 60 s default.
      expect(elapsed).toBeLessThan(15_000);
    }
  });

  it.each([
    ['memorylake', ML],
    ['copera', CP],
  ] as const)('latency below --timeout (%s) is waited for, not mistaken for a stall', async (provider, { size, parts }) => {
    const sb = await sandbox({ faults: { latencyMs: 400 } });
    const s = await sample(size);
    const r = await runCli(putArgs(provider, s.file, ['--timeout', '1']), { env: envFor(sb) });
    await expectExact(sb, provider, r, s, parts);
    expect(sb.stats().totalPartPuts).toBe(parts); // no part was sent twice
  });

  it('honours Retry-After on a throttled part: the part waits as long as the storage asked', async () => {
    const puts: Array<{ part: number; status: string; start: number; end: number }> = [];
    const sb = await sandbox({
      log: (line) => {
        const m = /partNumber=(\d+) (.+) (\d+)ms$/.exec(line);
        const end = performance.now();
        if (m) puts.push({ part: Number(m[1]), status: m[2]!, start: end - Number(m[3]), end });
      },
    });
    sb.script({
      route: 'part',
      status: 503,
      headers: { 'retry-after': '2', 'content-type': 'application/xml' },
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
    });
    const s = await sample(1 * MiB);
    const r = await runCli(putArgs('memorylake', s.file, ['--verbose', '--progress', 'none', '-c', '1']), { env: envFor(sb) });
    await expectExact(sb, 'memorylake', r, s, 4);
    expect(r.stderr).toMatch(/throttled, pausing 2000ms/);
    const throttled = puts.find((p) => p.status === '503');
    expect(throttled, JSON.stringify(puts)).toBeTruthy();
    const next = puts.filter((p) => p.start > throttled!.start).sort((a, b) => a.start - b.start)[0];
    expect(next, 'a PUT after the throttled one').toBeTruthy();
    expect(next!.start - throttled!.end).toBeGreaterThanOrEqual(1900);
  });
});

describe('verify is what catches corrupted parts', () => {
  it('with --no-verify a corrupting store is believed: lakeup reports success, the stored bytes differ', async () => {
    const sb = await sandbox({ faults: { corruptRate: 1 } });
    const s = await sample(1 * MiB + 3);
    const r = await runCli(putArgs('memorylake', s.file, ['--no-verify']), { env: envFor(sb) });
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(out.ok).toBe(true);
    const stored = storedPath(sb, 'memorylake', out.name as string);
    expect(fs.statSync(stored).size).toBe(fs.statSync(s.file).size);
    expect(await sha256File(stored)).not.toBe(s.sha);
  });

  it('with verify on, the same store is caught: exit 1, an integrity error, nothing finalized', async () => {
    const sb = await sandbox({ faults: { corruptRate: 1 } });
    const s = await sample(1 * MiB + 3);
    const r = await runCli(putArgs('memorylake', s.file, ['--retries', '1']), { env: envFor(sb) });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toMatch(/does not match the MD5/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(jsonLines(r.stdout)).toEqual([{ ok: false, file: s.file, error: { kind: 'integrity', message: expect.stringMatching(/MD5/) } }]);
    expect(sb.stats().finalized).toEqual([]);
  });
});

describe('retries exhausted', () => {
  it('exit 1 with one line and the state kept; a later run with faults gone resumes byte-exact', async () => {
    const sb = await sandbox();
    const s = await sample(4 * MiB + 5); // 17 parts of 256 KiB
    const stateDir = fs.mkdtempSync(path.join(pool.work, 'state-'));
    const env = envFor(sb, stateDir);
    const child = startCli(putArgs('memorylake', s.file, ['--retries', '1', '-c', '2', '--limit-rate', '2MiB/s']), { env });
    await waitFor('3 finished parts', () => (readStates(stateDir)[0]?.done.length ?? 0) >= 3);
    sb.setFaults({ failRate: 1 }); // from now on every part PUT answers 5xx
    const r = await child.result;
    expect(r.code, r.stderr).toBe(1);
    expect(errorLines(r.stderr), r.stderr).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toMatch(/HTTP 50[0-4]/);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    const failed = jsonLines(r.stdout);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ ok: false, error: { kind: 'server' } });
    expect(sb.stats().finalized).toEqual([]);
    const saved = readStates(stateDir);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.done.length).toBeGreaterThanOrEqual(3);
    expect(saved[0]!.done.length).toBeLessThan(17);

    sb.setFaults({});
    const again = await runCli(putArgs('memorylake', s.file, []), { env });
    const out = await expectExact(sb, 'memorylake', again, s, 17);
    expect(out.resumed).toBe(true);
    const stats = sb.stats();
    expect(stats.sessions).toBe(1); // the same upload session, continued
    const stored = stats.partsStored[saved[0]!.session.uploadId]!;
    for (const d of saved[0]!.done) expect(stored[String(d.number)], `part ${d.number} stored once`).toBe(1);
    expect(readStates(stateDir)).toEqual([]);
  });
});
