// Resumable uploads end to end: interrupted by SIGINT or SIGKILL, changed files, expired URLs,
// damaged state files, two processes on one file, and the list/resume/abort commands.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/server.js';
import { lastJson, runCli, startCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { readStates, type SavedState } from '../helpers/outcome.js';
import { storedPath as storedIn } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });


const doneParts = (n: number) => () => {
  const s = readStates(bed.stateDir)[0];
  return s && s.done.length >= n ? s : undefined;
};

function storedOnce(uploadId: string, numbers: number[]): void {
  const stored = bed.sb.stats().partsStored[uploadId] ?? {};
  for (const n of numbers) expect(stored[String(n)], `part ${n} stored once`).toBe(1);
}

const storedPath = (provider: string, name: string): string => storedIn(bed.sb, provider, name);

describe('interrupted uploads resume', () => {
  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('SIGINT stops cleanly with exit 130 and a resume hint; the rerun sends only missing parts', async () => {
    const file = await makeFile(path.join(bed.work, 'int.bin'), 24 * MiB + 5, 3);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '6MiB/s', '--progress', 'plain'], { env: bed.env });
    const before = await waitFor('3 finished parts', doneParts(3));
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted: \d+ of 25 parts saved \([\d.]+ MiB of 24 MiB\)\. Run the same command again/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace

    const saved = readStates(bed.stateDir)[0];
    expect(saved.done.length).toBeGreaterThanOrEqual(before.done.length);
    const mode = fs.statSync(path.join(bed.stateDir, `${saved.id}.json`)).mode & 0o777;
    if (process.platform !== 'win32') expect(mode).toBe(0o600);
    expect(fs.readFileSync(path.join(bed.stateDir, `${saved.id}.json`), 'utf8')).not.toContain(bed.sb.token);

    const again = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const out = lastJson(again.stdout);
    expect(out.resumed).toBe(true);
    storedOnce(saved.session.uploadId, saved.done.map((d) => d.number));
    expect(await sha256File(storedPath('memorylake', out.name as string))).toBe(await sha256File(file));
    expect(readStates(bed.stateDir)).toEqual([]);
  });

  // Seen on a terminal: a 2 GiB file resumed at 42% said '2 GiB in 10.1s, 202 MiB/s, resumed' — a speed
  // made of bytes an earlier run had sent. The line says what this run sent, and its speed is of those.
  it.skipIf(process.platform === 'win32')('the resumed file\'s line says how much this run sent, and the speed of that', async () => {
    const file = await makeFile(path.join(bed.work, 'said.bin'), 24 * MiB, 5);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '6MiB/s', '-q'], { env: bed.env });
    await waitFor('6 finished parts', doneParts(6));
    child.kill('SIGINT');
    expect((await child.result).code).toBe(130);
    const kept = readStates(bed.stateDir)[0].done.reduce((n, d) => n + d.size, 0);
    const again = await runCli(['put', file, '-p', 'memorylake'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const m = /^✔ .*said\.bin → \S+ \(\S+\) ([\d.]+) MiB of 24 MiB sent in ([\d.]+)s, ([\d.]+) (K|M)iB\/s, resumed$/m.exec(again.stdout);
    expect(m, again.stdout).not.toBeNull();
    expect(Number(m![1])).toBeCloseTo((24 * MiB - kept) / MiB, 1);
    const rate = Number(m![3]) * (m![4] === 'M' ? MiB : 1024);
    expect(rate).toBeLessThan((24 * MiB - kept) / Math.max(Number(m![2]) - 0.05, 0.001) * 1.05);
    // The plain progress's own done line (stderr, off a terminal) says the same.
    expect(again.stderr).toMatch(new RegExp(`said\\.bin: done, ${m![1].replace('.', '\\.')} MiB of 24 MiB sent in [\\d.]+s \\([\\d.]+ (K|M)iB/s\\), resumed$`, 'm'));
    expect(readStates(bed.stateDir)).toEqual([]);
  });

  it('SIGKILL loses at most the parts in flight; the rerun takes over the stale lock', async () => {
    const file = await makeFile(path.join(bed.work, 'kill.bin'), 24 * MiB, 4);
    const child = startCli(['put', file, '-p', 'copera', '--part-size', '5MiB', '--limit-rate', '8MiB/s', '-c', '2'], { env: bed.env });
    await waitFor('2 finished parts', doneParts(2));
    child.kill('SIGKILL');
    await child.result;
    const saved = readStates(bed.stateDir)[0];
    expect(fs.existsSync(path.join(bed.stateDir, `${saved.id}.lock`))).toBe(true);

    const again = await runCli(['put', file, '-p', 'copera', '--part-size', '5MiB', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(lastJson(again.stdout).resumed).toBe(true);
    storedOnce(saved.session.uploadId, saved.done.map((d) => d.number));
    const puts = bed.sb.stats().partPuts[saved.session.uploadId];
    const total = Object.values(puts).reduce((a, b) => a + b, 0);
    // 5 parts; at most the 2 in flight at the kill are sent twice.
    expect(total).toBeLessThanOrEqual(5 + 2);
    expect(await sha256File(storedPath('copera', lastJson(again.stdout).name as string))).toBe(await sha256File(file));
  });

  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('never stitches a changed file: says so and uploads the current content from the start', async () => {
    const file = await makeFile(path.join(bed.work, 'changed.bin'), 16 * MiB, 5);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '6MiB/s'], { env: bed.env });
    await waitFor('2 finished parts', doneParts(2));
    child.kill('SIGINT');
    expect((await child.result).code).toBe(130);
    await makeFile(file, 16 * MiB + 10, 99); // new content, new size, new mtime

    const again = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/changed since the interrupted upload/);
    const out = lastJson(again.stdout);
    expect(out.resumed).toBe(false);
    expect(await sha256File(storedPath('memorylake', out.name as string))).toBe(await sha256File(file));
  });

  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('--no-resume starts over', async () => {
    const file = await makeFile(path.join(bed.work, 'noresume.bin'), 12 * MiB, 6);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '6MiB/s'], { env: bed.env });
    await waitFor('2 finished parts', doneParts(2));
    child.kill('SIGINT');
    await child.result;
    const again = await runCli(['put', file, '-p', 'memorylake', '--json', '--no-resume'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(lastJson(again.stdout).resumed).toBe(false);
  });
});

