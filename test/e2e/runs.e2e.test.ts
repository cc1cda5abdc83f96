// Runs of several files end to end: interrupted by SIGINT and SIGKILL at several points and run
// again, a failing file fixed and run again, a changed file, bad journals, list/abort of runs.
// Every file must end up in the drive exactly once, byte-exact, and no folder twice.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../src/state/ledger.js';
import { startApiTap, type TapCall } from '../helpers/api-tap.mjs';
import { jsonLines, killWhenAppears, runCli, startCli } from '../helpers/cli.js';
import { drivePath } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';
import { makeFile, sha256File } from '../helpers/files.js';

const KiB = 1024;
const MiB = 1024 * KiB;
// Small MemoryLake parts so that the bigger files of a tree take several parts (and a state file).
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB, faults: { latencyMs: 3 } });

/** A tree of `n` small files in two sub-folders plus `big` files of 3 MiB (three parts each). */
async function makeTree(name: string, n: number, big = 0): Promise<{ root: string; files: string[] }> {
  const root = path.join(bed.work, name);
  fs.mkdirSync(path.join(root, 'a'), { recursive: true });
  fs.mkdirSync(path.join(root, 'b', 'c'), { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = i % 3 === 0 ? root : i % 3 === 1 ? path.join(root, 'a') : path.join(root, 'b', 'c');
    files.push(await makeFile(path.join(dir, `f${i}.txt`), 1 + ((i * 977) % (16 * KiB)), i + 1));
  }
  for (let i = 0; i < big; i++) files.push(await makeFile(path.join(root, 'a', `big${i}.bin`), 3 * MiB, 1000 + i));
  return { root, files };
}

/** Every file of the tree is in the drive exactly once under its own path, byte-exact; no folder twice. */
async function expectExactlyOnce(provider: 'memorylake' | 'copera', root: string, files: string[]): Promise<void> {
  const prefix = `${path.basename(root)}/`;
  const finalized = bed.sb.stats().finalized.filter((f) => f.provider === provider && f.path && drivePath(bed.sb, f).startsWith(prefix));
  const byPath = new Map<string, number>();
  for (const f of finalized) byPath.set(drivePath(bed.sb, f), (byPath.get(drivePath(bed.sb, f)) ?? 0) + 1);
  const expected = files.map((f) => path.relative(path.dirname(root), f).split(path.sep).join('/')).sort();
  // Nothing renamed (f12_1.txt) and nothing missing: the stored paths are exactly the files' paths, once each.
  expect([...byPath.keys()].sort()).toEqual(expected);
  for (const [p, count] of byPath) expect(count, p).toBe(1);
  for (const f of files) {
    const stored = path.join(bed.sb.dir, provider, path.relative(path.dirname(root), f));
    expect(await sha256File(stored), f).toBe(await sha256File(f));
  }
  const folders = bed.sb.stats().foldersCreated.filter((x) => x.provider === provider);
  const names = folders.map((x) => `${x.parentId ?? ''}/${x.name}`);
  expect(new Set(names).size, 'a folder created twice').toBe(names.length);
  expect(folders.some((x) => /_\d+$| \(\d+\)$/.test(x.name)), 'a renamed folder').toBe(false);
}

function journalFiles(): string[] {
  return fs.existsSync(bed.stateDir) ? fs.readdirSync(bed.stateDir).filter((n) => n.endsWith('.run.ndjson')) : [];
}

/** How many files the run's journal records as finished (what an observer can see of a run's progress). */
function journalDone(): number {
  const [j] = journalFiles();
  if (!j) return 0;
  return fs.readFileSync(path.join(bed.stateDir, j), 'utf8').split('\n').filter((l) => l.startsWith('{"t":"done"')).length;
}



describe('a run of many files resumes as a whole', () => {
  // Windows ends a child on kill('SIGINT') without running its handlers: Ctrl-C there is tested by hand.
  it.skipIf(process.platform === 'win32')('SIGINT, then the same command: every file once, finished ones skipped with their ids, the journal gone', async () => {
    const { root, files } = await makeTree('tree-int', 60, 2);
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '2', '--json'];
    const child = startCli(args, { env: bed.env });
    await waitFor('some files to finish', () => journalDone() >= 10);
    child.kill('SIGINT');
    const first = await child.result;
    expect(first.code, first.stderr).toBe(130);
    const firstDone = jsonLines(first).filter((l) => l.ok === true);
    expect(firstDone.length).toBeGreaterThanOrEqual(10);

    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const lines = jsonLines(again);
    const skipped = lines.filter((l) => l.skipped === true);
    // Every file the first run reported is skipped, with the id and name it got then.
    for (const d of firstDone) {
      const s = skipped.find((l) => l.file === d.file);
      expect(s, String(d.file)).toMatchObject({ ok: true, skipped: true, reason: 'already-uploaded', id: d.id, name: d.name });
    }
    expect(lines.filter((l) => l.ok === true)).toHaveLength(files.length);
    expect(again.stderr).toMatch(new RegExp(`lakeup: ${files.length} files: \\d+ uploaded, ${skipped.length} already uploaded`));
    await expectExactlyOnce('memorylake', root, files);
    expect(journalFiles()).toEqual([]);
  });

  it('SIGKILL at several points, then the same command: every file once, no folder twice', async () => {
    const { root, files } = await makeTree('tree-kill', 45, 3);
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '3', '--json'];
    let killed = 0;
    for (const after of [1, 12, 30]) {
      const child = startCli(args, { env: bed.env });
      await waitFor(`${after} files to finish`, () => journalDone() >= after || child.exitCode !== null);
      child.kill('SIGKILL');
      if ((await child.result).signal === 'SIGKILL') killed++;
    }
    expect(killed, 'runs killed before they finished').toBeGreaterThanOrEqual(2);
    const last = await runCli(args, { env: bed.env });
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).not.toMatch(/\n\s+at /);
    await expectExactlyOnce('memorylake', root, files);
    expect(journalFiles()).toEqual([]);
    // No state, lock or temp file left behind.
    const left = fs.readdirSync(bed.stateDir).filter((n) => !n.startsWith('.') && n !== LEDGER_FILE);
    expect(left, left.join(' ')).toEqual([]);
  });

  it('a file that failed is the only one sent when the fixed run goes again', async () => {
    const { root, files } = await makeTree('tree-fail', 9);
    // The first file's upload session is refused (400): that file fails, the others go on.
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'bad name', error_code: 'INVALID_ARGUMENT' }, times: 1 });
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--json'];
    const first = await runCli(args, { env: bed.env });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/lakeup: 9 files: 8 uploaded, 1 failed/);
    expect(journalFiles()).toHaveLength(1); // kept: the run is not complete

    const sessions = bed.sb.stats().sessions;
    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lakeup: 9 files: 1 uploaded, 8 already uploaded/);
    expect(bed.sb.stats().sessions - sessions).toBe(1);
    await expectExactlyOnce('memorylake', root, files);
  });

  it('a file changed since the interrupted run is uploaded again; --no-resume ignores the journal', async () => {
    const { root, files } = await makeTree('tree-change', 6);
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'no', error_code: 'INVALID_ARGUMENT' }, times: 1 });
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--json'];
    const first = await runCli(args, { env: bed.env });
    expect(first.code).toBe(1);
    const done = jsonLines(first).filter((l) => l.ok === true);
    const changed = done[0].file as string;
    fs.appendFileSync(changed, 'more');

    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const lines = jsonLines(again);
    const line = lines.find((l) => l.file === changed)!;
    expect(line.skipped).toBeUndefined();
    expect(line.id).not.toBe(done[0].id);
    expect(lines.filter((l) => l.skipped === true)).toHaveLength(done.length - 1);

    const fresh = await runCli([...args, '--no-resume', '--again'], { env: bed.env });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(jsonLines(fresh).filter((l) => l.skipped === true)).toHaveLength(0);
    expect(files.length).toBe(6);
  });

  it('a journal that is damaged or belongs to another run is set aside with a notice, never a crash', async () => {
    const { root } = await makeTree('tree-bad-journal', 4);
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'no', error_code: 'INVALID_ARGUMENT' }, times: 1 });
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--json'];
    expect((await runCli(args, { env: bed.env })).code).toBe(1);
    const [journal] = journalFiles();
    const file = path.join(bed.stateDir, journal);
    // Another run's header where this run's journal is.
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const header = JSON.parse(lines[0]);
    lines[0] = JSON.stringify({ ...header, sources: ['/somewhere/else'] });
    fs.writeFileSync(file, lines.join('\n'));
    const r = await runCli(args, { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lakeup: ignoring the journal of an earlier run because it belongs to another run \(moved to .*\.invalid-\d+\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a damaged line costs only its own record: the other finished files stay skipped', async () => {
    const { root } = await makeTree('tree-damaged', 5);
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'no', error_code: 'INVALID_ARGUMENT' }, times: 1 });
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--json'];
    expect((await runCli(args, { env: bed.env })).code).toBe(1);
    const file = path.join(bed.stateDir, journalFiles()[0]);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.replace(/\n/, '\n{"t":"done", broken\n'));
    const r = await runCli(args, { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 unreadable line\(s\) of the run journal .* were skipped/);
    expect(r.stderr).toMatch(/5 files: 1 uploaded, 4 already uploaded/);
  });

  it('lakeup list shows a pending run and lakeup abort forgets it', async () => {
    const { root } = await makeTree('tree-list', 3);
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'no', error_code: 'INVALID_ARGUMENT' }, times: 1 });
    expect((await runCli(['put', root, '-r', '-p', 'memorylake', '-j', '1'], { env: bed.env })).code).toBe(1);
    const list = await runCli(['list', '--json'], { env: bed.env });
    const runs = (JSON.parse(list.stdout) as { runs: Array<{ id: string; finished: number; sources: string[] }> }).runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ finished: 2, sources: [path.resolve(root)] });
    const human = await runCli(['list'], { env: bed.env });
    expect(human.stdout).toMatch(new RegExp(`^RUN +PROVIDER +DONE +UPDATED +SOURCES\\n${runs[0].id}  memorylake +2 file\\(s\\) done`));
    const abort = await runCli(['abort', runs[0].id.slice(0, 6)], { env: bed.env });
    expect(abort.code, abort.stderr).toBe(0);
    expect(abort.stderr).toMatch(/lakeup: forgot run/);
    expect(journalFiles()).toEqual([]);
  });

  it('lakeup resume --all, or resuming the big file alone, finishes a run without sending a file twice', async () => {
    for (const how of ['all', 'state-then-run'] as const) {
      const { root, files } = await makeTree(`tree-resume-${how}`, 4, 1);
      const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--limit-rate', '2MiB/s', '--json'];
      const child = startCli(args, { env: bed.env });
      // Wait until the big file has a state of its own with a part done, then kill the run.
      await waitFor('the big file to be part-sent', () =>
        fs.readdirSync(bed.stateDir).some((n) => /^[0-9a-f]{16}\.json$/.test(n) && JSON.parse(fs.readFileSync(path.join(bed.stateDir, n), 'utf8')).done?.length > 0),
      );
      child.kill('SIGKILL');
      await child.result;
      if (how === 'all') {
        const r = await runCli(['resume', '--all', '--json'], { env: bed.env });
        expect(r.code, r.stderr).toBe(0);
      } else {
        const list = JSON.parse((await runCli(['list', '--json'], { env: bed.env })).stdout) as { uploads: Array<{ id: string }> };
        expect(list.uploads).toHaveLength(1);
        const one = await runCli(['resume', list.uploads[0].id, '--json'], { env: bed.env });
        expect(one.code, one.stderr).toBe(0);
        const again = await runCli(args.filter((a) => a !== '--limit-rate' && a !== '2MiB/s'), { env: bed.env });
        expect(again.code, again.stderr).toBe(0);
      }
      await expectExactlyOnce('memorylake', root, files);
      expect(journalFiles()).toEqual([]);
    }
  });

  it('lakeup resume <run> replays what the command said: --skip-existing', async () => {
    const { root } = await makeTree('tree-replay', 3);
    // One of the files is in the drive already (seeded): the run skips it.
    const [top] = bed.sb.seed([{ provider: 'memorylake', type: 'folder', name: 'tree-replay' }]);
    bed.sb.seed([{ provider: 'memorylake', type: 'file', name: 'f0.txt', parentId: top.id, size: 1 }]);
    bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'no', error_code: 'INVALID_ARGUMENT' }, times: 1 });
    const first = await runCli(['put', root, '-r', '-p', 'memorylake', '-j', '1', '--skip-existing', '--json'], { env: bed.env });
    expect(first.code).toBe(1);
    const list = JSON.parse((await runCli(['list', '--json'], { env: bed.env })).stdout) as { runs: Array<{ id: string }> };
    const r = await runCli(['resume', list.runs[0].id, '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r);
    expect(lines.find((l) => String(l.file).endsWith('f0.txt'))).toMatchObject({ skipped: true, reason: 'exists' });
    expect(bed.sb.stats().finalized.filter((f) => f.name === 'f0_1.txt' && f.parentId === top.id)).toEqual([]);
  });

  it('a folder without --recursive is one line and exit 2', async () => {
    const { root } = await makeTree('tree-norec', 1);
    const r = await runCli(['put', root, '-p', 'memorylake'], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/is a directory \(use --recursive/);
  });
});

