// A state folder that fills up or turns read-only during an upload: lakeup stops starting work the
// moment what must be recorded cannot be (no new file, no new part; the parts in flight are
// stopped), says so in one line (exit 2), and after the folder is writable again the same command
// sends the rest and no file twice. The state folder is a small tmpfs that only the CLI sees (a
// mount namespace of its own, test/helpers/private-tmpfs.ts), filled or remounted read-only at a
// moment the API tap observes: the test's process, which serves the sandbox, does it before
// answering anything more.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TapCall } from '../helpers/api-tap.mjs';
import { runCli, type CliResult } from '../helpers/cli.js';
import { makeFile, sha256File } from '../helpers/files.js';
import { STACK_TRACE } from '../helpers/outcome.js';
import { privateTmpfsUnavailable, startPrivateTmpfs, type PrivateTmpfs } from '../helpers/private-tmpfs.js';
import { drivePath } from '../helpers/sandbox.js';
import { useTappedSandboxBed } from '../helpers/sandbox-bed.js';

const KiB = 1024;
const PART = 64 * KiB;
const bed = useTappedSandboxBed({ memorylakePartSize: PART });
const unavailable = privateTmpfsUnavailable();
/** The most parts in flight at once under the default --concurrency auto (AUTO_MAX in limiter.ts). */
const MAX_PARTS_IN_FLIGHT = 64;
/** The default --jobs: the most files in flight at once. */
const JOBS = 16;

let disk: PrivateTmpfs | undefined;
afterEach(() => {
  disk?.close();
  disk = undefined;
});

/** A private tmpfs as the state folder; skips the test where one cannot be mounted. */
async function stateDisk(name: string, skip: (why: string) => void): Promise<PrivateTmpfs> {
  disk = await startPrivateTmpfs(path.join(bed.work, name), '4m');
  if (!disk) skip('mount -t tmpfs failed in a mount namespace of its own');
  return disk!;
}

async function makeFiles(name: string, n: number, size: number): Promise<{ root: string; files: string[] }> {
  const root = path.join(bed.work, name);
  fs.mkdirSync(root, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) files.push(await makeFile(path.join(root, `f${String(i).padStart(2, '0')}.bin`), size, i + 1));
  return { root, files };
}

/** Runs the CLI with the state folder on `d`; `on` hears of calls at the tap as they come ('request') or are answered. */
async function runOn(d: PrivateTmpfs, args: string[], on?: { event: 'request' | 'answered'; call: (c: TapCall) => void }): Promise<CliResult> {
  const call = (c: TapCall) => on?.call(c);
  if (on) bed.tap.events.on(on.event, call);
  try {
    return await runCli(args, { env: { ...bed.env, LAKEUP_STATE_DIR: d.dir }, wrap: d.wrap(bed.work) });
  } finally {
    if (on) bed.tap.events.off(on.event, call);
  }
}

/** What stderr says besides the files that went (`…: done, …`) and the folders made: notices, errors, the summary. */
function saidBesides(stderr: string): string[] {
  return stderr.split(/\r?\n/).filter((l) => l !== '' && !/^lakeup: (created folder |.*: done, )/.test(l));
}

/** A finalize the server carried out (2xx). */
const madeFile = (c: TapCall) => c.moment === 'finalize' && c.status !== undefined && c.status < 300;

/** Every file is in the drive exactly once under its own name, byte-exact (a second upload would be a renamed copy or a second finalize). */
async function expectEachOnce(root: string, files: string[]): Promise<void> {
  const prefix = `${path.basename(root)}/`;
  const stored = bed.sb
    .stats()
    .finalized.filter((f) => f.provider === 'memorylake' && drivePath(bed.sb, f).startsWith(prefix))
    .map((f) => drivePath(bed.sb, f))
    .sort();
  expect(stored).toEqual(files.map((f) => prefix + path.basename(f)).sort());
  const listing = fs.readdirSync(path.join(bed.sb.dir, 'memorylake', path.basename(root))).sort();
  expect(listing).toEqual(files.map((f) => path.basename(f)).sort());
  for (const f of files) expect(await sha256File(path.join(bed.sb.dir, 'memorylake', path.basename(root), path.basename(f))), f).toBe(await sha256File(f));
}

/** Lock files left empty in the state folder (each would hold the next lakeup back for seconds). */
function emptyLocks(d: PrivateTmpfs): string[] {
  return fs.readdirSync(d.outside).filter((n) => n.endsWith('.lock') && fs.statSync(path.join(d.outside, n)).size === 0);
}