describe('expired URLs', () => {
  it('Copera: fresh URLs for the same upload, no finished part sent again', async () => {
    // 8 parts, 2 in flight: when the URLs expire after 2 parts, at least 4 parts still need one.
    // (With every remaining part already in flight, no request would meet an expired URL.)
    const file = await makeFile(path.join(bed.work, 'exp-copera.bin'), 40 * MiB, 7);
    const presignsBefore = bed.sb.stats().apiCalls['copera.presign'] ?? 0;
    const child = startCli(['put', file, '-p', 'copera', '--part-size', '5MiB', '--limit-rate', '10MiB/s', '-c', '2', '--json'], { env: bed.env });
    const saved = await waitFor('2 finished parts', doneParts(2));
    bed.sb.expireAllUrls();
    const r = await child.result;
    expect(r.code, r.stderr).toBe(0);
    expect((bed.sb.stats().apiCalls['copera.presign'] ?? 0) - presignsBefore).toBeGreaterThanOrEqual(2);
    storedOnce(saved.session.uploadId, [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(bed.sb.stats().sessions).toBeGreaterThan(0);
    expect(await sha256File(storedPath('copera', lastJson(r.stdout).name as string))).toBe(await sha256File(file));
  });

  it('MemoryLake: a new session, said once, still byte-exact', async () => {
    const file = await makeFile(path.join(bed.work, 'exp-ml.bin'), 12 * MiB, 8);
    const sessionsBefore = bed.sb.stats().sessions;
    // -c 4: parts must still be waiting for a URL when the URLs expire (not all in flight at once).
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '8MiB/s', '-c', '4', '--json'], { env: bed.env });
    await waitFor('2 finished parts', doneParts(2));
    bed.sb.expireAllUrls();
    const r = await child.result;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.match(/starting a new upload session/g)).toHaveLength(1);
    expect(bed.sb.stats().sessions - sessionsBefore).toBe(2);
    expect(await sha256File(storedPath('memorylake', lastJson(r.stdout).name as string))).toBe(await sha256File(file));
  });

  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('Copera: URLs near their expiry in an old state are refreshed before sending', async () => {
    const short = await startSandbox({ port: 0, dir: path.join(bed.work, 'store-ttl'), urlTtlMs: 3000 });
    try {
      const e = { ...bed.env, LAKEUP_ENDPOINT: short.origin };
      const file = await makeFile(path.join(bed.work, 'ttl.bin'), 15 * MiB, 9);
      const child = startCli(['put', file, '-p', 'copera', '--part-size', '5MiB', '--limit-rate', '4MiB/s', '-c', '1'], { env: e });
      await waitFor('1 finished part', doneParts(1));
      child.kill('SIGINT');
      expect((await child.result).code).toBe(130);
      // The saved URLs made older than 80 % of their 3 s lifetime (as if the rerun came 2.6 s later).
      const urlFile = fs.readdirSync(bed.stateDir).find((n) => n.endsWith('.urls.json'))!;
      const urls = JSON.parse(fs.readFileSync(path.join(bed.stateDir, urlFile), 'utf8'));
      fs.writeFileSync(path.join(bed.stateDir, urlFile), JSON.stringify({ ...urls, urlsIssuedAt: urls.urlsIssuedAt - 2600 }), { mode: 0o600 });
      const presigns = short.stats().apiCalls['copera.presign'];
      const r = await runCli(['put', file, '-p', 'copera', '--part-size', '5MiB', '--json', '--verbose'], { env: e });
      expect(r.code, r.stderr).toBe(0);
      expect(short.stats().apiCalls['copera.presign']).toBe(presigns + 1);
      expect(r.stderr).not.toMatch(/→ 403/);
    } finally {
      await short.close();
    }
  });
});