describe('a run and a resume of one of its files at the same time', () => {
  it('the run does not send again a big file that `lakeup resume <id>` finished while the run was going', async () => {
    const tap = await startApiTap(bed.sb.origin);
    try {
      const root = path.join(bed.work, 'resumed-aside');
      fs.mkdirSync(root, { recursive: true });
      const files = [await makeFile(path.join(root, 'a.txt'), 700, 61), await makeFile(path.join(root, 'big.bin'), 3 * MiB, 62)];
      const tapped = { ...bed.env, LAKEUP_ENDPOINT: tap.origin };
      const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--json'];
      // First run: a.txt is refused (so the rerun has it to send first); killed once big.bin keeps a state.
      bed.sb.script({ route: 'memorylake.create', status: 400, body: { success: false, message: 'try later', error_code: 'INVALID_ARGUMENT' } });
      const { seen: stateFile } = await killWhenAppears(args, { env: tapped }, bed.stateDir, /^[0-9a-f]{16}\.json$/);
      expect(stateFile, 'big.bin kept a state of the run').not.toBe('');

      // The rerun of the run is held at a.txt's session; meanwhile big.bin is resumed on its own.
      let open!: () => void;
      tap.slow('session', { until: new Promise<void>((r) => (open = r)) });
      const atSession = new Promise<void>((resolve) => {
        const l = (c: TapCall) => {
          if (c.moment !== 'session') return;
          tap.events.off('request', l);
          resolve();
        };
        tap.events.on('request', l);
      });
      const rerun = startCli(args, { env: tapped });
      await atSession;
      const aside = await runCli(['resume', stateFile.slice(0, 16), '--json'], { env: tapped });
      expect(aside.code, aside.stderr).toBe(0);
      open();
      const r = await rerun.result;
      expect(r.code, r.stderr).toBe(0);
      await expectExactlyOnce('memorylake', root, files);
      expect(fs.readdirSync(bed.stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
    } finally {
      await tap.close();
    }
  });
});

describe('a big file of a run, changed, then resumed on its own', () => {
  it('the run hears of it and does not send it again', async () => {
    const root = path.join(bed.work, 'changed-aside');
    fs.mkdirSync(root, { recursive: true });
    const files = [await makeFile(path.join(root, 'a.txt'), 900, 71), await makeFile(path.join(root, 'big.bin'), 3 * MiB, 72)];
    const args = ['put', root, '-r', '-p', 'memorylake', '-j', '1', '--json'];
    const { seen: stateFile } = await killWhenAppears(args, { env: bed.env }, bed.stateDir, /^[0-9a-f]{16}\.json$/);
    expect(stateFile, 'big.bin kept a state of the run').not.toBe('');

    await makeFile(files[1], 3 * MiB, 73); // new content, same size, a new mtime
    fs.utimesSync(files[1], new Date(), new Date(Date.now() + 5_000));
    const aside = await runCli(['resume', stateFile.slice(0, 16), '--json'], { env: bed.env });
    expect(aside.code, aside.stderr).toBe(0);
    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    await expectExactlyOnce('memorylake', root, files);
    expect(fs.readdirSync(bed.stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
  });
});
