import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FinishedIndex } from '../../src/state/journal-store.js';
import { entryKey, type RunJournal } from '../../src/state/journal.js';
import { LeftOutTally } from '../../src/upload/left-out.js';
import { scanItems, type Item, type ScanCounts } from '../../src/upload/run-items.js';
import type { Source } from '../../src/upload/sources.js';

async function* from(xs: Source[]): AsyncGenerator<Source> {
  yield* xs;
}

async function scan(sources: Source[], journal: RunJournal | undefined): Promise<Item[]> {
  const counts: ScanCounts = { total: 0, files: 0, bytes: 0, done: false };
  const tally = new LeftOutTally('memorylake', { leftOut: () => undefined }, () => undefined);
  const items: Item[] = [];
  for await (const item of scanItems(from(sources), journal, tally, counts)) items.push(item);
  return items;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the scan of a rerun', () => {
  it('asks whether a file can be read only of the files it will send, not of those the journal has finished', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-items-'));
    const src = (name: string): Source => {
      fs.writeFileSync(path.join(dir, name), 'abc');
      return { file: path.join(dir, name), display: name, name, folder: [], root: dir };
    };
    const done = src('done.bin');
    const fresh = src('new.bin');
    const st = fs.statSync(done.file);
    const finished = new FinishedIndex().set(entryKey({ file: done.file, to: 'done.bin' }), { size: 3, mtimeMs: Math.floor(st.mtimeMs), id: 'it-1', name: 'done.bin' });
    const journal = { finished, identity: { provider: 'memorylake' } } as unknown as RunJournal;
    const access = vi.spyOn(fs, 'accessSync');
    const items = await scan([done, fresh], journal);
    expect(items.map((i) => i.skip?.reason)).toEqual(['already-uploaded', undefined]);
    expect(items[1]!.fp?.path).toBe(fresh.file);
    expect(access.mock.calls.map((c) => c[0])).toEqual([fresh.file]);
    // Judged, the finished file leaves memory: a rerun's index shrinks as its scan goes.
    expect(finished.size).toBe(0);
  });

  it('a file to send that cannot be read carries its error, not a fingerprint', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'run-items-'));
    const file = path.join(dir, 'a.bin');
    fs.writeFileSync(file, 'abc');
    const journal = { finished: new FinishedIndex(), identity: { provider: 'memorylake' } } as unknown as RunJournal;
    vi.spyOn(fs, 'accessSync').mockImplementation(() => {
      throw Object.assign(new Error('denied'), { code: 'EACCES' });
    });
    const [item] = await scan([{ file, display: 'a.bin', name: 'a.bin', folder: [], root: dir }], journal);
    expect(item!.fp).toBeUndefined();
    expect((item!.error as Error).message).toBe(`${file}: permission denied`);
  });
});
