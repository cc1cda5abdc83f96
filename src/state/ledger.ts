// The ledger: finished uploads this machine remembers, so that the same command run again costs no
// API call for a file that has not changed. One JSON file in the state folder (`ledger.json`, 0600,
// written atomically), keyed by what the upload was (provider, endpoint, account, the file's absolute
// path, its destination folder and name); each entry holds the file's fingerprint when it was sent
// and the item it became. The account is a hash of the token (never the token): an entry another
// token recorded is not found under this one, so that token must prove the file is there by looking
// in the drive, which sees only its own account's items. Bounded: the newest MAX_ENTRIES are kept.
// In memory, a command holds what the file held when it began (for lookups); what it records waits
// on disk (ledger-spill.ts) until the end, so a run's memory does not grow with the files it sends.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FileFingerprint } from '../types.js';
import { appendInBatches, writeAtomicWith } from './atomic-write.js';
import { LedgerSpill } from './ledger-spill.js';
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
 * The ledger of one command: read once and looked up in memory (at most MAX_ENTRIES entries, as
 * JSON text: no object per field); what the command records goes to disk as it comes and is merged
 * into the ledger once, at the end. A command looks each file up once, before it sends it: what it
 * records is for the next command, and a run of a million files holds no more than a run of ten.
 */
export class Ledger {
  /** What this command recorded, in order, waiting on disk for `flush`. */
  private readonly recorded: LedgerSpill;

  private constructor(
    private readonly dir: string,
    /** The entries on disk when the command began. */
    private readonly entries: Map<string, string>,
    /** The version `entries` were read from; null: unknown (after a write), read again to merge. */
    private version: Version | null,
  ) {
    this.recorded = new LedgerSpill(ledgerPath(dir));
  }

  static open(dir: string): Ledger {
    const { entries, version } = readVersioned(dir);
    return new Ledger(dir, entries, version);
  }

  /** Entries known when the command began. */
  get size(): number {
    return this.entries.size;
  }

  /** Entries this command recorded (not yet written into the ledger). */
  get recordedCount(): number {
    return this.recorded.count;
  }

  get(key: string): LedgerEntry | undefined {
    const json = this.entries.get(key);
    return json === undefined ? undefined : (JSON.parse(json) as LedgerEntry);
  }

  /** Remembers a finished upload (or a file found in the drive); written by `flush`. */
  record(key: string, entry: Omit<LedgerEntry, 'at'>): void {
    this.recorded.add(key, JSON.stringify({ ...entry, at: Date.now() }));
  }

  /** Marks an entry used (so pruning keeps it) and its fingerprint as now seen. */
  touch(key: string, fp: FileFingerprint): void {
    const e = this.get(key);
    if (e) this.record(key, { ...e, ctimeMs: fp.ctimeMs, ino: fp.ino });
  }

  /**
   * Writes what this command recorded over what is on disk now (another lakeup may have written
   * meanwhile), keeping the newest MAX_ENTRIES: this command's newest, then the newest of the rest.
   * A member at a time to the file (atomically): no copy of the whole ledger as one string. Nothing
   * recorded: nothing written.
   */
  async flush(): Promise<void> {
    if (this.recorded.count === 0) return;
    // Nobody wrote the file since it was read: what this command read is what is there, and reading
    // it again (parsing every entry: ~140 ms of CPU for 23,000 entries) is saved.
    const unchanged = this.version !== null && (await currentVersion(this.dir)) === this.version;
    const merged = unchanged ? this.entries : readLedger(this.dir);
    this.version = null;
    await ensureStateDirAsync(this.dir);
    const keys = new Set<string>();
    const recorded = this.recorded.members(Math.max(0, this.recorded.count - MAX_ENTRIES), keys);
    async function* members(): AsyncGenerator<string> {
      yield* recorded;
      const rest = [...merged.keys()].filter((k) => !keys.has(k));
      for (const k of rest.slice(Math.max(0, rest.length - (MAX_ENTRIES - keys.size)))) yield `${JSON.stringify(k)}:${merged.get(k)!}`;
    }
    await writeLedger(ledgerPath(this.dir), members());
    await this.recorded.clear();
  }
}

/** Writes the ledger file, `{"v":1,"entries":{…}}`, from its members, a batch at a time, atomically (0600). */
async function writeLedger(file: string, members: AsyncIterable<string>): Promise<void> {
  await writeAtomicWith(file, (h) => appendInBatches(h, ledgerText(members)));
}

async function* ledgerText(members: AsyncIterable<string>): AsyncGenerator<string> {
  yield `{"v":${VERSION},"entries":{`;
  let first = true;
  for await (const m of members) {
    yield first ? m : `,${m}`;
    first = false;
  }
  yield '}}';
}

/** The version on disk now; null: it cannot be told (a stat that failed other than with ENOENT), so it is read again. */
async function currentVersion(dir: string): Promise<Version | null> {
  try {
    return versionOf(await fs.promises.stat(ledgerPath(dir), { bigint: true }));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : null;
  }
}