describe.skipIf(unavailable)('a state folder that cannot be written', () => {
  it('fills after 10 of 60 files: no new part or file, one line (exit 2); after space is freed the rerun sends every file once', async (ctx) => {
    const d = await stateDisk('disk-run', (why) => ctx.skip(why));
    // 60 files of 16 parts each: every file in flight has parts left to send when the disk fills.
    const { root, files } = await makeFiles('full-run', 60, 16 * PART);
    const args = ['put', root, '-r', '-p', 'memorylake'];
    let finalized = 0;
    let atFill: { part: number; session: number } | undefined;
    const first = await runOn(d, args, {
      event: 'answered',
      call: (c) => {
        if (!madeFile(c) || ++finalized !== 10) return;
        // Ten files are in the drive: the disk fills before the tap answers anything more.
        d.fill();
        atFill = { part: bed.tap.counts().part ?? 0, session: bed.tap.counts().session ?? 0 };
      },
    });
    expect(atFill, 'the disk was filled').toBeDefined();
    expect(first.code, first.stderr).toBe(2);
    const lines = saidBesides(first.stderr);
    expect(lines, first.stderr).toEqual([
      expect.stringMatching(
        new RegExp(`^lakeup: error: cannot write to the state folder ${d.dir} \\(no space left on device\\): stopped; \\d+ of 60 files not sent — free space and run the same command again$`),
      ),
    ]);
    expect(first.stderr).not.toMatch(STACK_TRACE);
    // What it says was not sent is what is not in the drive.
    const inDrive = bed.sb.stats().finalized.filter((f) => drivePath(bed.sb, f).startsWith('full-run/')).length;
    expect(Number(/(\d+) of 60 files not sent/.exec(lines[0])![1])).toBe(60 - inDrive);
    // It stopped at once: the parts sent after the disk filled are at most one round of the part
    // slots (the files in flight had ~16 × 16 parts left), and no file started after it.
    const counts = bed.tap.counts();
    expect((counts.part ?? 0) - atFill!.part).toBeLessThanOrEqual(MAX_PARTS_IN_FLIGHT);
    expect((counts.session ?? 0) - atFill!.session).toBeLessThanOrEqual(JOBS);
    expect(inDrive).toBeLessThan(10 + JOBS);
    expect(emptyLocks(d)).toEqual([]);

    d.free();
    const again = await runOn(d, args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lakeup: 60 files: \d+ uploaded, \d+ already uploaded/);
    await expectEachOnce(root, files);
  });

  it('a single file: the first part that cannot be recorded stops the upload (no more parts), one line, exit 2; the rerun finishes it', async (ctx) => {
    const d = await stateDisk('disk-one', (why) => ctx.skip(why));
    const { root, files } = await makeFiles('full-one', 1, 128 * PART);
    const args = ['put', files[0], '-p', 'memorylake', '--parent', bed.sb.seed([{ provider: 'memorylake', type: 'folder', name: 'full-one' }])[0].id];
    let filled = false;
    let atFill = 0;
    const first = await runOn(d, args, {
      event: 'request',
      call: (c) => {
        if (c.moment !== 'part' || filled) return;
        // Its state is written and its parts are on their way: the disk fills before any is answered.
        d.fill();
        filled = true;
        atFill = bed.tap.counts().part ?? 0;
      },
    });
    expect(filled).toBe(true);
    expect(first.code, first.stderr).toBe(2);
    expect(first.stderr.trim().split('\n'), first.stderr).toEqual([
      `lakeup: error: cannot write to the state folder ${d.dir} (no space left on device): the upload stopped — free space and run the same command again`,
    ]);
    // It did not send the file's 128 parts before failing: at most one round of the part slots.
    expect(bed.tap.counts().part! - atFill).toBeLessThanOrEqual(MAX_PARTS_IN_FLIGHT);
    expect(bed.sb.stats().finalized.filter((f) => drivePath(bed.sb, f).startsWith('full-one/'))).toEqual([]);

    d.free();
    const again = await runOn(d, args);
    expect(again.code, again.stderr).toBe(0);
    await expectEachOnce(root, files);
  });

  it('read-only when the same command runs again: one line (exit 2), nothing asked of the API; writable again, every file once', async (ctx) => {
    const d = await stateDisk('disk-ro', (why) => ctx.skip(why));
    const { root, files } = await makeFiles('ro-run', 20, 4 * PART);
    const args = ['put', root, '-r', '-p', 'memorylake'];
    let finalized = 0;
    // A first attempt cut short by a full disk leaves its journal and states behind.
    const first = await runOn(d, args, { event: 'answered', call: (c) => madeFile(c) && ++finalized === 3 && d.fill() });
    expect(first.code, first.stderr).toBe(2);
    d.free();
    d.remount('ro');
    const calls = bed.tap.counts();
    const ro = await runOn(d, args);
    expect(ro.code, ro.stderr).toBe(2);
    expect(saidBesides(ro.stderr), ro.stderr).toEqual([
      `lakeup: error: cannot write to the state folder ${d.dir} (read-only file system): stopped; 20 of 20 files not sent — make it writable and run the same command again`,
    ]);
    expect(bed.tap.counts()).toEqual(calls);

    d.remount('rw');
    const again = await runOn(d, args);
    expect(again.code, again.stderr).toBe(0);
    await expectEachOnce(root, files);
  });

  it('a single file with a read-only state folder: one line, exit 2, nothing sent', async (ctx) => {
    const d = await stateDisk('disk-ro-one', (why) => ctx.skip(why));
    const { files } = await makeFiles('ro-one', 1, 4 * PART);
    d.remount('ro');
    const calls = bed.tap.counts();
    const r = await runOn(d, ['put', files[0], '-p', 'memorylake']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `lakeup: error: cannot write to the state folder ${d.dir} (read-only file system): the upload stopped — make it writable and run the same command again`,
    ]);
    // At most the look in the drive a single file makes before anything else (is it there already?):
    // no session, no part, no finalize.
    const after = bed.tap.counts();
    expect({ ...after, lookup: calls.lookup }).toEqual(calls);
    expect((after.lookup ?? 0) - (calls.lookup ?? 0)).toBeLessThanOrEqual(1);
  });
});
