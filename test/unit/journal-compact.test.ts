// The journal stays small: superseded records are dropped by a rewrite that keeps every record that
// counts, and whatever another process appended meanwhile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMPACT_MIN_LINES, entryKey, journalPath, recordDoneInRun, RunJournal, runKey, type RunIdentity } from '../../src/state/journal.js';
import { FinishedIndex, readLines, rewriteJournal } from '../../src/state/journal-store.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lakeup-journal-compact-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const ID: RunIdentity = { provider: 'memorylake', endpoint: 'https://app.memorylake.ai', parent: undefined, sources: [path.resolve('/data/tree')] };
const e = (i: number) => ({ file: path.resolve(`/data/tree/f${i}`), to: `tree/f${i}` });
const lineCount = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

async function loaded(): Promise<RunJournal> {
  const r = await RunJournal.load(dir, ID);
  if (r.status !== 'ok') throw new Error(`expected a journal, got ${JSON.stringify(r)}`);
  expect(r.damaged).toBe(0);
  return r.journal;
}

/**
 * A run's journal with its folder, and the lines of an older lakeup's to append to it: a fin and a
 * done per file for COMPACT_MIN_LINES files, never rewritten.
 */
async function olderJournal(): Promise<{ file: string; lines: string[] }> {
  const j = RunJournal.create(dir, ID);
  await j.addFolder(['tree'], 'f-tree');
  await j.close();
  const lines: string[] = [];
  for (let i = 0; i < COMPACT_MIN_LINES; i++) {
    lines.push(JSON.stringify({ t: 'fin', f: e(i).file, to: e(i).to, size: 1, mtimeMs: 2, at: 3 }));
    lines.push(JSON.stringify({ t: 'done', f: e(i).file, to: e(i).to, size: 1, mtimeMs: 2, id: `id-${i}`, name: `f${i}` }));
  }
  return { file: journalPath(dir, runKey(ID)), lines };
}

