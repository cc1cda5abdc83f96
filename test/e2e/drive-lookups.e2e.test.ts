// What is already in the drive, end to end over real sockets: a finalize cut off by a kill is
// resolved by looking the item up, --skip-existing, folders found before they are made, --shard,
// and listings of big folders on both providers.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_FILE } from '../../src/state/ledger.js';
import { createProvider } from '../../src/providers/index.js';
import { jsonLines, runCli, startCli } from '../helpers/cli.js';
import { startGateProxy } from '../helpers/gate-proxy.js';
import { drivePath } from '../helpers/sandbox.js';
import { useSandboxBed } from '../helpers/sandbox-bed.js';
import { waitFor } from '../helpers/wait.js';
import { makeFile, sha256File } from '../helpers/files.js';

const MiB = 1024 * 1024;
const bed = useSandboxBed({ memorylakePartSize: 1 * MiB });

type Provider = 'memorylake' | 'copera';
const FINALIZE: Record<Provider, 'memorylake.item' | 'copera.finalize'> = { memorylake: 'memorylake.item', copera: 'copera.finalize' };



/** Items of this provider finalized under exactly this name. */
function storedNamed(provider: Provider, name: string) {
  return bed.sb.stats().finalized.filter((f) => f.provider === provider && f.name === name);
}

/** Items of this provider finalized under this name or a renamed form of it (name_1, name (1)). */
function storedLike(provider: Provider, name: string) {
  const dot = name.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  const re = new RegExp(`^${escape(base)}(_\\d+| \\(\\d+\\))?${escape(ext)}$`);
  return bed.sb.stats().finalized.filter((f) => f.provider === provider && re.test(f.name));
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.each(['memorylake', 'copera'] as const)('a finalize cut off by a kill (%s)', (provider) => {
  it('took effect: the rerun finds the item, reports it recovered and exits 0; the file is in the drive once', async () => {
    const name = `cut-after-${provider}.bin`;
    const file = await makeFile(path.join(bed.work, name), provider === 'copera' ? 12 * MiB : 3 * MiB, 7);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: FINALIZE[provider], when: 'after' });
    const child = startCli(['put', file, '-p', provider, '--json'], { env: bed.env });
    await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;
    expect(storedNamed(provider, name)).toHaveLength(1); // the server did make it

    const again = await runCli(['put', file, '-p', provider, '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const line = jsonLines(again).pop()!;
    expect(line).toMatchObject({ ok: true, recovered: true, name, id: storedNamed(provider, name)[0].id });
    expect(storedLike(provider, name)).toHaveLength(1);
    expect(fs.readdirSync(bed.stateDir).filter((n) => !n.startsWith('.') && n !== LEDGER_FILE)).toEqual([]);
  });

  it('never reached the server: the rerun says so in one line and the file ends up in the drive once', async () => {
    const name = `cut-before-${provider}.bin`;
    const file = await makeFile(path.join(bed.work, name), provider === 'copera' ? 12 * MiB : 3 * MiB, 8);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: FINALIZE[provider], when: 'before' });
    const child = startCli(['put', file, '-p', provider, '--json'], { env: bed.env });
    await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;
    expect(storedLike(provider, name)).toHaveLength(0);

    const again = await runCli(['put', file, '-p', provider, '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/the finalize an earlier run sent did not make the file \(it is not in the drive\)/);
    expect(jsonLines(again).pop()).toMatchObject({ ok: true, name });
    expect(storedLike(provider, name)).toHaveLength(1);
    expect(await sha256File(storedNamed(provider, name)[0].path!)).toBe(await sha256File(file));
  });

  it('in a run of small files (no state file of their own), the journal resolves it the same way', async () => {
    const root = path.join(bed.work, `cut-run-${provider}`);
    fs.mkdirSync(root, { recursive: true });
    const files = [await makeFile(path.join(root, 'one.txt'), 1000, 1), await makeFile(path.join(root, 'two.txt'), 2000, 2)];
    // The folder exists already: the held call is the first file's finalize (MemoryLake makes
    // folders through the same route as files).
    bed.sb.seed([{ provider, type: 'folder', name: `cut-run-${provider}` }]);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: FINALIZE[provider], when: 'after' });
    const args = ['put', root, '-r', '-p', provider, '-j', '1', '--json'];
    const child = startCli(args, { env: bed.env });
    await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;

    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const lines = jsonLines(again);
    expect(lines.filter((l) => l.recovered === true)).toHaveLength(1);
    for (const f of files) expect(storedLike(provider, path.basename(f)).filter((x) => x.path?.includes(`cut-run-${provider}`))).toHaveLength(1);
  });
});