describe('state files that cannot be trusted', () => {
  async function interruptedUpload(name: string): Promise<{ file: string; state: SavedState }> {
    const file = await makeFile(path.join(bed.work, name), 24 * MiB, 10);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '4MiB/s'], { env: bed.env });
    const state = await waitFor('1 finished part', doneParts(1));
    child.kill('SIGINT');
    await child.result;
    return { file, state };
  }

  it('a corrupt state file is reported in one line, kept aside, and the upload starts over', async () => {
    const { file, state } = await interruptedUpload('corrupt.bin');
    fs.writeFileSync(path.join(bed.stateDir, `${state.id}.json`), '{"version":1,"id":"', { mode: 0o600 });
    const r = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ignoring the saved state of an earlier upload because it is not valid JSON/);
    expect(lastJson(r.stdout).resumed).toBe(false);
    expect(fs.readdirSync(bed.stateDir).some((f) => f.includes('.invalid-'))).toBe(true);
  });

  it('a foreign state file (another upload\'s) is not trusted', async () => {
    const { file, state } = await interruptedUpload('foreign.bin');
    const p = path.join(bed.stateDir, `${state.id}.json`);
    const json = JSON.parse(fs.readFileSync(p, 'utf8'));
    json.id = '0123456789abcdef';
    fs.writeFileSync(p, JSON.stringify(json));
    const r = await runCli(['put', file, '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/belongs to another upload/);
    expect(lastJson(r.stdout).resumed).toBe(false);
  });
});

describe('two processes, one file', () => {
  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('the second one stops with a clear error naming the first one\'s pid', async () => {
    const file = await makeFile(path.join(bed.work, 'two.bin'), 8 * MiB, 11);
    const first = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '4MiB/s'], { env: bed.env });
    await waitFor('1 finished part', doneParts(1));
    const second = await runCli(['put', file, '-p', 'memorylake'], { env: bed.env });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`another lakeup \\(pid ${first.pid}\\) is already uploading this file`));
    first.kill('SIGINT');
    await first.result;
  });
});

