// The journal of a run of several files (several paths, a --recursive folder): which files are in
// the drive, which were being finalized, which drive folders the run made. Running the same command
// again reads it to skip finished files and reuse folders, so nothing is uploaded or created twice.
// This file is the journal of one run as a process keeps it (load, replay, batched appends, compaction,
// and `recordDoneInRun` for another process that finishes one of its files); the record format, the
// run's identity and key are in journal-format.ts, the listing for `lakeup list` in run-list.ts.
import fs from 'node:fs/promises';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { renameWithRetry } from './atomic-write.js';
import { removeFile } from './remove.js';
import { isId } from './state-dir.js';
import { compactJournal } from './journal-compact.js';
import { FinishedIndex, readLines, type FinishedFile } from './journal-store.js';
import {
  entryKey,
  finishedOf,
  isCount,
  isEntry,
  JOURNAL_VERSION,
  journalPath,
  runKey,
  sameIdentity,
  sessionOf,
  type FinalizingFile,
  type JournalEntry,
  type JournalHeader,
  type JournalRecord,
  type RunIdentity,
} from './journal-format.js';

export type { FinishedFile } from './journal-store.js';
export {
  entryKey,
  journalPath,
  JOURNAL_VERSION,
  legacyRunKey,
  runKey,
  type FinalizingFile,
  type FinalizingSession,
  type JournalEntry,
  type RunIdentity,
  type RunOptions,
} from './journal-format.js';

export type JournalLoad =
  | { status: 'missing' }
  /** `damaged`: lines that could not be read and were skipped (the rest of the journal still counts). */
  | { status: 'ok'; journal: RunJournal; damaged: number }
  | { status: 'invalid'; reason: string; file: string };

/** Record lines a journal may hold before it is worth rewriting (a few MB at most). */
export const COMPACT_MIN_LINES = 10_000;

export class RunJournal {
  /**
   * The files earlier attempts finished, as read from the file; the scan takes each as it judges its
   * file. What this process finishes is written, not held: nothing asks about a file twice in a run
   * (a rewrite reads the file), so a run's memory does not grow with the files it sends.
   */
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
  /** Record lines in the file, and of them the `done` records. */
  private lines = 0;
  private doneLines = 0;

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
    const lines = readLines(file);
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
    let header: Partial<JournalHeader>;
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
          if (j.apply(JSON.parse(rows[i]!) as JournalRecord, true)) damaged++;
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
    return { status: 'ok', journal: j, damaged };
  }

  /** Records that still count: one per finished (a file sent twice counts twice), finalizing file, folder and account. */
  private get live(): number {
    return this.doneLines + this.finalizing.size + this.folders.size + this.accounts.size;
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
    const kept = await compactJournal(this.file);
    this.lines = kept.lines;
    this.doneLines = kept.done;
    return true;
  }

  /** A fresh journal for this run (nothing is written until the first record). */
  static create(dir: string, identity: RunIdentity, key = runKey(identity)): RunJournal {
    return new RunJournal(journalPath(dir, key), identity, key, false);
  }

  /** A record's effect; `replayed`: read from the file (a finished file is then indexed for the scan). */
  private apply(r: JournalRecord, replayed: boolean): string | undefined {
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
        if (replayed) this.finished.set(done.key, done.file);
        this.doneLines++;
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
    this.apply(r, false);
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
      const header: JournalHeader = { v: JOURNAL_VERSION, kind: 'lakeup-run', key: this.key, ...this.identity, createdAt: Date.now(), pid: process.pid };
      this.headerLine = JSON.stringify(header);
      await h.appendFile(`${this.headerLine}\n`);
      this.lines = 0;
    } else {
      // A last line torn by a crash must not swallow the first record appended after it.
      const last = Buffer.alloc(1);
      await h.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await h.appendFile('\n');
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

function journalError(file: string, err: unknown): LakeupError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new LakeupError('input', `cannot write the run journal ${file} (${code}); choose another folder with --state-dir or LAKEUP_STATE_DIR`, {
    code: 'STATE_DIR',
    cause: err,
  });
}