describe('a cut-off finalize is matched only to the item it made', () => {
  it("Copera: a stranger's file of the same name and size from a minute before is not taken for ours", async () => {
    const name = 'stranger.bin';
    const file = await makeFile(path.join(bed.work, name), 5000, 21);
    bed.sb.seed([{ provider: 'copera', type: 'file', name, size: 5000, createdAt: new Date(Date.now() - 60_000).toISOString() }]);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: 'copera.finalize', when: 'before' });
    const child = startCli(['put', file, '-p', 'copera', '--json'], { env: bed.env });
    await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;
    const again = await runCli(['put', file, '-p', 'copera', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    const line = jsonLines(again).pop()!;
    expect(line.recovered).toBeUndefined();
    expect(line.name).toBe('stranger (1).bin'); // really uploaded, beside the stranger's file
  });

  it("Copera: a file named like our renamed form, made after the cut, is not ours when our name was never taken", async () => {
    // report.pdf and 'report (1).pdf' side by side (a download saved twice): same size, other bytes.
    const dir = path.join(bed.work, 'twins');
    fs.mkdirSync(dir, { recursive: true });
    const file = await makeFile(path.join(dir, 'twin.pdf'), 5000, 23);
    const twin = await makeFile(path.join(dir, 'twin (1).pdf'), 5000, 24);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: 'copera.finalize', when: 'before' }); // never reaches the drive
    const child = startCli(['put', file, '-p', 'copera', '--json'], { env: bed.env });
    await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;
    const other = await runCli(['put', twin, '-p', 'copera', '--json'], { env: bed.env });
    expect(other.code, other.stderr).toBe(0);

    const again = await runCli(['put', file, '-p', 'copera', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    // Copera renames only a taken name, and twin.pdf never was: 'twin (1).pdf' is the other file.
    expect(jsonLines(again).pop()).toMatchObject({ ok: true, name: 'twin.pdf' });
    expect(jsonLines(again).pop()!.recovered).toBeUndefined();
    expect(await sha256File(storedNamed('copera', 'twin.pdf')[0].path!)).toBe(await sha256File(file));
  });

  it('MemoryLake --on-conflict overwrite: the item keeps its old created_at, and its ETag proves it is ours', async () => {
    const name = 'overwritten.bin';
    const file = await makeFile(path.join(bed.work, name), 3 * MiB, 22);
    bed.sb.seed([{ provider: 'memorylake', type: 'file', name, size: 3 * MiB, createdAt: new Date(Date.now() - 600_000).toISOString() }]);
    const held = bed.sb.stats().held;
    const sessions = bed.sb.stats().sessions;
    bed.sb.hold({ route: 'memorylake.item', when: 'after' });
    const child = startCli(['put', file, '-p', 'memorylake', '--on-conflict', 'overwrite', '--json'], { env: bed.env });
    await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;
    const again = await runCli(['put', file, '-p', 'memorylake', '--on-conflict', 'overwrite', '--json'], { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(jsonLines(again).pop()).toMatchObject({ ok: true, recovered: true, name });
    expect(bed.sb.stats().sessions - sessions).toBe(1); // nothing sent again
  });
});

describe('--skip-existing, folders found before made, --shard', () => {
  async function tree(name: string, n: number): Promise<{ root: string; files: string[] }> {
    const root = path.join(bed.work, name);
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const files: string[] = [];
    for (let i = 0; i < n; i++) files.push(await makeFile(path.join(root, i % 2 ? 'sub' : '', `f${i}.txt`), 100 + i * 37, i + 1));
    return { root, files };
  }

  function inDrive(provider: Provider, root: string): string[] {
    const prefix = `${path.basename(root)}/`;
    return bed.sb
      .stats()
      .finalized.filter((f) => f.provider === provider && f.path && drivePath(bed.sb, f).startsWith(prefix))
      .map((f) => drivePath(bed.sb, f))
      .sort();
  }

  const expected = (root: string, files: string[]) => files.map((f) => path.relative(path.dirname(root), f).split(path.sep).join('/')).sort();

  it.each(['memorylake', 'copera'] as const)('a second run on a fresh machine uploads nothing; a partly present tree only what is missing (%s)', async (provider) => {
    const { root, files } = await tree(`skip-${provider}`, 10);
    // Shard 1 of 2 first: part of the tree is in the drive.
    const part = await runCli(['put', root, '-r', '-p', provider, '--shard', '1/2', '--json'], { env: bed.env });
    expect(part.code, part.stderr).toBe(0);
    const firstCount = jsonLines(part).length;
    expect(firstCount).toBeGreaterThan(0);
    expect(firstCount).toBeLessThan(10);
    const folders = bed.sb.stats().foldersCreated.length;

    // A fresh machine: a new state folder, --skip-existing.
    const fresh = bed.newState('state-fresh-').env;
    const rest = await runCli(['put', root, '-r', '-p', provider, '--skip-existing', '--json'], { env: fresh });
    expect(rest.code, rest.stderr).toBe(0);
    const lines = jsonLines(rest);
    expect(lines.filter((l) => l.skipped === true && l.reason === 'exists')).toHaveLength(firstCount);
    expect(lines.filter((l) => l.ok === true && !l.skipped)).toHaveLength(10 - firstCount);
    expect(inDrive(provider, root)).toEqual(expected(root, files));
    // The tree's folders were found, not made again: only folders the shard never needed are new.
    expect(bed.sb.stats().foldersCreated.filter((f) => f.provider === provider && /_\d+$| \(\d+\)$/.test(f.name))).toEqual([]);

    const all = await runCli(['put', root, '-r', '-p', provider, '--skip-existing', '--json'], {
      env: bed.newState('state-fresh-').env,
    });
    expect(all.code, all.stderr).toBe(0);
    expect(jsonLines(all).every((l) => l.skipped === true)).toBe(true);
    expect(bed.sb.stats().foldersCreated.length).toBeGreaterThanOrEqual(folders);
    expect(inDrive(provider, root)).toEqual(expected(root, files));
  });

  it('shards 1..3 of 3, one after the other on three machines, upload every file once and each folder once', async () => {
    const { root, files } = await tree('sharded', 24);
    let total = 0;
    for (const k of [1, 2, 3]) {
      const machine = bed.newState(`state-shard${k}-`).env;
      const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--shard', `${k}/3`, '--json'], { env: machine });
      expect(r.code, r.stderr).toBe(0);
      total += jsonLines(r).length;
    }
    expect(total).toBe(24);
    expect(inDrive('memorylake', root)).toEqual(expected(root, files));
    const made = bed.sb.stats().foldersCreated.filter((f) => f.provider === 'memorylake');
    const top = made.filter((f) => f.name === 'sharded' && f.parentId === null);
    expect(top).toHaveLength(1);
    expect(made.filter((f) => f.parentId === top[0].id).map((f) => f.name)).toEqual(['sub']);
  });

  it('Copera: two shards started together settle on one folder tree (Copera cannot refuse a duplicate name)', async () => {
    const { root, files } = await tree('together-cp', 12);
    // Both jobs' first call (looking for the folder) is held until both have made it, so both find
    // nothing and both create the folder: the race, every time.
    const gate = await startGateProxy(bed.sb.origin);
    try {
      const machines = [1, 2].map((k) => bed.envFor(bed.newState(`state-together${k}-`).stateDir, gate.origin));
      const running = [1, 2].map((k) => runCli(['put', root, '-r', '-p', 'copera', '--shard', `${k}/2`, '--json'], { env: machines[k - 1] }));
      await waitFor('both jobs to look for the folder', () => gate.held >= 2);
      gate.open();
      for (const r of await Promise.all(running)) expect(r.code, r.stderr).toBe(0);
    } finally {
      await gate.close();
    }
    // Every file is in the one tree named after the folder, whatever extra empty folder a race made.
    expect(inDrive('copera', root)).toEqual(expected(root, files));
  });

  it('an existing folder of that name is used on a first run too', async () => {
    const { root, files } = await tree('premade', 4);
    const [folder] = bed.sb.seed([{ provider: 'memorylake', type: 'folder', name: 'premade' }]);
    const r = await runCli(['put', root, '-r', '-p', 'memorylake', '--json'], { env: bed.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/created folder premade /);
    expect(bed.sb.stats().foldersCreated.filter((f) => f.name === 'premade')).toEqual([]);
    expect(bed.sb.stats().foldersCreated.filter((f) => f.name === 'sub' && f.parentId === folder.id)).toHaveLength(1);
    expect(inDrive('memorylake', root)).toEqual(expected(root, files));
  });

  it('a kill while a folder was being made: the rerun finds that folder and makes no second one', async () => {
    const { root, files } = await tree('folder-cut', 3);
    const held = bed.sb.stats().held;
    bed.sb.hold({ route: 'memorylake.item', when: 'after' }); // the first Create Item of the run is its top folder
    const args = ['put', root, '-r', '-p', 'memorylake', '--json'];
    const child = startCli(args, { env: bed.env });
    await waitFor('the folder creation to be held', () => bed.sb.stats().held > held);
    child.kill('SIGKILL');
    await child.result;
    const again = await runCli(args, { env: bed.env });
    expect(again.code, again.stderr).toBe(0);
    expect(bed.sb.stats().foldersCreated.filter((f) => f.name === 'folder-cut' || f.name === 'folder-cut_1').map((f) => f.name)).toEqual(['folder-cut']);
    expect(inDrive('memorylake', root)).toEqual(expected(root, files));
  });

  it.each(['memorylake', 'copera'] as const)(
    'a big file whose finalize was cut off by a kill, found in the drive by --skip-existing on the rerun: its state goes too (%s)',
    async (provider) => {
      const root = path.join(bed.work, `skip-cut-${provider}`);
      fs.mkdirSync(root, { recursive: true });
      const big = await makeFile(path.join(root, 'big.bin'), provider === 'copera' ? 12 * MiB : 3 * MiB, 31);
      await makeFile(path.join(root, 'small.txt'), 500, 32);
      // The folder exists already: the held call is big.bin's finalize (sorted first, one job).
      bed.sb.seed([{ provider, type: 'folder', name: `skip-cut-${provider}` }]);
      const held = bed.sb.stats().held;
      bed.sb.hold({ route: FINALIZE[provider], when: 'after' });
      const args = ['put', root, '-r', '-p', provider, '-j', '1', '--skip-existing', '--json'];
      const child = startCli(args, { env: bed.env });
      await waitFor('the finalize to be held', () => bed.sb.stats().held > held);
      child.kill('SIGKILL');
      await child.result;
      expect(fs.readdirSync(bed.stateDir).some((n) => /^[0-9a-f]{16}\.json$/.test(n)), 'the big file kept a state').toBe(true);

      const again = await runCli(args, { env: bed.env });
      expect(again.code, again.stderr).toBe(0);
      expect(storedLike(provider, 'big.bin').filter((x) => x.path?.includes(`skip-cut-${provider}`))).toHaveLength(1);
      expect(await sha256File(storedNamed(provider, 'big.bin').filter((x) => x.path?.includes(`skip-cut-${provider}`))[0].path!)).toBe(await sha256File(big));
      // Nothing is left pending: `lakeup list` would otherwise show the file as an upload to resume.
      expect(fs.readdirSync(bed.stateDir).filter((n) => n !== LEDGER_FILE)).toEqual([]);
    },
  );

  it.each(['0/3', '4/3', 'a/b', '1/0'])('--shard %s is one line and exit 2', async (bad) => {
    const r = await runCli(['put', path.join(bed.work, 'x'), '-p', 'memorylake', '--shard', bad], { env: bed.env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^lakeup: error: --shard: expected K\/N with 1 ≤ K ≤ N/)]);
  });
});

describe('listing big folders over real sockets', () => {
  it('walks every page of a MemoryLake folder of 1,200 items', async () => {
    const [folder] = bed.sb.seed([{ provider: 'memorylake', type: 'folder', name: 'big-ml' }]);
    bed.sb.seed(Array.from({ length: 1200 }, (_, i) => ({ provider: 'memorylake' as const, type: 'file' as const, name: `i${i}.dat`, parentId: folder.id, size: i + 1 })));
    const calls = bed.sb.stats().apiCalls['memorylake.children'] ?? 0;
    const p = createProvider('memorylake', { endpoint: bed.sb.origin, token: bed.sb.token });
    const listing = await p.listFolder(folder.id);
    expect(listing.complete).toBe(true);
    expect(new Set(listing.entries.map((e) => e.name)).size).toBe(1200);
    expect((bed.sb.stats().apiCalls['memorylake.children'] ?? 0) - calls).toBe(24);
  });

  it('on Copera, a tree of 1,200 items is listed folder by folder, and a flat folder of 1,200 falls back to search for a name', async () => {
    const [top] = bed.sb.seed([{ provider: 'copera', type: 'folder', name: 'big-cp' }]);
    const subs = bed.sb.seed([0, 1, 2].map((i) => ({ provider: 'copera' as const, type: 'folder' as const, name: `s${i}`, parentId: top.id })));
    for (const s of subs) {
      bed.sb.seed(Array.from({ length: 400 }, (_, i) => ({ provider: 'copera' as const, type: 'file' as const, name: `${s.name}-${i}.dat`, parentId: s.id, size: 10 })));
    }
    const p = createProvider('copera', { endpoint: bed.sb.origin, token: bed.sb.token });
    let seen = 0;
    for (const s of subs) {
      const l = await p.listFolder(s.id);
      expect(l.complete).toBe(true);
      seen += l.entries.length;
    }
    expect(seen).toBe(1200);

    const [flat] = bed.sb.seed([{ provider: 'copera', type: 'folder', name: 'flat-cp' }]);
    bed.sb.seed(Array.from({ length: 1200 }, (_, i) => ({ provider: 'copera' as const, type: 'file' as const, name: `flat-${i}.dat`, parentId: flat.id, size: 5 })));
    const l = await p.listFolder(flat.id);
    expect(l.complete).toBe(false);
    expect(l.entries.length).toBe(500);
    const found = await p.findInFolder(flat.id, 'flat-1199.dat');
    expect(found.map((e) => e.name)).toEqual(['flat-1199.dat']);
  });
});