describe('list, resume, abort', () => {
  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('lists a pending upload, resumes it by id prefix, and aborts forget state', async () => {
    const file = await makeFile(path.join(bed.work, 'cmds.bin'), 30 * MiB, 12);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '5MiB/s'], { env: bed.env });
    const state = await waitFor('2 finished parts', doneParts(2));
    child.kill('SIGINT');
    await child.result;

    const list = await runCli(['list', '--json'], { env: bed.env });
    expect(list.code).toBe(0);
    const uploads = lastJson(list.stdout).uploads as Array<Record<string, unknown>>;
    expect(uploads).toHaveLength(1);
    expect(uploads[0]).toMatchObject({ id: state.id, provider: 'memorylake', file, size: 30 * MiB });
    expect(uploads[0].percent as number).toBeGreaterThan(0);
    const human = await runCli(['list'], { env: bed.env });
    expect(human.stdout).toMatch(new RegExp(`${state.id}\\s+memorylake\\s+\\d+\\.\\d%`));

    const resumed = await runCli(['resume', state.id.slice(0, 6), '--json'], { env: bed.env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout)).toMatchObject({ ok: true, resumed: true });
    expect(lastJson((await runCli(['list', '--json'], { env: bed.env })).stdout).uploads).toEqual([]);

    const child2 = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '5MiB/s', '--name', 'other.bin'], { env: bed.env });
    await waitFor('1 finished part', doneParts(1));
    child2.kill('SIGINT');
    await child2.result;
    const aborted = await runCli(['abort', '--all', '--json'], { env: bed.env });
    expect(aborted.code).toBe(0);
    expect((lastJson(aborted.stdout).aborted as string[]).length).toBe(1);
    expect(readStates(bed.stateDir)).toEqual([]);
    const none = await runCli(['resume', 'ffff'], { env: bed.env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no pending upload with id 'ffff'/);
  });
});

