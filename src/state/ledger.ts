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

/**
 * The entries on disk, each as its JSON text (one string an entry: no object per field while a run
 * holds them), oldest first; a missing or unreadable ledger is an empty one (it is a cache: the
 * drive is the truth).
 */
export function readLedger(dir: string): Map<string, string> {
  return readVersioned(dir).entries;
}

/**
 * Which write of the ledger file is on disk: every write replaces the file (a rename onto it), so
 * another write is another inode, size or mtime. (Only two later writes within one tick of the
 * filesystem's clock, the second reusing the first's freed inode at the same size, could pass for
 * the version read: their entries would be left out of this command's write. It is a cache; the
 * drive stays the truth.) `undefined`: no file.
 */
type Version = string | undefined;

const versionOf = (st: fs.BigIntStats): string => `${st.ino}:${st.size}:${st.mtimeNs}`;

/** readLedger, and the version of the file it read (stat'ed through the same descriptor). */
function readVersioned(dir: string): { entries: Map<string, string>; version: Version } {
  let entries: Record<string, unknown>;
  let version: Version;
  try {
    const fd = fs.openSync(ledgerPath(dir), 'r');
    let text: string;
    try {
      version = versionOf(fs.fstatSync(fd, { bigint: true }));
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    const raw = JSON.parse(text) as { v?: number; entries?: Record<string, unknown> };
    if (raw?.v !== VERSION || typeof raw.entries !== 'object' || raw.entries === null) return { entries: new Map(), version };
    entries = raw.entries;
  } catch {
    return { entries: new Map(), version };
  }
  const rows: { key: string; at: number; json: string }[] = [];
  for (const key of Object.keys(entries)) {
    const e = entries[key];
    if (isEntry(e)) rows.push({ key, at: e.at, json: JSON.stringify(e) });
  }
  rows.sort((a, b) => a.at - b.at);
  return { entries: new Map(rows.map((r) => [r.key, r.json])), version };
}

function isEntry(e: unknown): e is LedgerEntry {
  const x = e as LedgerEntry;
  return typeof x === 'object' && x !== null && typeof x.id === 'string' && typeof x.name === 'string' && Number.isSafeInteger(x.size) && typeof x.mtimeMs === 'number' && typeof x.at === 'number';
}

/**
 * The ledger of one command: read once, looked up in memory, written back (merged) once at the
 * end. It holds at most MAX_ENTRIES entries, newest last, as JSON text: a run of a million files
 * holds no more than a run of 50,000 (the oldest, which the write would prune, go first).
 */
export class Ledger {
  /** What this command recorded (undefined: forgotten), oldest first, at most MAX_ENTRIES. */
  private readonly changed = new Map<string, string | undefined>();

  private constructor(
    private readonly dir: string,
    private readonly entries: Map<string, string>,
    /** The version `entries` were read from; null: unknown (after a write), read again to merge. */
    private version: Version | null,
  ) {}

  static open(dir: string): Ledger {
    const { entries, version } = readVersioned(dir);
    return new Ledger(dir, entries, version);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): LedgerEntry | undefined {
    const json = this.entries.get(key);
    return json === undefined ? undefined : (JSON.parse(json) as LedgerEntry);
  }

  /** Remembers a finished upload (or a file found in the drive); written by `flush`. */
  record(key: string, entry: Omit<LedgerEntry, 'at'>): void {
    const json = JSON.stringify({ ...entry, at: Date.now() });
    newest(this.entries, key, json);
    newest(this.changed, key, json);
  }

  /** Marks an entry used (so pruning keeps it) and its fingerprint as now seen. */
  touch(key: string, fp: FileFingerprint): void {
    const e = this.get(key);
    if (e) this.record(key, { ...e, ctimeMs: fp.ctimeMs, ino: fp.ino });
  }

  /** Drops an entry that no longer holds (the file changed): its next upload records a new one. */
  forget(key: string): void {
    this.entries.delete(key);
    newest(this.changed, key, undefined);
  }

  /**
   * Writes what this command changed over what is on disk now (another lakeup may have written
   * meanwhile), keeping the newest MAX_ENTRIES. Nothing changed: nothing written.
   */
  async flush(): Promise<void> {
    if (this.changed.size === 0) return;
    // Nobody wrote the file since it was read: what this command holds is already the merge (its
    // changes were applied to what it read, in the same order), and reading it again (parsing and
    // re-serialising every entry: ~140 ms of CPU for 23,000 entries) is saved.
    const unchanged = this.version !== null && (await currentVersion(this.dir)) === this.version;
    const merged = unchanged ? new Map(this.entries) : readLedger(this.dir);
    for (const [k, json] of this.changed) {
      if (json === undefined) merged.delete(k);
      else newest(merged, k, json);
    }
    this.changed.clear();
    this.version = null;
    const kept = [...merged].slice(-MAX_ENTRIES);
    merged.clear();
    await ensureStateDirAsync(this.dir);
    const body = kept.map(([k, json]) => `${JSON.stringify(k)}:${json}`).join(',');
    await writeFileAtomic(ledgerPath(this.dir), `{"v":${VERSION},"entries":{${body}}}`, { mode: 0o600 });
  }
}

async function currentVersion(dir: string): Promise<Version> {
  try {
    return versionOf(await fs.promises.stat(ledgerPath(dir), { bigint: true }));
  } catch {
    return undefined;
  }
}

/** Sets `key` as the newest of `m` (last in its order), dropping the oldest past MAX_ENTRIES. */
function newest<V>(m: Map<string, V>, key: string, value: V): void {
  m.delete(key);
  m.set(key, value);
  if (m.size > MAX_ENTRIES) m.delete(m.keys().next().value as string);
}
