// Ctrl-C, CI cancellation and kill -9 with the default flags: what was sent is kept. A link of
// 20 MiB/s (--limit-rate, the scenario under test) and Copera's default 10 MiB parts; every moment
// is aimed at by watching the storage's byte count, never a clock.
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { readStates } from '../helpers/outcome.js';
import { hasScript, runInPty, screen } from '../helpers/pty.js';
import { storedPath } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';
import { stateId } from '../../src/state/state-file.js';
import { GRACE_MS } from '../../src/cli/signals.js';

const MiB = 1024 * 1024;
const SIZE = 120 * MiB; // twelve parts of 10 MiB: at 40%, a round of parts is done
const bed = useSandboxBed();

/** Bytes the storage has received since `from` (aborted parts included). */
const received = (from: number) => bed.sb.stats().bytesReceived - from;

/** Starts `put` with the defaults (and the slow link) and resolves once 40% of the file reached the storage. */
async function startAt40(name: string, seed: number) {
  const file = await makeFile(path.join(bed.work, name), SIZE, seed);
  const from = bed.sb.stats().bytesReceived;
  const child = startCli(['put', file, '-p', 'copera', '--limit-rate', '20MiB/s'], { env: bed.env });
  await waitFor('40% at the storage', () => received(from) >= 0.4 * SIZE);
  return { file, from, child };
}

/** What the state folder keeps for the next run, in bytes. */
function keptBytes(): number {
  const s = readStates(bed.stateDir)[0] as unknown as { done: Array<{ size: number }> } | undefined;
  return s ? s.done.reduce((n, d) => n + d.size, 0) : 0;
}

