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
import fs from 'node:fs/promises';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { renameWithRetry } from './atomic-write.js';
import type { FinishedPart, ProviderName } from '../types.js';
import { removeFile } from './remove.js';
import { isId } from './state-dir.js';
import { FinishedIndex, readLines, rewriteJournal, type FinishedFile } from './journal-store.js';

export type { FinishedFile } from './journal-store.js';

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
}

interface Header extends RunIdentity {
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

type JournalRecord =
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
function finishedOf(r: JournalRecord): { key: string; file: FinishedFile } | undefined {
  if (!r || typeof r !== 'object' || r.t !== 'done') return undefined;
  if (!isEntry(r) || !isCount(r.size) || !isCount(r.mtimeMs) || typeof r.id !== 'string' || typeof r.name !== 'string') return undefined;
  return { key: entryKey({ file: r.f, to: r.to }), file: { size: r.size, mtimeMs: r.mtimeMs, id: r.id, name: r.name } };
}

export function journalPath(dir: string, key: string): string {
  return path.join(dir, `${key}.run.ndjson`);
}

export type JournalLoad =
  | { status: 'missing' }
  /** `damaged`: lines that could not be read and were skipped (the rest of the journal still counts). */
  | { status: 'ok'; journal: RunJournal; damaged: number }
  | { status: 'invalid'; reason: string; file: string };

/** Record lines a journal may hold before it is worth rewriting (a few MB at most). */
export const COMPACT_MIN_LINES = 10_000;

export class RunJournal {
  readonly finished = new FinishedIndex();
  readonly finalizing = new Map<string, FinalizingFile>();
  readonly folders = new Map<string, string>();
  /** The tokens (hashes) known to be of the run's account: the one that started it, and those proved since. */
  readonly accounts = new Set<string>();
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private writing: Promise<void> | undefined;
  private handle: fs.FileHandle | undefined;
  private failed: unknown;
  /** The file's first line, once known (read, or written). */
  private headerLine: string | undefined;
  /** Record lines in the file, and the bytes they and the header take. */
  private lines = 0;
  private bytes = 0;

  private constructor(
    readonly file: string,
    readonly identity: RunIdentity,
    readonly key: string,
    /** Whether the file holds records of an earlier attempt. */
    readonly resumed: boolean,
  ) {
    if (identity.account) this.accounts.add(identity.account);
  }

