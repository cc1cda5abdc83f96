// The ledger: finished uploads this machine remembers, so that the same command run again costs no
// API call for a file that has not changed. One JSON file in the state folder (`ledger.json`, 0600,
// written atomically), keyed by what the upload was (provider, endpoint, account, the file's absolute
// path, its destination folder and name); each entry holds the file's fingerprint when it was sent
// and the item it became. The account is a hash of the token (never the token): an entry another
// token recorded is not found under this one, so that token must prove the file is there by looking
// in the drive, which sees only its own account's items. Bounded: the newest MAX_ENTRIES are kept.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FileFingerprint } from '../types.js';
import { writeFileAtomic } from './atomic-write.js';
import { ensureStateDirAsync } from './state-dir.js';

export const LEDGER_FILE = 'ledger.json';
/** Entries kept; the least recently used go first. ~250 bytes each: 50,000 is about 12 MB. */
export const MAX_ENTRIES = 50_000;
const VERSION = 1;

export interface LedgerEntry {
  provider: string;
  /** The file's absolute path. */
  file: string;
  /** The destination folder's id (absent: the root) and the name asked for. */
  parent?: string;
  to: string;
  /** The file when it was sent (or found in the drive): size, mtime, and what vouches for them. */
  size: number;
  mtimeMs: number;
  ctimeMs?: number;
  ino?: number;
  /** Hex SHA-256 of the content, when it was computed (MemoryLake uploads record it in x_attrs too). */
  sha256?: string;
  /** The item in the drive: its id and the name the server gave it. */
  id: string;
  name: string;
  /** Hash of the token that recorded it. */
  account: string;
  /** Epoch ms the entry was last written or used. */
  at: number;
}

export interface LedgerKey {
  provider: string;
  endpoint: string;
  account: string;
  file: string;
  parent?: string;
  to: string;
}

export function ledgerKey(k: LedgerKey): string {
  const file = process.platform === 'win32' ? k.file.toLowerCase() : k.file;
  return createHash('sha256')
    .update(JSON.stringify([k.provider, k.endpoint, k.account, file, k.parent ?? '', k.to]))
    .digest('hex')
    .slice(0, 32);
}

export function ledgerPath(dir: string): string {
  return path.join(dir, LEDGER_FILE);
}

/** The entries on disk; a missing or unreadable ledger is an empty one (it is a cache: the drive is the truth). */
export function readLedger(dir: string): Map<string, LedgerEntry> {
  try {
    const raw = JSON.parse(fs.readFileSync(ledgerPath(dir), 'utf8')) as { v?: number; entries?: Record<string, LedgerEntry> };
    if (raw?.v !== VERSION || typeof raw.entries !== 'object' || raw.entries === null) return new Map();
    return new Map(Object.entries(raw.entries).filter(([, e]) => isEntry(e)));
  } catch {
    return new Map();
  }
}

function isEntry(e: unknown): e is LedgerEntry {
  const x = e as LedgerEntry;
  return typeof x === 'object' && x !== null && typeof x.id === 'string' && typeof x.name === 'string' && Number.isSafeInteger(x.size) && typeof x.mtimeMs === 'number' && typeof x.at === 'number';
}

/** The ledger of one command: read once, looked up in memory, written back (merged) once at the end. */
export class Ledger {
  private readonly changed = new Map<string, LedgerEntry>();

  private constructor(
    private readonly dir: string,
    private readonly entries: Map<string, LedgerEntry>,
  ) {}

  static open(dir: string): Ledger {
    return new Ledger(dir, readLedger(dir));
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): LedgerEntry | undefined {
    return this.entries.get(key);
  }

  /** Remembers a finished upload (or a file found in the drive); written by `flush`. */
  record(key: string, entry: Omit<LedgerEntry, 'at'>): void {
    const e = { ...entry, at: Date.now() };
    this.entries.set(key, e);
    this.changed.set(key, e);
  }

  /** Marks an entry used (so pruning keeps it) and its fingerprint as now seen. */
  touch(key: string, fp: FileFingerprint): void {
    const e = this.entries.get(key);
    if (e) this.record(key, { ...e, ctimeMs: fp.ctimeMs, ino: fp.ino });
  }

  /** Drops an entry that no longer holds (the file changed): its next upload records a new one. */
  forget(key: string): void {
    this.entries.delete(key);
    this.changed.set(key, undefined as unknown as LedgerEntry);
  }

  /**
   * Writes what this command changed over what is on disk now (another lakeup may have written
   * meanwhile), keeping the newest MAX_ENTRIES. Nothing changed: nothing written.
   */
  async flush(): Promise<void> {
    if (this.changed.size === 0) return;
    const merged = readLedger(this.dir);
    for (const [k, e] of this.changed) {
      if (e === undefined) merged.delete(k);
      else merged.set(k, e);
    }
    this.changed.clear();
    let kept = [...merged];
    if (kept.length > MAX_ENTRIES) kept = kept.sort((a, b) => b[1].at - a[1].at).slice(0, MAX_ENTRIES);
    await ensureStateDirAsync(this.dir);
    await writeFileAtomic(ledgerPath(this.dir), JSON.stringify({ v: VERSION, entries: Object.fromEntries(kept) }), { mode: 0o600 });
  }
}
