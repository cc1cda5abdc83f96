import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { entryKey, journalPath, legacyRunKey, RunJournal, runKey, setJournalAside, type RunIdentity } from '../../src/state/journal.js';
import { listRuns } from '../../src/state/run-list.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-journal-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A file of the run going to its own name. */
const e = (file: string) => ({ file, to: path.basename(file) });
const k = (file: string) => entryKey(e(file));

const ID: RunIdentity = {
  provider: 'memorylake',
  endpoint: 'https://app.memorylake.ai',
  parent: undefined,
  sources: [path.resolve('/data/photos'), path.resolve('/data/a.txt')],
};

async function loaded(identity = ID): Promise<RunJournal> {
  const r = await RunJournal.load(dir, identity);
  if (r.status !== 'ok') throw new Error(`expected a journal, got ${JSON.stringify(r)}`);
  return r.journal;
}

describe('run journal', () => {
  it('is keyed by the run: same sources in any order, trailing slash on the endpoint, but not another destination or shard', () => {
    const k = runKey(ID);
    expect(runKey({ ...ID, sources: [...ID.sources].reverse(), endpoint: `${ID.endpoint}/` })).toBe(k);
    expect(runKey({ ...ID, parent: 'folder-1' })).not.toBe(k);
    expect(runKey({ ...ID, shard: '1/3' })).not.toBe(k);
    expect(runKey({ ...ID, provider: 'copera' })).not.toBe(k);
  });

  it("is not keyed by the token: a new token of the account finds the run; a slot is another account's run of it", () => {
    const k = runKey({ ...ID, account: 'aaa' });
    expect(runKey({ ...ID, account: 'bbb' })).toBe(k);
    expect(runKey({ ...ID, account: 'aaa' }, 1)).not.toBe(k);
    expect(runKey({ ...ID, account: 'aaa' }, 2)).not.toBe(runKey({ ...ID, account: 'aaa' }, 1));
    // An older lakeup's key had the token's hash in it.
    expect(legacyRunKey({ ...ID, account: 'aaa' })).not.toBe(legacyRunKey({ ...ID, account: 'bbb' }));
  });

  it("knows the tokens proved to be of its account, and the items that can prove it", async () => {
    const j = RunJournal.create(dir, { ...ID, account: 'aaa' });
    await j.addFolder(['photos'], 'f-1');
    await j.markDone(e('/data/a.txt'), { size: 3, mtimeMs: 10, id: 'i-1', name: 'a.txt' });
    await j.markDone(e('/data/b.txt'), { size: 3, mtimeMs: 10, id: 'i-2', name: 'b.txt' });
    await j.addAccount('bbb');
    await j.close();
    const back = await loaded({ ...ID, account: 'ccc' });
    expect([...back.accounts].sort()).toEqual(['aaa', 'bbb']);
    expect(back.knownItems(3)).toEqual(['i-2', 'i-1', 'f-1']);
    expect(back.knownItems(1)).toEqual(['i-2']);
  });

  it('records folders, finalizes and finished files, and reads them back', async () => {
    const j = RunJournal.create(dir, ID);
    await j.addFolder(['photos'], 'f-1');
    await j.markFinalizing(e('/data/a.txt'), { size: 3, mtimeMs: 10, at: 1000, parts: 1, etag: 'e-1' });
    await j.markFinalizing(e('/data/photos/b.txt'), { size: 4, mtimeMs: 11, at: 1001 });
    await j.markDone(e('/data/photos/b.txt'), { size: 4, mtimeMs: 11, id: 'i-2', name: 'b.txt' });
    await j.close();

    const again = await loaded();
    expect(again.resumed).toBe(true);
    expect(again.folder(['photos'])).toBe('f-1');
    expect(again.finalizing.get(k('/data/a.txt'))).toEqual({ size: 3, mtimeMs: 10, at: 1000, parts: 1, etag: 'e-1', session: undefined });
    // A file that finished is no longer "finalizing".
    expect(again.finalizing.has(k('/data/photos/b.txt'))).toBe(false);
    expect(again.finished.get(k('/data/photos/b.txt'))).toEqual({ size: 4, mtimeMs: 11, id: 'i-2', name: 'b.txt' });
  });

  it('keeps the session a finalize was sent for (files without a state file); a damaged session is dropped, the record kept', async () => {
    const j = RunJournal.create(dir, ID);
    const session = { uploadId: 'upl-1', fileKey: 'drive/k.txt', done: [{ number: 1, etag: 'abc', md5: 'abc', size: 3 }] };
    await j.markFinalizing(e('/data/a.txt'), { size: 3, mtimeMs: 10, at: 1000, parts: 1, session });
    await j.close();
    fs.appendFileSync(j.file, `${JSON.stringify({ t: 'fin', f: '/data/b.txt', to: 'b.txt', size: 4, mtimeMs: 11, at: 1001, session: { uploadId: 'upl-2', done: [{ number: 1 }] } })}\n`);
    const again = await loaded();
    expect(again.finalizing.get(k('/data/a.txt'))?.session).toEqual(session);
    expect(again.finalizing.get(k('/data/b.txt'))).toMatchObject({ size: 4, at: 1001 });
    expect(again.finalizing.get(k('/data/b.txt'))?.session).toBeUndefined();
  });

  it('is private to the user (0600) and says which run it belongs to on its first line', async () => {
    const j = RunJournal.create(dir, ID);
    await j.markDone(e('/data/a.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'a.txt' });
    await j.close();
    const file = journalPath(dir, runKey(ID));
    if (process.platform !== 'win32') expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const header = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]);
    expect(header).toMatchObject({ kind: 'lakeup-run', v: 1, key: runKey(ID), provider: 'memorylake', sources: ID.sources });
  });

  it('batches records written at once into few writes, and every caller hears when its record is on disk', async () => {
    const j = RunJournal.create(dir, ID);
    const probe = await fs.promises.open(path.join(dir, 'probe'), 'w');
    const write = vi.spyOn(Object.getPrototypeOf(probe), 'write');
    await probe.close();
    const all = Array.from({ length: 200 }, (_, i) => j.markDone(e(`/data/f${i}`), { size: i + 1, mtimeMs: 1, id: `i${i}`, name: `f${i}` }));
    await Promise.all(all);
    await j.close();
    // The header, the first record, then everything recorded meanwhile in one write.
    expect(write.mock.calls.length).toBeLessThanOrEqual(3);
    write.mockRestore();
    fs.rmSync(path.join(dir, 'probe'));
    const lines = fs.readFileSync(journalPath(dir, runKey(ID)), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(201);
    expect((await loaded()).finished.size).toBe(200);
  });

  it('ignores a last line torn by a crash, and keeps every record before it', async () => {
    const j = RunJournal.create(dir, ID);
    await j.markDone(e('/data/a.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'a.txt' });
    await j.close();
    fs.appendFileSync(journalPath(dir, runKey(ID)), '{"t":"done","f":"/data/b.txt","si');
    const r = await RunJournal.load(dir, ID);
    expect(r).toMatchObject({ status: 'ok', damaged: 0 });
    expect((await loaded()).finished.has(k('/data/a.txt'))).toBe(true);
  });

  it('skips a damaged line in the middle and counts it, instead of forgetting every finished file', async () => {
    const j = RunJournal.create(dir, ID);
    await j.markDone(e('/data/a.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'a.txt' });
    await j.close();
    const file = journalPath(dir, runKey(ID));
    fs.appendFileSync(file, 'garbage\n{"t":"done","f":"/data/c.txt"}\n{"t":"done","f":"/data/b.txt","to":"b.txt","size":2,"mtimeMs":2,"id":"y","name":"b.txt"}\n');
    const r = await RunJournal.load(dir, ID);
    expect(r.status).toBe('ok');
    if (r.status !== 'ok') return;
    expect(r.damaged).toBe(2);
    expect([...r.journal.finished.keys()].sort()).toEqual([k('/data/a.txt'), k('/data/b.txt')]);
  });

  it('a journal killed before its first line was whole holds nothing: it is missing, and removed (no debris)', async () => {
    for (const text of ['', '{"kind":"lakeup-run","v":']) {
      fs.writeFileSync(journalPath(dir, runKey(ID)), text);
      expect(await RunJournal.load(dir, ID)).toEqual({ status: 'missing' });
      expect(fs.existsSync(journalPath(dir, runKey(ID)))).toBe(false);
    }
  });

  it('reports a journal of another run, or one without a header, as unusable', async () => {
    const other = { ...ID, sources: [path.resolve('/elsewhere')] };
    const j = RunJournal.create(dir, other);
    await j.markDone(e('/elsewhere/a'), { size: 1, mtimeMs: 1, id: 'x', name: 'a' });
    await j.close();
    // Put the other run's journal where this run's would be.
    fs.renameSync(journalPath(dir, runKey(other)), journalPath(dir, runKey(ID)));
    expect(await RunJournal.load(dir, ID)).toMatchObject({ status: 'invalid', reason: 'it belongs to another run' });

    fs.writeFileSync(journalPath(dir, runKey(ID)), 'not a journal\n');
    expect(await RunJournal.load(dir, ID)).toMatchObject({ status: 'invalid', reason: 'its first line is not a run header' });
    const aside = await setJournalAside(journalPath(dir, runKey(ID)));
    expect(aside).toMatch(/\.invalid-\d+$/);
    expect(fs.existsSync(aside)).toBe(true);
    expect(await RunJournal.load(dir, ID)).toEqual({ status: 'missing' });
  });

  it('goes away when the run is complete', async () => {
    const j = RunJournal.create(dir, ID);
    await j.markDone(e('/data/a.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'a.txt' });
    await j.remove();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('fails every waiting record with one clear line when the state folder cannot be written', async () => {
    const blocked = path.join(dir, 'file-not-folder');
    fs.writeFileSync(blocked, '');
    const j = RunJournal.create(blocked, ID);
    const a = j.markFinalizing(e('/data/a.txt'), { size: 1, mtimeMs: 1, at: 1 });
    const b = j.markDone(e('/data/b.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'b' });
    await expect(a).rejects.toMatchObject({ kind: 'input', code: 'STATE_DIR' });
    await expect(b).rejects.toMatchObject({ code: 'STATE_DIR' });
    await expect(j.flush()).rejects.toMatchObject({ code: 'STATE_DIR' });
  });

  it('lists runs with their counts for `lakeup list`', async () => {
    const j = RunJournal.create(dir, ID);
    await j.addFolder(['photos'], 'f-1');
    await j.markFinalizing(e('/data/a.txt'), { size: 1, mtimeMs: 1, at: 1 });
    await j.markDone(e('/data/b.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'b' });
    await j.close();
    fs.writeFileSync(path.join(dir, '0123456789abcdef.run.ndjson'), 'nope\n');
    const runs = await listRuns(dir);
    expect(runs).toHaveLength(2);
    expect(runs.find((r) => r.key === runKey(ID))).toMatchObject({ provider: 'memorylake', finished: 1, finalizing: 1, folders: 1 });
    expect(runs.find((r) => r.key === '0123456789abcdef')?.invalid).toBeTruthy();
  });
});

describe('on Windows, where a scanner holds a file for a moment', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // A scanner holding the file for a moment (EPERM) must not defeat setting it aside.
  it('sets an unusable journal aside although the rename is refused with EPERM twice', async () => {
    const file = journalPath(dir, runKey(ID));
    fs.writeFileSync(file, 'not a journal\n');
    const real = fs.promises.rename;
    let refused = 0;
    vi.spyOn(fs.promises, 'rename').mockImplementation(async (from, to) => {
      if (refused++ < 2) throw Object.assign(new Error('EPERM: operation not permitted, rename'), { code: 'EPERM' });
      return real(from, to);
    });
    const aside = await setJournalAside(file);
    expect(aside).toMatch(/\.invalid-\d+$/);
    expect(await RunJournal.load(dir, ID)).toEqual({ status: 'missing' });
  });
});

describe('appending after a crash', () => {
  it('a record appended after a torn last line is read back whole', async () => {
    const j = RunJournal.create(dir, ID);
    await j.markDone(e('/data/a.txt'), { size: 1, mtimeMs: 1, id: 'x', name: 'a.txt' });
    await j.close();
    fs.appendFileSync(journalPath(dir, runKey(ID)), '{"t":"done","f":"/data/b.txt","si');
    const again = await loaded();
    await again.markFinalizing(e('/data/c.txt'), { size: 3, mtimeMs: 3, at: 3 });
    await again.close();
    const r = await RunJournal.load(dir, ID);
    expect(r).toMatchObject({ status: 'ok', damaged: 1 }); // the torn line, now complete but unreadable
    if (r.status === 'ok') expect(r.journal.finalizing.get(k('/data/c.txt'))).toMatchObject({ at: 3 });
  });
});
