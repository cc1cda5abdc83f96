// The journal of a run of several files (several paths, a --recursive folder): which files are in
// the drive, which were being finalized, which drive folders the run made. Running the same command
// again reads it to skip finished files and reuse folders, so nothing is uploaded or created twice.
//
// Format: NDJSON, append-only, mode 0600, in the state folder as `<key>.run.ndjson`. The first line
// says which run it belongs to; every later line is one record:
//   {"t":"dir","path":["photos","2024"],"id":"…"}              a drive folder the run made or found
//   {"t":"fin","f":"/abs/a.txt","to":"photos/a.txt","size":1,"mtimeMs":2,"at":3}  finalize is about to be sent
//     (+ "session":{"uploadId","fileKey","done":[…]} for a file without a state file: a rerun finalizes it again)
//   {"t":"nofin","f":"/abs/a.txt","to":"photos/a.txt"}          finalize was refused: it made nothing
//   {"t":"done","f":"/abs/a.txt","to":"photos/a.txt","size":1,"mtimeMs":2,"id":"…","name":"…"}  in the drive
//   {"t":"acct","a":"…"}                                         another token proved to be of the run's account
// A file is known by its path and where it goes (relative to the run's destination): one file
// named twice to two places is two entries.
// Records are batched into one write() of whole lines: a process killed with -9 loses nothing that
// was written, and a torn last line (power loss) is ignored on load. Appending keeps the cost per
// file O(1) where rewriting a JSON document after each of 10,000 files would be O(files²).
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { FinishedPart, ProviderName } from '../types.js';
import type { FinishedFile } from './journal-store.js';

export const JOURNAL_VERSION = 1;

/** What identifies a run: the same command run again has the same key. */
export interface RunIdentity {
  provider: ProviderName;
  endpoint: string;
  /** The destination folder id given with --parent (undefined: the drive's root). */
  parent: string | undefined;
  /** The sources as absolute paths, sorted. */
  sources: string[];
  /** `--shard K/N`, when the run is one shard of a split (part of the identity). */
  shard?: string;
  /**
   * The token that started the run (a hash, never the token). Not part of the key: a new token of the same account
   * finds the journal and proves its account by looking up an item the journal recorded (upload/run-journal.ts).
   */
  account?: string;
  /** What else the command said about where and how files land: `lakeup resume <run>` replays it. Not part of the key. */
  options?: RunOptions;
  /** The folder the run was started from: `lakeup resume` with no id resumes the runs started there. Not part of the key. */
  cwd?: string;
}

export interface RunOptions {
  recursive?: boolean;
  skipExisting?: boolean;
  /** --again, --checksum. */
  again?: boolean;
  checksum?: boolean;
  onConflict?: string;
  mimeType?: string;
  partSize?: number;
  /** --include/--exclude, in order. */
  filters?: Array<{ kind: 'include' | 'exclude'; glob: string }>;
  /** --no-follow-symlinks. */
  noFollowSymlinks?: boolean;
  /** --limit-rate, bytes a second: a resume is held to it too. */
  limitRate?: number;
}

export interface JournalHeader extends RunIdentity {
  v: typeof JOURNAL_VERSION;
  kind: 'lakeup-run';
  key: string;
  createdAt: number;
  pid: number;
}

export interface FinalizingFile {
  size: number;
  mtimeMs: number;
  /** Epoch ms just before finalize was sent: the item, if it exists, was created no earlier. */
  at: number;
  parts?: number;
  /** The multipart ETag the item gets, when computable (MemoryLake exposes it). */
  etag?: string;
  /**
   * The session finalize was sent for, when the file keeps no state file of its own (one part): a
   * rerun finalizes that same session again rather than a new one the earlier finalize, still
   * under way at the server, could land beside.
   */
  session?: FinalizingSession;
}

export interface FinalizingSession {
  uploadId: string;
  fileKey?: string;
  done: FinishedPart[];
}

/** A file of the run: its absolute path, and its destination relative to the run's (folder path and name). */
export interface JournalEntry {
  file: string;
  to: string;
}

export function entryKey(e: JournalEntry): string {
  return `${e.file}\n${e.to}`;
}

export type JournalRecord =
  | { t: 'dir'; path: string[]; id: string }
  | ({ t: 'fin'; f: string; to: string } & FinalizingFile)
  | { t: 'nofin'; f: string; to: string }
  | ({ t: 'done'; f: string; to: string } & FinishedFile)
  | { t: 'acct'; a: string };

/**
 * The key of a run: what the command names, not the token. `slot` > 0: the same command's run for another
 * account (the first slot is whichever account ran it first).
 */
export function runKey(id: RunIdentity, slot = 0): string {
  const key = JSON.stringify([id.provider, id.endpoint.replace(/\/+$/, ''), id.parent ?? null, [...id.sources].sort(), id.shard ?? null, ...(slot > 0 ? [slot] : [])]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** The key an older lakeup gave the run, with a hash of the token in it: its journal is still this token's run. */
export function legacyRunKey(id: RunIdentity): string {
  const key = JSON.stringify([id.provider, id.endpoint.replace(/\/+$/, ''), id.parent ?? null, [...id.sources].sort(), id.shard ?? null, id.account ?? null]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** A whole `done` record: the file it finished, under its entry's key; undefined for anything else. */
export function finishedOf(r: JournalRecord): { key: string; file: FinishedFile } | undefined {
  if (!r || typeof r !== 'object' || r.t !== 'done') return undefined;
  if (!isEntry(r) || !isCount(r.size) || !isCount(r.mtimeMs) || typeof r.id !== 'string' || typeof r.name !== 'string') return undefined;
  return { key: entryKey({ file: r.f, to: r.to }), file: { size: r.size, mtimeMs: r.mtimeMs, id: r.id, name: r.name } };
}

export function journalPath(dir: string, key: string): string {
  return path.join(dir, `${key}.run.ndjson`);
}

export function sameIdentity(h: Partial<JournalHeader>, id: RunIdentity): boolean {
  return (
    h.provider === id.provider &&
    typeof h.endpoint === 'string' &&
    h.endpoint.replace(/\/+$/, '') === id.endpoint.replace(/\/+$/, '') &&
    (h.parent ?? undefined) === id.parent &&
    Array.isArray(h.sources) &&
    JSON.stringify([...h.sources].sort()) === JSON.stringify([...id.sources].sort()) &&
    (h.shard ?? undefined) === id.shard
  );
}

/** An entry key back into its record fields. */
export function entryOf(key: string): { f: string; to: string } {
  const nl = key.indexOf('\n');
  return { f: key.slice(0, nl), to: key.slice(nl + 1) };
}

export function isEntry(r: { f?: unknown; to?: unknown }): boolean {
  return typeof r.f === 'string' && typeof r.to === 'string';
}

/** A finalize record's session, when it is whole (an older or damaged record has none). */
export function sessionOf(x: unknown): FinalizingSession | undefined {
  const s = x as Partial<FinalizingSession> | undefined;
  if (!s || typeof s !== 'object' || typeof s.uploadId !== 'string' || !s.uploadId || !Array.isArray(s.done) || s.done.length === 0) return undefined;
  if (s.fileKey !== undefined && typeof s.fileKey !== 'string') return undefined;
  const whole = s.done.every((d) => d && Number.isInteger(d.number) && d.number >= 1 && typeof d.etag === 'string' && d.etag !== '' && isCount(d.size));
  return whole ? { uploadId: s.uploadId, fileKey: s.fileKey, done: s.done.map((d) => ({ number: d.number, etag: d.etag, md5: d.md5, size: d.size })) } : undefined;
}

export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}