  /** Reads the journal of this run, if there is one. Anything unusable is reported, never trusted. */
  static async load(dir: string, identity: RunIdentity, key = runKey(identity)): Promise<JournalLoad> {
    const file = journalPath(dir, key);
    // Read a line at a time: a million-file run's journal is never in memory whole. A last line
    // without its newline (torn by a crash mid-write) never counted and is left out.
    const read = { bytes: 0 };
    const lines = readLines(file, read);
    let batch: IteratorResult<string[]>;
    try {
      batch = await lines.next();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
      return { status: 'invalid', reason: `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, file };
    }
    if (batch.done) {
      // Not even its header was whole: a run killed while it wrote its first line. It holds no
      // record, so it is as good as missing (and set aside it would only be debris).
      await removeFile(file);
      return { status: 'missing' };
    }
    const first = { value: batch.value[0]! };
    let header: Partial<Header>;
    try {
      header = JSON.parse(first.value);
    } catch {
      await lines.return(undefined);
      return { status: 'invalid', reason: 'its first line is not a run header', file };
    }
    const invalid = (reason: string): JournalLoad => ({ status: 'invalid', reason, file });
    if (header?.kind !== 'lakeup-run') return (await lines.return(undefined), invalid('its first line is not a run header'));
    if (header.v !== JOURNAL_VERSION) return (await lines.return(undefined), invalid(`it has version ${String(header.v)}, expected ${JOURNAL_VERSION}`));
    if (header.key !== key || !sameIdentity(header, identity)) return (await lines.return(undefined), invalid('it belongs to another run'));
    const j = new RunJournal(file, { ...identity, account: header.account }, key, true);
    j.headerLine = first.value;
    // A damaged line (a disk error, a hand edit) costs only its own record: every other file
    // the journal knows stays skipped rather than uploaded a second time.
    let damaged = 0;
    const replay = (rows: string[], from: number) => {
      for (let i = from; i < rows.length; i++) {
        j.lines++;
        try {
          if (j.apply(JSON.parse(rows[i]!) as JournalRecord)) damaged++;
        } catch {
          damaged++;
        }
      }
    };
    try {
      replay(batch.value, 1);
      for await (const rows of lines) replay(rows, 0);
    } catch (err) {
      return invalid(`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    j.bytes = read.bytes;
    return { status: 'ok', journal: j, damaged };
  }

  /** Records that still count: one per finished, finalizing file, folder and account. */
  private get live(): number {
    return this.finished.size + this.finalizing.size + this.folders.size + this.accounts.size;
  }

  /**
   * Rewrites the file with only the records that still count when superseded ones (a file's
   * `fin` once it is `done`, a `nofin`) make up a third of it or more, so that the next replay
   * reads about one line per file. Call it under the run's lock, with no write in flight.
   */
  async compactIfWorth(): Promise<boolean> {
    if (this.headerLine === undefined || this.lines < COMPACT_MIN_LINES || this.lines < 1.5 * this.live) return false;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await rewriteJournal(this.file, this.liveLines(), this.bytes);
    this.lines = this.live;
    this.bytes = (await fs.stat(this.file)).size;
    return true;
  }

  /** The header, then every record that still counts, as lines: a replay of them makes the same journal. */
  private *liveLines(): Generator<string> {
    yield this.headerLine!;
    for (const a of this.accounts) if (a !== this.identity.account) yield JSON.stringify({ t: 'acct', a });
    for (const [p, id] of this.folders) yield JSON.stringify({ t: 'dir', path: JSON.parse(p), id });
    // `done` before `fin`: a file finished once and being sent again (it changed) has both.
    for (const [k, f] of this.finished.entries()) yield JSON.stringify({ t: 'done', ...entryOf(k), ...f });
    for (const [k, f] of this.finalizing) yield JSON.stringify({ t: 'fin', ...entryOf(k), ...f });
  }

  /** A fresh journal for this run (nothing is written until the first record). */
  static create(dir: string, identity: RunIdentity, key = runKey(identity)): RunJournal {
    return new RunJournal(journalPath(dir, key), identity, key, false);
  }

  private apply(r: JournalRecord): string | undefined {
    if (!r || typeof r !== 'object') return 'is not a record';
    switch (r.t) {
      case 'dir':
        if (!Array.isArray(r.path) || typeof r.id !== 'string' || !r.id) return 'is a folder record without path and id';
        this.folders.set(JSON.stringify(r.path), r.id);
        return undefined;
      case 'fin':
        if (!isEntry(r) || !isCount(r.size) || !isCount(r.mtimeMs) || !isCount(r.at)) return 'is an incomplete finalize record';
        this.finalizing.set(entryKey({ file: r.f, to: r.to }), { size: r.size, mtimeMs: r.mtimeMs, at: r.at, parts: r.parts, etag: r.etag, session: sessionOf(r.session) });
        return undefined;
      case 'nofin':
        if (!isEntry(r)) return 'is an incomplete record';
        this.finalizing.delete(entryKey({ file: r.f, to: r.to }));
        return undefined;
      case 'done': {
        const done = finishedOf(r);
        if (!done) return 'is an incomplete file record';
        this.finalizing.delete(done.key);
        this.finished.set(done.key, done.file);
        return undefined;
      }
      case 'acct':
        if (typeof r.a !== 'string' || !r.a) return 'is an account record without a token hash';
        this.accounts.add(r.a);
        return undefined;
      default:
        return 'has an unknown record type';
    }
  }

  folder(segments: string[]): string | undefined {
    return this.folders.get(JSON.stringify(segments));
  }

  /** Items the journal says are in the run's drive (newest files first, then folders): who sees one is of its account. */
  knownItems(max: number): string[] {
    const ids = [...[...this.finished.values()].map((f) => f.id).reverse(), ...this.folders.values()];
    return [...new Set(ids)].slice(0, max);
  }

  /** Records that another token (`a`, its hash) proved to be of the run's account. */
  addAccount(a: string): Promise<void> {
    return this.append({ t: 'acct', a });
  }

  /** Records a drive folder of the run; resolves once the record is written. */
  addFolder(segments: string[], id: string): Promise<void> {
    return this.append({ t: 'dir', path: segments, id });
  }

  /** Records that finalize is about to be sent; resolves once written (call it before sending). */
  markFinalizing(e: JournalEntry, f: FinalizingFile): Promise<void> {
    return this.append({ t: 'fin', f: e.file, to: e.to, ...f });
  }

  /** Finalize was refused outright (a 4xx): it made nothing, there is nothing to look up later. */
  markNotFinalized(e: JournalEntry): Promise<void> {
    return this.append({ t: 'nofin', f: e.file, to: e.to });
  }

  /** Records a file as in the drive. Written with the next batch; `flush()` waits for it. */
  markDone(e: JournalEntry, f: FinishedFile): Promise<void> {
    return this.append({ t: 'done', f: e.file, to: e.to, ...f });
  }

  /**
   * A `done` record for `e` that another process appended since the journal was read: `lakeup
   * resume <id>` or a single put that finished one of the run's big files while the run was going
   * (recordDoneInRun). Reads the file again; only asked when a file's state vanished meanwhile.
   */
  async finishedElsewhere(e: JournalEntry): Promise<FinishedFile | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch {
      return undefined;
    }
    const key = entryKey(e);
    let found: FinishedFile | undefined;
    for (const line of text.split('\n')) {
      if (!line.includes('"done"')) continue;
      try {
        const done = finishedOf(JSON.parse(line) as JournalRecord);
        if (done?.key === key) found = done.file;
      } catch {
        /* a damaged line: not this record */
      }
    }
    if (found) this.finished.set(key, found);
    return found;
  }

  /** Resolves when every record so far is written; rejects if writing failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failed) throw this.failed;
  }

  /** Closes the file (after a flush). */
  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => undefined);
  }

