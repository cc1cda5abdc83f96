import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, ledgerKey, ledgerPath, readLedger } from '../../src/state/ledger.js';

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

  it('keys an entry by account: another token does not find it', () => {
    const k = { provider: 'copera', endpoint: 'https://x', file: '/x/a.bin', to: 'a.bin', account: 'one' };
    expect(ledgerKey(k)).not.toBe(ledgerKey({ ...k, account: 'two' }));
  });

  it('an unreadable ledger is an empty one', () => {
    const dir = tempFolder();
    fs.writeFileSync(ledgerPath(dir), '{not json');
    expect(Ledger.open(dir).size).toBe(0);
  });
});