describe.skipIf(process.platform === 'win32')('an interruption keeps what was sent (default flags)', () => {
  it('Ctrl-C lets the parts in flight finish, keeps ≥ 90% of what was sent, says so in numbers; the rerun sends only the rest', async () => {
    const { file, from, child } = await startAt40('ctrl-c.bin', 31);
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/stopping: finishing \d+ parts? in flight — Ctrl-C again to stop now/);
    const m = /interrupted: (\d+) of 12 parts saved \(([\d.]+) MiB of 120 MiB\)\. Run the same command again/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const sent = received(from);
    const kept = keptBytes();
    expect(kept).toBe(Number(m![1]) * 10 * MiB);
    expect(kept / sent, `kept ${kept} of ${sent} bytes sent`).toBeGreaterThanOrEqual(0.9);

    const before = bed.sb.stats().bytesReceived;
    const again = await runCli(['put', file, '-p', 'copera'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(bed.sb.stats().bytesReceived - before).toBe(SIZE - kept);
    expect(await sha256File(storedPath(bed.sb, 'copera', 'ctrl-c.bin'))).toBe(await sha256File(file));
    expect(readStates(bed.stateDir)).toEqual([]);
  });

  it('SIGINT then SIGTERM (how CI cancels a job) stops at once and still keeps every part the storage has', async () => {
    const { child } = await startAt40('ci-cancel.bin', 32);
    child.kill('SIGINT');
    await waitFor('the first signal taken', () => /finishing \d+ parts? in flight/.test(child.output().stderr));
    child.kill('SIGTERM');
    const r = await child.result;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted again: stopping the parts in flight/);
    const saved = readStates(bed.stateDir)[0]!;
    const stored = Object.keys(bed.sb.stats().partsStored[saved.session.uploadId] ?? {}).map(Number);
    expect(saved.done.map((d) => d.number).sort()).toEqual(stored.sort());
    expect(stored.length).toBeGreaterThan(0);
    // What `lakeup resume <id>` keeps to (it resumed at full speed).
    expect((saved as unknown as { limitRate?: number }).limitRate).toBe(20 * MiB);
  });

  it.skipIf(!hasScript)('on a terminal, Ctrl-C typed at the keyboard: the bar, the finishing line, what was kept', async () => {
    const file = await makeFile(path.join(bed.work, 'tty.bin'), SIZE, 34);
    const from = bed.sb.stats().bytesReceived;
    const run = runInPty(['put', file, '-p', 'copera', '--limit-rate', '20MiB/s'], { env: bed.env });
    await waitFor('40% at the storage', () => received(from) >= 0.4 * SIZE);
    run.type('\x03');
    const { code, raw } = await run.result;
    expect(code, raw).toBe(130);
    const lines = screen(raw);
    const finishing = lines.findIndex((l) => /^lakeup: stopping: finishing \d+ parts? in flight — Ctrl-C again to stop now$/.test(l));
    const kept = lines.findIndex((l) => /^lakeup: interrupted: \d+ of 12 parts saved \([\d.]+ MiB of 120 MiB\)\. Run the same command again/.test(l));
    expect(finishing, lines.join('\n')).toBeGreaterThanOrEqual(0);
    expect(kept, lines.join('\n')).toBeGreaterThan(finishing);
    expect(lines.some((l) => /tty\.bin .*\d+%/.test(l)), lines.join('\n')).toBe(true); // the bar was there
    expect(keptBytes() / received(from)).toBeGreaterThanOrEqual(0.9);
  });

  it('a run of several files: Ctrl-C says which were cut off with parts kept and which never started; the rerun sends only the rest', async () => {
    const dir = path.join(bed.work, 'run-tree');
    await fs.mkdir(dir);
    const files = await Promise.all([1, 2, 3].map((i) => makeFile(path.join(dir, `f${i}.bin`), 40 * MiB, 40 + i)));
    const from = bed.sb.stats().bytesReceived;
    const child = startCli(['put', dir, '-r', '-p', 'copera', '--limit-rate', '20MiB/s'], { env: bed.env });
    await waitFor('30 MiB at the storage', () => received(from) >= 30 * MiB);
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code, r.stderr).toBe(130);
    const m = /^lakeup: 3 files: (\d) uploaded(?:, (\d) cut off \(parts kept\))?(?:, (\d) not started)?$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [uploaded, cut, notStarted] = [1, 2, 3].map((i) => Number(m![i] ?? 0));
    expect(uploaded + cut + notStarted).toBe(3);
    expect(cut, r.stderr).toBeGreaterThan(0);
    const k = /interrupted: (\d+) of (\d+) parts saved/.exec(r.stderr)!;
    const kept = Number(k[1]) * 10 * MiB;
    expect(kept / received(from)).toBeGreaterThanOrEqual(0.9);

    const before = bed.sb.stats().bytesReceived;
    const again = await runCli(['put', dir, '-r', '-p', 'copera'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(bed.sb.stats().bytesReceived - before).toBe(3 * 40 * MiB - uploaded * 40 * MiB - kept);
    for (const f of files) expect(await sha256File(storedPath(bed.sb, 'copera', path.basename(f)))).toBe(await sha256File(f));
  });

  it.skipIf(!hasScript)('on a terminal, Ctrl-C twice while a run draws several bars: both lines stay on the screen', async () => {
    const dir = path.join(bed.work, 'two-bars');
    await fs.mkdir(dir);
    for (const n of ['a', 'b']) await makeFile(path.join(dir, `${n}.bin`), 40 * MiB, n.charCodeAt(0));
    const from = bed.sb.stats().bytesReceived;
    const run = runInPty(['put', dir, '-r', '-p', 'copera', '--limit-rate', '20MiB/s'], { env: bed.env });
    await waitFor('10% at the storage', () => received(from) >= 8 * MiB);
    run.type('\x03');
    await waitFor('the finishing line', () => screen(run.raw()).some((l) => /finishing \d+ parts? in flight/.test(l)));
    run.type('\x03');
    const { code, raw } = await run.result;
    expect(code, raw).toBe(130);
    const lines = screen(raw);
    expect(lines.filter((l) => /^lakeup: stopping: finishing \d+ parts? in flight/.test(l)), lines.join('\n')).toHaveLength(1);
    expect(lines.filter((l) => l === 'lakeup: interrupted again: stopping the parts in flight'), lines.join('\n')).toHaveLength(1);
    expect(lines.filter((l) => /^\d\/2 files /.test(l)), 'no frame of the bars left behind').toHaveLength(1);
    expect(lines[lines.length - 1]).toMatch(/^lakeup: interrupted: \d+ of 8 parts saved/);
  });

  it('a folder of one-part files, Ctrl-C mid-way: every part that finished is saved, the closing line and list agree, the rerun sends nothing twice', async () => {
    const dir = path.join(bed.work, 'small-files');
    await fs.mkdir(dir);
    const N = 24;
    for (let i = 0; i < N; i++) await makeFile(path.join(dir, `f${String(i).padStart(2, '0')}.bin`), 2 * MiB, 40 + i);
    const from = bed.sb.stats().bytesReceived;
    const child = startCli(['put', dir, '-r', '-p', 'copera', '--limit-rate', '8MiB/s'], { env: bed.env });
    await waitFor('25% at the storage', () => received(from) >= 0.25 * N * 2 * MiB);
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code, r.stderr).toBe(130);
    const m = /interrupted: (\d+) of (\d+) parts saved/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const states = readStates(bed.stateDir);
    // Every part sent by a file left unfinished is in the state folder, and the line counts them.
    expect(Number(m![1]), r.stderr).toBeGreaterThan(0);
    expect(states.reduce((n, s) => n + s.done.length, 0)).toBe(Number(m![1]));
    const list = await runCli(['list'], { env: bed.env });
    for (const s of states) expect(list.stdout, list.stdout).toMatch(new RegExp(`^${s.id} .* 100\\.0% `, 'm'));

    const firstRun = received(from);
    const again = await runCli(['put', dir, '-r', '-p', 'copera'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(received(from), 'bytes over both runs').toBe(N * 2 * MiB);
    expect(firstRun).toBeLessThan(N * 2 * MiB);
  });

  it('Ctrl-C while waiting out another host\'s lock: the wait ends at once, nothing is started', async () => {
    const file = await makeFile(path.join(bed.work, 'leased.bin'), 3 * MiB, 35);
    const id = stateId('copera', bed.sb.origin, path.resolve(file), { name: 'leased.bin' });
    // Another host's lock within its lease: lakeup watches it for up to 30 s before taking it over.
    const lock = path.join(bed.stateDir, `${id}.lock`);
    await fs.writeFile(lock, JSON.stringify({ pid: 4242, host: 'lakeup-elsewhere', since: Date.now(), nonce: '0123456789abcdef' }), { mode: 0o600 });
    const sessions = bed.sb.stats().sessions;
    const child = startCli(['put', file, '-p', 'copera'], { env: bed.env });
    await waitFor('the waiting line', () => /waiting for the lock of another lakeup/.test(child.output().stderr));
    const t0 = Date.now();
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code, r.stderr).toBe(130);
    expect(Date.now() - t0, 'exit after the signal (ms)').toBeLessThan(GRACE_MS);
    expect(bed.sb.stats().sessions - sessions, 'upload sessions started').toBe(0);
    expect(JSON.parse(await fs.readFile(lock, 'utf8')).host, 'the other host\'s lock is left to it').toBe('lakeup-elsewhere');
  });

  it('kill -9 at 40% keeps at least half of what was sent', async () => {
    const { from, child } = await startAt40('kill-9.bin', 33);
    child.kill('SIGKILL');
    await child.result;
    const sent = received(from);
    expect(keptBytes() / sent, `kept ${keptBytes()} of ${sent} bytes sent`).toBeGreaterThanOrEqual(0.5);
  });
});