  /** Every file of the run is in the drive: the journal has served its purpose. */
  async remove(): Promise<void> {
    await this.close();
    await removeFile(this.file);
  }

  private append(r: JournalRecord): Promise<void> {
    this.apply(r);
    if (this.failed) return Promise.reject(this.failed);
    this.pending.push(`${JSON.stringify(r)}\n`);
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.writing) this.writing = this.drain();
    return p;
  }

  /** One write in flight at a time; everything recorded meanwhile goes out in the next single write. */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.join('');
        const waiters = this.waiters;
        this.pending = [];
        this.waiters = [];
        try {
          const h = await this.open();
          await h.appendFile(batch); // writes it all (a short write is continued, not taken for whole)
          await h.datasync();
          this.lines += waiters.length;
          this.bytes += Buffer.byteLength(batch);
          for (const w of waiters) w.resolve();
          // Grown with superseded records: rewritten between two batches (nothing else writes meanwhile).
          // A rewrite that fails leaves the file as it was, still whole: the run goes on.
          await this.compactIfWorth().catch(() => false);
        } catch (err) {
          this.failed = journalError(this.file, err);
          for (const w of [...waiters, ...this.waiters]) w.reject(this.failed);
          this.waiters = [];
          this.pending = [];
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async open(): Promise<fs.FileHandle> {
    if (this.handle) return this.handle;
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const h = await fs.open(this.file, 'a+', 0o600);
    const { size } = await h.stat();
    if (size === 0) {
      const header: Header = { v: JOURNAL_VERSION, kind: 'lakeup-run', key: this.key, ...this.identity, createdAt: Date.now(), pid: process.pid };
      this.headerLine = JSON.stringify(header);
      await h.appendFile(`${this.headerLine}\n`);
      this.bytes = Buffer.byteLength(this.headerLine) + 1;
      this.lines = 0;
    } else {
      // A last line torn by a crash must not swallow the first record appended after it.
      const last = Buffer.alloc(1);
      await h.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await h.appendFile('\n');
      // What a rewrite stands for from here: all of it (a torn line is not carried over).
      this.bytes = size + (last[0] !== 0x0a ? 1 : 0);
    }
    this.handle = h;
    return h;
  }
}

/**
 * Tells a run that one of its files is in the drive when something else finished it (`lakeup
 * resume <id>`, a single put of the file): one 'done' line appended to the run's journal, if it
 * still has one. Appending a whole line is safe beside a run that is writing too.
 */
