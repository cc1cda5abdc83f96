import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ledger, ledgerKey, ledgerPath, MAX_ENTRIES, readLedger } from '../../src/state/ledger.js';
import { isTempOfDeadProcess } from '../../src/state/atomic-write.js';
import { LEASE_MS } from '../../src/state/lock/owner.js';

const entry = { provider: 'memorylake', file: '/x/a.bin', to: 'a.bin', size: 5, mtimeMs: 1500, id: 'sc-1', name: 'a.bin', account: 'acct' };

/** Temp folders of this file's tests, removed after each. */
const made: string[] = [];
const tempFolder = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledger-'));
  made.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('the ledger', () => {
  it('is written 0600 and merged with what another lakeup wrote meanwhile', async () => {
    const dir = tempFolder();
    const a = Ledger.open(dir);
    const b = Ledger.open(dir);
    a.record('k1', entry);
    b.record('k2', { ...entry, id: 'sc-2' });
    await a.flush();
    await b.flush();
    expect([...readLedger(dir).keys()].sort()).toEqual(['k1', 'k2']);
    if (process.platform !== 'win32') expect(fs.statSync(ledgerPath(dir)).mode & 0o777).toBe(0o600);
  });

  it('a flush reads the file again only when another lakeup wrote it since it was read', async () => {
    const dir = tempFolder();
    const first = Ledger.open(dir);
    first.record('k0', entry);
    await first.flush();
    const reads = vi.spyOn(fs, 'readFileSync');
    try {
      // Nobody wrote since: this command's entries are the merge; the file is not read again.
      const alone = Ledger.open(dir);
      alone.record('k1', { ...entry, id: 'sc-1' });
      reads.mockClear();
      await alone.flush();
      expect(reads).not.toHaveBeenCalled();
      expect([...readLedger(dir).keys()].sort()).toEqual(['k0', 'k1']);
      // Another lakeup wrote in between: read again and merged, as before.
      const a = Ledger.open(dir);
      const b = Ledger.open(dir);
      b.record('k2', { ...entry, id: 'sc-2' });
      await b.flush();
      a.record('k3', { ...entry, id: 'sc-3' });
      reads.mockClear();
      await a.flush();
      expect(reads).toHaveBeenCalled();
      expect([...readLedger(dir).keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3']);
    } finally {
      reads.mockRestore();
    }
  });

  it('keys an entry by account: another token does not find it', () => {
    const k = { provider: 'copera', endpoint: 'https://x', file: '/x/a.bin', to: 'a.bin', account: 'one' };
    expect(ledgerKey(k)).not.toBe(ledgerKey({ ...k, account: 'two' }));
  });

  it('an unreadable ledger is an empty one', () => {
    const dir = tempFolder();
    fs.writeFileSync(ledgerPath(dir), '{not json');
    expect(Ledger.open(dir).size).toBe(0);
  });

  it('holds nothing per entry a command records (they wait on disk), and its write keeps the newest MAX_ENTRIES', async () => {
    const dir = tempFolder();
    const l = Ledger.open(dir);
    for (let i = 0; i < MAX_ENTRIES + 10; i++) l.record(`k${i}`, { ...entry, id: `sc-${i}` });
    expect(l.size).toBe(0);
    expect(l.recordedCount).toBe(MAX_ENTRIES + 10);
    expect(l.get('k0')).toBeUndefined(); // for the next command, not this one
    await l.flush();
    const disk = readLedger(dir);
    expect(disk.size).toBe(MAX_ENTRIES);
    expect(disk.has('k9')).toBe(false);
    expect(disk.has('k10') && disk.has(`k${MAX_ENTRIES + 9}`)).toBe(true);
    // Read back, the newest entry is found with every field it was recorded with.
    expect(Ledger.open(dir).get(`k${MAX_ENTRIES + 9}`)).toMatchObject({ ...entry, id: `sc-${MAX_ENTRIES + 9}` });
    // What waited on disk is gone once written.
    expect(fs.readdirSync(dir)).toEqual(['ledger.json']);
    expect(l.recordedCount).toBe(0);
  });

  it('a used entry is kept over older ones when the ledger is full', async () => {
    const dir = tempFolder();
    const first = Ledger.open(dir);
    for (let i = 0; i < MAX_ENTRIES; i++) first.record(`k${i}`, entry);
    await first.flush();
    const l = Ledger.open(dir);
    l.touch('k0', { path: entry.file, size: 5, mtimeMs: 1500, ctimeMs: 7, ino: 9 });
    l.record('one-more', entry);
    await l.flush();
    const next = Ledger.open(dir);
    expect(next.size).toBe(MAX_ENTRIES);
    expect(next.get('k0')).toMatchObject({ ctimeMs: 7, ino: 9 });
    expect(next.get('one-more')).toBeDefined();
    expect(next.get('k1')).toBeUndefined();
    expect(next.get('k2')).toBeDefined();
  });

  it('a key recorded again by a later command is written once, with its newest entry', async () => {
    const dir = tempFolder();
    const a = Ledger.open(dir);
    a.record('k', { ...entry, id: 'old' });
    a.record('other', entry);
    await a.flush();
    const b = Ledger.open(dir);
    b.record('k', { ...entry, id: 'new' });
    b.record('k', { ...entry, id: 'newer' });
    await b.flush();
    expect(fs.readFileSync(ledgerPath(dir), 'utf8').match(/"k":/g)).toHaveLength(2); // this command wrote it twice; the later wins when read
    expect(Ledger.open(dir).get('k')?.id).toBe('newer');
    expect(readLedger(dir).size).toBe(2);
  });

  it("keeps what a command recorded when its waiting file is removed by name (another host's sweep, a lease after its last write)", async () => {
    const dir = tempFolder();
    const l = Ledger.open(dir);
    // Enough entries for the first batch to go to disk (64 KiB), then a few more that wait in memory.
    const n = 600;
    for (let i = 0; i < n; i++) l.record(`k${i}`, { ...entry, id: `sc-${i}` });
    const spill = await vi.waitFor(() => {
      const name = fs.readdirSync(dir).find((f) => f.startsWith('ledger.json.') && f.endsWith('.tmp'));
      if (!name || fs.statSync(path.join(dir, name)).size === 0) throw new Error('not written yet');
      return name;
    });
    // Its name is a temp file's: on another host sharing the folder, where this pid means nothing,
    // the sweep removes it once nothing was appended for a lease (a run of big files records rarely).
    const elsewhere = spill.replace(/\.[0-9a-f]{8}-(\d+)-/, '.00000000-$1-');
    expect(isTempOfDeadProcess(elsewhere, LEASE_MS + 1)).toBe(true);
    fs.rmSync(path.join(dir, spill));
    await l.flush();
    const disk = readLedger(dir);
    expect(disk.size).toBe(n);
    expect(Ledger.open(dir).get(`k${n - 1}`)?.id).toBe(`sc-${n - 1}`);
    expect(Ledger.open(dir).get('k0')?.id).toBe('sc-0');
  });

  it("a flush that cannot stat the ledger (Windows: a sharing violation for a moment) reads it again: another lakeup's entries stay", async () => {
    const dir = tempFolder();
    const a = Ledger.open(dir); // no ledger yet
    const b = Ledger.open(dir);
    b.record('k2', { ...entry, id: 'sc-2' });
    await b.flush();
    a.record('k1', entry);
    const busy = Object.assign(new Error('EPERM: operation not permitted, stat'), { code: 'EPERM' });
    const stat = vi.spyOn(fs.promises, 'stat').mockRejectedValueOnce(busy);
    try {
      await a.flush();
    } finally {
      stat.mockRestore();
    }
    expect([...readLedger(dir).keys()].sort()).toEqual(['k1', 'k2']);
  });
});