describe('`lakeup resume` with no id, as the interrupt message says', () => {
  /** A folder to run lakeup from, as a user's shell is in one. */
  const folder = (name: string) => fs.mkdtempSync(path.join(bed.work, `${name}-`));

  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('resumes the upload and the run started from this folder, and leaves the others', async () => {
    const here = folder('here');
    const elsewhere = folder('elsewhere');
    const big = await makeFile(path.join(here, 'here.bin'), 24 * MiB, 21);
    const tree = path.join(here, 'tree');
    fs.mkdirSync(tree);
    const treeFiles = [await makeFile(path.join(tree, 'a.bin'), 24 * MiB, 22), await makeFile(path.join(tree, 'b.txt'), 100, 23)];
    const other = await makeFile(path.join(elsewhere, 'other.bin'), 24 * MiB, 24);
    const interrupt = async (args: string[], cwd: string, what: () => boolean) => {
      const child = startCli([...args, '-p', 'memorylake', '--limit-rate', '4MiB/s'], { env: bed.env, cwd });
      await waitFor('a saved part', what);
      child.kill('SIGINT');
      const r = await child.result;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/Run the same command again \(or `lakeup resume`\) to continue\.$/m);
    };
    const statesOf = (file: string) => readStates(bed.stateDir).filter((s) => (s as SavedState & { file: { path: string } }).file.path === file);
    await interrupt(['put', 'here.bin'], here, () => statesOf(big).some((s) => s.done.length > 0));
    await interrupt(['put', 'tree', '-r'], here, () => statesOf(treeFiles[0]).some((s) => s.done.length > 0));
    await interrupt(['put', 'other.bin'], elsewhere, () => statesOf(other).some((s) => s.done.length > 0));

    const r = await runCli(['resume', '--json'], { env: bed.env, cwd: here });
    expect(r.code, r.stderr).toBe(0);
    const files = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ok: boolean; file: string; resumed?: boolean });
    expect(files.every((f) => f.ok)).toBe(true);
    expect(files.map((f) => path.basename(f.file)).sort()).toEqual(['a.bin', 'b.txt', 'here.bin']);
    // What was started elsewhere is still pending, for `lakeup resume` there.
    expect(readStates(bed.stateDir).map((s) => (s as SavedState & { file: { path: string } }).file.path)).toEqual([other]);
    const there = await runCli(['resume'], { env: bed.env, cwd: elsewhere });
    expect(there.code, there.stderr).toBe(0);
    expect(readStates(bed.stateDir)).toEqual([]);
  });

  it('with nothing started from this folder: one line saying what is pending elsewhere (exit 2), or that nothing is (exit 0)', async () => {
    const nowhere = folder('nowhere');
    const nothing = await runCli(['resume'], { env: bed.env, cwd: nowhere });
    expect(nothing.code, nothing.stderr).toBe(0);
    expect(nothing.stderr.trim()).toBe(`lakeup: nothing to resume: no pending uploads in ${bed.stateDir}`);

    const elsewhere = folder('pending-elsewhere');
    const file = await makeFile(path.join(elsewhere, 'p.bin'), 24 * MiB, 25);
    const child = startCli(['put', 'p.bin', '-p', 'memorylake', '--limit-rate', '4MiB/s'], { env: bed.env, cwd: elsewhere });
    await waitFor('a saved part', doneParts(1));
    child.kill('SIGKILL');
    await child.result;
    const r = await runCli(['resume'], { env: bed.env, cwd: nowhere });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `lakeup: error: no pending upload was started from ${nowhere}; 1 was started elsewhere: name it (see \`lakeup list\`) or pass --all`,
    ]);
    expect(readStates(bed.stateDir).map((s) => (s as SavedState & { file: { path: string } }).file.path)).toEqual([file]);
  });

  it('after --state-dir, the interrupt message names the state folder in the command it gives', async () => {
    const here = folder('own-state');
    const own = path.join(here, 'my state');
    await makeFile(path.join(here, 's.bin'), 24 * MiB, 26);
    const { LAKEUP_STATE_DIR: _, ...env } = bed.env;
    const child = startCli(['put', 's.bin', '-p', 'memorylake', '--limit-rate', '4MiB/s', '--state-dir', own], { env, cwd: here });
    await waitFor('a saved part', () => fs.existsSync(own) && readStates(own).some((s) => s.done.length > 0));
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(`(or \`lakeup resume --state-dir "${own}"\`)`);
    const resumed = await runCli(['resume', '--state-dir', own], { env, cwd: here });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readStates(own)).toEqual([]);
  });
});

describe('edges of interruption and state', () => {
  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('a second Ctrl-C exits at once with 130 and leaves a readable state file', async () => {
    const file = await makeFile(path.join(bed.work, 'twice.bin'), 16 * MiB, 13);
    const child = startCli(['put', file, '-p', 'memorylake', '--limit-rate', '4MiB/s'], { env: bed.env });
    await waitFor('1 finished part', doneParts(1));
    child.kill('SIGINT');
    child.kill('SIGINT');
    const r = await child.result;
    expect(r.code).toBe(130);
    const states = readStates(bed.stateDir);
    expect(states).toHaveLength(1);
    expect(states[0].done.length).toBeGreaterThanOrEqual(1);
  });

  it('a state folder that cannot be written is one clear line and exit 2, before any byte is sent', async () => {
    const file = await makeFile(path.join(bed.work, 'nostate.bin'), 1000, 14);
    const blocker = path.join(bed.work, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const puts = bed.sb.stats().totalPartPuts;
    const r = await runCli(['put', file, '-p', 'memorylake', '--state-dir', path.join(blocker, 'state')], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^lakeup: error: cannot write to the state folder .*a-file.* \(not a directory\): the upload stopped — fix it or choose another folder with --state-dir or LAKEUP_STATE_DIR, and run the same command again$/);
    expect(bed.sb.stats().totalPartPuts).toBe(puts);
  });
});