export async function recordDoneInRun(dir: string, key: string, e: JournalEntry, f: FinishedFile): Promise<void> {
  if (!isId(key)) return; // read back from a state file: never joined into a path unchecked
  const file = journalPath(dir, key);
  let h: fs.FileHandle;
  try {
    await fs.access(file); // the run is over, or forgotten: nothing to tell (and nothing to create)
    h = await fs.open(file, 'a'); // appends, whatever others append meanwhile
  } catch {
    return;
  }
  try {
    const { size } = await h.stat();
    if (size === 0) return; // the run is over (removed meanwhile), or never wrote: nothing to tell
    const last = Buffer.alloc(1);
    const r = await fs.open(file, 'r');
    try {
      await r.read(last, 0, 1, size - 1);
    } finally {
      await r.close();
    }
    const line = `${JSON.stringify({ t: 'done', f: e.file, to: e.to, ...f })}\n`;
    await h.appendFile(last[0] !== 0x0a ? `\n${line}` : line);
    await h.datasync();
  } finally {
    await h.close();
  }
}

/**
 * Moves an unusable journal aside (kept for inspection) and says where. It must go: appending to it
 * would leave the run without a usable journal, and the next run would upload every file again.
 * A rename refused for good is one clear error.
 */
export async function setJournalAside(file: string): Promise<string> {
  const aside = `${file}.invalid-${Date.now()}`;
  try {
    await renameWithRetry(file, aside); // a scanner holding it on Windows lets go within a second
    return aside;
  } catch (err) {
    throw journalError(file, err);
  }
}

function sameIdentity(h: Partial<Header>, id: RunIdentity): boolean {
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
function entryOf(key: string): { f: string; to: string } {
  const nl = key.indexOf('\n');
  return { f: key.slice(0, nl), to: key.slice(nl + 1) };
}

function isEntry(r: { f?: unknown; to?: unknown }): boolean {
  return typeof r.f === 'string' && typeof r.to === 'string';
}

/** A finalize record's session, when it is whole (an older or damaged record has none). */
function sessionOf(x: unknown): FinalizingSession | undefined {
  const s = x as Partial<FinalizingSession> | undefined;
  if (!s || typeof s !== 'object' || typeof s.uploadId !== 'string' || !s.uploadId || !Array.isArray(s.done) || s.done.length === 0) return undefined;
  if (s.fileKey !== undefined && typeof s.fileKey !== 'string') return undefined;
  const whole = s.done.every((d) => d && Number.isInteger(d.number) && d.number >= 1 && typeof d.etag === 'string' && d.etag !== '' && isCount(d.size));
  return whole ? { uploadId: s.uploadId, fileKey: s.fileKey, done: s.done.map((d) => ({ number: d.number, etag: d.etag, md5: d.md5, size: d.size })) } : undefined;
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

function journalError(file: string, err: unknown): LakeupError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new LakeupError('input', `cannot write the run journal ${file} (${code}); choose another folder with --state-dir or LAKEUP_STATE_DIR`, {
    code: 'STATE_DIR',
    cause: err,
  });
}

/** Summaries of the run journals in a state folder, for `lakeup list` / `abort`. */
export interface RunSummary {
  key: string;
  file: string;
  provider?: ProviderName;
  endpoint?: string;
  parent?: string;
  shard?: string;
  options?: RunOptions;
  sources?: string[];
  cwd?: string;
  finished: number;
  finalizing: number;
  folders: number;
  updatedAt: number;
  invalid?: string;
}

export async function listRuns(dir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new LakeupError('state', `cannot read the state folder ${dir}: ${(err as Error).message}`);
  }
  const out: RunSummary[] = [];
  for (const name of names.sort()) {
    const m = /^([0-9a-f]{16})\.run\.ndjson$/.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    try {
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
      const header = JSON.parse(text.slice(0, text.indexOf('\n'))) as Partial<Header>;
      if (header.kind !== 'lakeup-run' || !Array.isArray(header.sources)) throw new Error('no header');
      const r = await RunJournal.load(dir, header as RunIdentity, m[1]);
      if (r.status !== 'ok') {
        out.push({ key: m[1], file, finished: 0, finalizing: 0, folders: 0, updatedAt: st.mtimeMs, invalid: r.status === 'invalid' ? r.reason : 'missing' });
        continue;
      }
      const j = r.journal;
      out.push({
        key: m[1],
        file,
        provider: header.provider,
        endpoint: header.endpoint,
        parent: header.parent,
        shard: header.shard,
        options: header.options,
        sources: header.sources,
        cwd: header.cwd,
        finished: j.finished.size,
        finalizing: j.finalizing.size,
        folders: j.folders.size,
        updatedAt: st.mtimeMs,
      });
    } catch {
      out.push({ key: m[1], file, finished: 0, finalizing: 0, folders: 0, updatedAt: 0, invalid: 'it is not a run journal' });
    }
  }
  return out;
}