describe('journal compaction', () => {
  it('a run of many files rewrites its journal as it grows: about one line per file, and a replay that knows every one', async () => {
    const n = COMPACT_MIN_LINES * 2;
    const j = RunJournal.create(dir, ID);
    await j.addFolder(['tree'], 'f-tree');
    await j.addAccount('acct-2');
    for (let i = 0; i < n; i++) {
      // Every file: finalize about to be sent, then in the drive; the last one is cut off mid-finalize.
      const fin = j.markFinalizing(e(i), { size: i + 1, mtimeMs: 5, at: 100 + i });
      if (i < n - 1) void j.markDone(e(i), { size: i + 1, mtimeMs: 5, id: `id-${i}`, name: `f${i}` });
      if (i % 1000 === 0) await fin;
    }
    await j.close();
    // Without the rewrite the file would hold 2 lines a file.
    expect(lineCount(j.file)).toBeLessThan(1.5 * n);
    const back = await loaded();
    expect(back.finished.size).toBe(n - 1);
    expect(back.finished.get(entryKey(e(7)))).toEqual({ size: 8, mtimeMs: 5, id: 'id-7', name: 'f7' });
    expect(back.finalizing.get(entryKey(e(n - 1)))).toMatchObject({ size: n, at: 100 + n - 1 });
    expect(back.finalizing.has(entryKey(e(7)))).toBe(false);
    expect(back.folder(['tree'])).toBe('f-tree');
    expect(back.accounts.has('acct-2')).toBe(true);
  });

  it('a resumed journal full of superseded lines is rewritten once, and reads back the same', async () => {
    const { file, lines } = await olderJournal();
    fs.appendFileSync(file, `${lines.join('\n')}\n`);
    const before = await loaded();
    expect(await before.compactIfWorth()).toBe(true);
    expect(lineCount(file)).toBe(1 + 1 + COMPACT_MIN_LINES); // header, folder, one done per file
    expect(await before.compactIfWorth()).toBe(false); // nothing left to drop
    const after = await loaded();
    expect(after.finished.size).toBe(COMPACT_MIN_LINES);
    expect(after.finalizing.size).toBe(0);
    expect([...after.finished.entries()]).toEqual([...before.finished.entries()]);
    // Appending goes on where the rewrite ended.
    await after.markDone(e(-1), { size: 9, mtimeMs: 9, id: 'late', name: 'late' });
    await after.close();
    expect((await loaded()).finished.get(entryKey(e(-1)))?.id).toBe('late');
  });

  it('holds nothing per file it finishes: what it sends is written, not kept, and a rewrite still keeps every one', async () => {
    const n = COMPACT_MIN_LINES * 2;
    const j = RunJournal.create(dir, ID);
    for (let i = 0; i < n; i++) {
      const fin = j.markFinalizing(e(i), { size: 1, mtimeMs: 5, at: 100 + i });
      const done = j.markDone(e(i), { size: 1, mtimeMs: 5, id: `id-${i}`, name: `f${i}` });
      if (i % 1000 === 0) await Promise.all([fin, done]);
    }
    await j.close();
    expect(j.finished.size).toBe(0);
    expect(j.finalizing.size).toBe(0);
    expect(lineCount(j.file)).toBeLessThan(1.5 * n); // rewritten on the way
    expect((await loaded()).finished.size).toBe(n);
  });

  it('a rerun lets go of each finished file as the scan takes it, and its rewrite keeps them all (from the file, not from memory)', async () => {
    const { file, lines } = await olderJournal();
    // One file sent again after it changed, cut off mid-finalize: its `done` and its later `fin` both count.
    lines.push(JSON.stringify({ t: 'fin', f: e(0).file, to: e(0).to, size: 7, mtimeMs: 8, at: 9 }));
    // One refused outright: its `fin` and `nofin` count for nothing.
    lines.push(JSON.stringify({ t: 'fin', f: e(-2).file, to: e(-2).to, size: 1, mtimeMs: 2, at: 3 }));
    lines.push(JSON.stringify({ t: 'nofin', f: e(-2).file, to: e(-2).to }));
    fs.appendFileSync(file, `${lines.join('\n')}\n`);
    const rerun = await loaded();
    for (let i = 0; i < COMPACT_MIN_LINES; i++) expect(rerun.finished.take(entryKey(e(i)))?.id).toBe(`id-${i}`);
    expect(rerun.finished.size).toBe(0);
    expect(rerun.finished.take(entryKey(e(1)))).toBeUndefined(); // taken once
    expect(await rerun.compactIfWorth()).toBe(true);
    expect(lineCount(file)).toBe(1 + 1 + COMPACT_MIN_LINES + 1); // header, folder, one done per file, the open fin
    const after = await loaded();
    expect(after.finished.size).toBe(COMPACT_MIN_LINES);
    expect(after.finished.get(entryKey(e(3)))?.id).toBe('id-3');
    expect([...after.finalizing.keys()]).toEqual([entryKey(e(0))]);
    expect(after.finalizing.get(entryKey(e(0)))).toMatchObject({ size: 7, at: 9 });
    expect(after.folder(['tree'])).toBe('f-tree');
  });

  it('keeps a line another process appended after the file was read (a `lakeup resume <id>` finishing one of its files)', async () => {
    const j = RunJournal.create(dir, ID);
    await j.markDone(e(1), { size: 1, mtimeMs: 1, id: 'one', name: 'f1' });
    await j.close();
    const covered = fs.statSync(j.file).size;
    await recordDoneInRun(dir, runKey(ID), e(2), { size: 2, mtimeMs: 2, id: 'two', name: 'f2' });
    const header = fs.readFileSync(j.file, 'utf8').split('\n')[0];
    await rewriteJournal(j.file, [header, JSON.stringify({ t: 'done', f: e(1).file, to: e(1).to, size: 1, mtimeMs: 1, id: 'one', name: 'f1' })], covered);
    const back = await loaded();
    expect(back.finished.get(entryKey(e(2)))?.id).toBe('two');
    expect(back.finished.get(entryKey(e(1)))?.id).toBe('one');
  });

  it('reads lines across chunk edges, multi-byte characters included, and leaves out a torn last line', async () => {
    const file = path.join(dir, 'lines');
    const want = ['première', 'ünïcödé ' + 'é'.repeat(40), '', 'x'.repeat(100)];
    fs.writeFileSync(file, `${want.join('\n')}\n{"torn`);
    const got: string[] = [];
    const read = { bytes: 0 };
    for await (const ls of readLines(file, read, 7)) got.push(...ls);
    expect(got).toEqual(want);
    expect(read.bytes).toBe(Buffer.byteLength(`${want.join('\n')}\n`));
  });

  it('gives a chunk\'s lines at a time: one await per chunk, not per line', async () => {
    const file = path.join(dir, 'many');
    fs.writeFileSync(file, Array.from({ length: 1000 }, (_, i) => `{"n":${i}}`).join('\n') + '\n');
    const batches: string[][] = [];
    for await (const ls of readLines(file, { bytes: 0 }, 4096)) batches.push(ls);
    expect(batches.flat()).toHaveLength(1000);
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(fs.statSync(file).size / 4096));
  });

  it('keeps a finished file as one string, and gives back exactly what was put (names with any character)', () => {
    const idx = new FinishedIndex();
    idx.set('k', { size: 12, mtimeMs: 1712345678901.5, id: 'sc-1:abc', name: 'a\tb\nc.txt' });
    expect(idx.get('k')).toEqual({ size: 12, mtimeMs: 1712345678901.5, id: 'sc-1:abc', name: 'a\tb\nc.txt' });
    expect(idx.get('nope')).toBeUndefined();
    expect(idx.size).toBe(1);
  });
});
