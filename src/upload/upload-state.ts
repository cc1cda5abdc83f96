// Everything one file's upload must not lose, behind one object that put-file talks to: its lock,
// its resumable state and URLs, and what its run's journal (or the run an earlier state names) must
// hear. Found (and judged) when the upload starts, recorded as parts finish, marked before finalize,
// forgotten when the file is in the drive. A file that fits in one part inside a run keeps no state
// file: there is nothing to resume within it, and the run's journal records its finalize (only an
// interruption after its part was sent writes one, so that the part is not sent again).
import { recordDoneInRun, type FinishedFile, type JournalEntry, type RunJournal } from '../state/journal.js';
import { acquireLock, acquireLockQuick, readLock, type Lock } from '../state/lock/index.js';
import { stateDirError } from '../state/state-dir.js';
import { StateWriter } from '../state/state-writer.js';
import {
  loadStateAsync,
  quarantineStateAsync,
  removeStateAsync,
  saveStateFullAsync,
  statePath,
  type StateFile,
  type StateListing,
} from '../state/state-file.js';
import type { Destination, FileFingerprint, FinishedPart, ProviderName, Session } from '../types.js';
import { identityVouches, sameFingerprint, samePath } from './local-file.js';
import { recheckParts } from './part-check.js';
import { partUrlsProblem } from '../http/part-url.js';

export interface UploadStateContext {
  dir: string;
  id: string;
  provider: ProviderName;
  endpoint: string;
  dest: Destination;
  notice: (line: string) => void;
  /** Name shown in notices. */
  display: string;
  /** The run this upload is a file of: recorded in its state; its journal hears of finalize. */
  run?: { journal: RunJournal; entry: JournalEntry };
  /** The state folder as the run listed it when it began (none: look). */
  known?: StateListing;
  /** The state could not be removed (a read-only folder): told, not thrown, since the upload is over. */
  onUnwritable?: (e: unknown) => void;
  /** Ctrl-C: a wait for the lock (another host's lease) ends. */
  signal?: AbortSignal;
  /** --limit-rate, recorded in the state for `lakeup resume <id>`. */
  limitRate?: number;
}

/** What an interrupted upload kept for the next run: its finished parts, on disk. */
export interface KeptParts {
  parts: number;
  of: number;
  bytes: number;
  total: number;
}

export class UploadState {
  private lock: Lock | undefined;
  private writer: StateWriter | undefined;
  /** Whether the state is kept in a file (not only in memory, as a one-part file of a run's is). */
  private persisted = false;
  state!: StateFile;
  /**
   * The run an earlier state of this file named (one `find` resumed, or dropped because the file
   * changed: that run wants the new content): it must hear when the file is done.
   */
  private earlierRun: StateFile['run'];
  /** The state `find` returned matched by size and mtime only: `checkContent` must read its parts before they are trusted. */
  unsure = false;

  constructor(private readonly c: UploadStateContext) {}

  /**
   * Takes the upload's lock (one process drives an upload, whatever commands name the file), then
   * returns the state of an interrupted upload to resume, if any; `resume` false: deletes it unread.
   * A run's files take the quick lock, unless an earlier run left a state or lock for them.
   */
  async open(fp: FileFingerprint, partSize: number | undefined, resume: boolean): Promise<StateFile | undefined> {
    const { known, id } = this.c;
    const mayHaveState = known === undefined || known.states.has(id);
    await this.lockIt(this.c.run !== undefined && !mayHaveState && !known?.locks.has(id));
    if (!resume) await removeStateAsync(this.c.dir, id);
    return resume && mayHaveState ? this.find(fp, partSize) : undefined;
  }

  /**
   * Its state was there when the run began and is gone now that we hold its lock: whoever finished
   * it meanwhile (`lakeup resume <id>`, a single put) told the run's journal first. What it made, if
   * that was this very content.
   */
  async finishedElsewhere(fp: FileFingerprint): Promise<FinishedFile | undefined> {
    const run = this.c.run;
    if (this.persisted || !run || !this.c.known?.states.has(this.c.id)) return undefined;
    const done = await run.journal.finishedElsewhere(run.entry);
    return done && done.size === fp.size && done.mtimeMs === fp.mtimeMs ? done : undefined;
  }

  /** Takes the upload's lock: no other process drives this upload meanwhile. */
  private async lockIt(quick = false): Promise<void> {
    if (this.lock) return;
    const onWait = (line: string) => this.c.notice(`${this.c.display}: ${line}`);
    this.lock = await (quick ? acquireLockQuick : acquireLock)(this.c.dir, this.c.id, onWait, this.c.signal);
  }

  /**
   * The state of an interrupted upload of this same file to the same place, when it can be trusted;
   * anything else is set aside or removed with one notice.
   */
  async find(fp: FileFingerprint, partSize: number | undefined): Promise<StateFile | undefined> {
    const r = await loadStateAsync(this.c.dir, this.c.id);
    if (r.status === 'missing') return undefined;
    await this.lockIt();
    if (r.status === 'invalid') {
      const aside = await quarantineStateAsync(r.file);
      this.c.notice(`ignoring the saved state of an earlier upload because ${r.reason} (moved to ${aside}); starting from the beginning`);
      return undefined;
    }
    const s = r.state;
    if (s.provider !== this.c.provider || s.endpoint !== this.c.endpoint || !samePath(s.file.path, fp.path)) {
      const aside = await quarantineStateAsync(statePath(this.c.dir, this.c.id));
      this.c.notice(`ignoring a saved state that belongs to another upload (moved to ${aside}); starting from the beginning`);
      return undefined;
    }
    // URLs read back from disk are judged as the API's answers are: a state file is not a safe source.
    const badUrl = partUrlsProblem(s.session.urls, this.c.endpoint);
    if (badUrl) {
      const aside = await quarantineStateAsync(statePath(this.c.dir, this.c.id));
      this.c.notice(`ignoring the saved state of an earlier upload because ${badUrl} (moved to ${aside}); starting from the beginning`);
      return undefined;
    }
    if (!sameFingerprint(s.file, fp)) {
      this.c.notice(`${this.c.display} changed since the interrupted upload (size or modification time differ): uploading the current content from the start`);
      await removeStateAsync(this.c.dir, this.c.id);
      this.earlierRun = s.run;
      return undefined;
    }
    if (partSize !== undefined && s.partSize !== undefined && partSize !== s.partSize) {
      this.c.notice(`--part-size differs from the interrupted upload's: resuming with its part size`);
    }
    this.unsure = !identityVouches(s.file, fp) && s.done.length > 0;
    this.state = s;
    this.persisted = true;
    this.earlierRun = s.run;
    return s;
  }

  /**
   * Reads the finished parts of a state `find` could not vouch for and keeps those whose bytes are
   * still the ones sent; the others are sent again, in the same session. The file as it is now
   * becomes the state's fingerprint (saved), so a later resume need not read them again.
   */
  async checkContent(fp: FileFingerprint): Promise<void> {
    if (!this.unsure) return;
    const s = this.state;
    const { same, changed } = await recheckParts(fp.path, s.session.parts, s.done);
    if (changed.length > 0) {
      const n = s.done.length;
      this.c.notice(
        `${this.c.display} changed since the interrupted upload (same size and modification time, but ${changed.length} of the ${n} part${n === 1 ? '' : 's'} sent differ): sending ${changed.length === 1 ? 'it' : 'them'} again`,
      );
    }
    s.done = same;
    s.file = fp;
    this.unsure = false;
    await this.flushPartWrites();
    await saveStateFullAsync(this.c.dir, s, { withUrls: false });
  }

  /**
   * Starts a state for a new session; written to disk unless `inMemory` (a one-part file in a run).
   * `done`: its parts already in the storage (a session the run's journal kept).
   */
  async begin(file: FileFingerprint, session: Session, partSize: number | undefined, inMemory: boolean, done: FinishedPart[] = []): Promise<StateFile> {
    await this.flushPartWrites(); // a write of a replaced session must not land after the new one
    const now = Date.now();
    this.state = {
      version: 1,
      id: this.c.id,
      provider: this.c.provider,
      endpoint: this.c.endpoint,
      dest: this.c.dest,
      file,
      partSize,
      session,
      done,
      run: this.c.run && { key: this.c.run.journal.key, to: this.c.run.entry.to },
      cwd: process.cwd(),
      limitRate: this.c.limitRate,
      createdAt: now,
      updatedAt: now,
    };
    this.writer = undefined;
    this.persisted = !inMemory;
    if (this.persisted) {
      await this.lockIt();
      await saveStateFullAsync(this.c.dir, this.state);
    }
    return this.state;
  }

  /** The session's URLs changed (a refresh): written at once, after any per-part write. */
  async saveUrls(): Promise<void> {
    if (!this.persisted) return;
    await this.writer?.flush().catch(() => undefined);
    await saveStateFullAsync(this.c.dir, this.state);
  }

  /**
   * A part is in the storage: resolves once that is on disk. A failed write (a full or read-only
   * state folder) rejects, and the upload stops: every part sent from then on could not be recorded
   * either, and a resume would send it again.
   */
  async recordPart(p: FinishedPart): Promise<void> {
    this.state.done.push({ number: p.number, etag: p.etag, md5: p.md5, size: p.size });
    if (!this.persisted) return;
    this.writer ??= new StateWriter(this.c.dir, this.state);
    this.writer.schedule();
    await this.writer.flush();
  }

  /**
   * The upload was interrupted: a state kept in memory only (a one-part file of a run) whose part
   * reached the storage is written now, so that the rerun finalizes it rather than send it again.
   */
  private async keep(): Promise<void> {
    if (this.persisted || !this.state || this.state.done.length === 0 || this.state.finalizing) return;
    await this.lockIt();
    await saveStateFullAsync(this.c.dir, this.state);
    this.persisted = true;
  }

  /** Waits until every recorded part is on disk (or its failed write said). */
  async flushPartWrites(): Promise<void> {
    await this.writer?.flush().catch(() => undefined);
  }

  /**
   * Finalize of `parts` (their multipart ETag `etag`) is about to be sent: the state, and the run's
   * journal, say so: if we are cut off now, a rerun must not assume the session is unfinished. Without
   * a state file, the journal is where a rerun finds the session to finalize again. Returns when (our
   * clock) finalize counts as sent.
   */
  async markFinalizing(file: FileFingerprint, parts: FinishedPart[], etag: string | undefined): Promise<number> {
    await this.lock?.confirm(); // still ours (not taken over while this process stalled), or LOCKED
    const at = Date.now();
    this.state.finalizing = true;
    this.state.finalizeSentAt = at;
    if (this.persisted) {
      await this.flushPartWrites();
      await saveStateFullAsync(this.c.dir, this.state, { withUrls: false });
    }
    const { uploadId, fileKey } = this.state.session;
    const session = this.persisted ? undefined : { uploadId, fileKey, done: parts };
    await this.c.run?.journal.markFinalizing(this.c.run.entry, { size: file.size, mtimeMs: file.mtimeMs, at, parts: parts.length, etag, session });
    return at;
  }

  /** Finalize was refused outright: it made nothing, so the state (and the journal) hold an ordinary unfinished upload again. */
  async clearFinalizing(): Promise<void> {
    if (this.state?.finalizing) {
      this.state.finalizing = false;
      this.state.finalizeSentAt = undefined;
      if (this.persisted) await saveStateFullAsync(this.c.dir, this.state, { withUrls: false }).catch(() => undefined);
    }
    await this.c.run?.journal.markNotFinalized(this.c.run.entry).catch(() => undefined);
  }

  /**
   * The file is in the drive as `item`: the run an earlier state named hears of it (when that is not
   * this run, whose caller records it), and the upload's state is deleted.
   */
  async finished(fp: FileFingerprint, item: { id: string; name: string }): Promise<void> {
    const r = this.earlierRun;
    if (r && r.key !== this.c.run?.journal.key) {
      const f = { size: fp.size, mtimeMs: fp.mtimeMs, id: item.id, name: item.name };
      await recordDoneInRun(this.c.dir, r.key, { file: fp.path, to: r.to }, f).catch(() => undefined);
    }
    await this.deleteState();
  }

  /** The upload stopped on an error: an `ephemeral` one's state (a spooled stdin) is deleted, any other's part writes end. */
  async stopped(ephemeral: boolean): Promise<void> {
    if (ephemeral) await this.deleteState().catch(() => undefined);
    else await this.flushPartWrites();
  }

  /**
   * The upload was interrupted: what a rerun will not send again (of an `ephemeral` one, nothing). A
   * state kept in memory only whose part reached the storage is written now (`keep`).
   */
  async interrupted(ephemeral: boolean, size: number): Promise<KeptParts> {
    if (ephemeral) return { parts: 0, of: 0, bytes: 0, total: 0 };
    await this.keep().catch(() => undefined); // not kept: the line counts it so
    // Counted over the files that had a session: their parts, and of those what is on disk.
    const s = this.state as StateFile | undefined;
    const saved = this.persisted ? (s?.done ?? []) : [];
    return { parts: saved.length, of: s?.session.parts.length ?? 0, bytes: saved.reduce((n, d) => n + d.size, 0), total: s ? size : 0 };
  }

  /** The upload is over (in the drive, or abandoned): its own state file is deleted, once its part writes are done. */
  async deleteState(): Promise<void> {
    await this.flushPartWrites();
    if (!this.persisted && !this.lock) return;
    try {
      await removeStateAsync(this.c.dir, this.c.id);
    } catch (err) {
      // Left behind: it says finalize was sent, so a rerun looks the file up rather than send it.
      this.c.onUnwritable?.(stateDirError(this.c.dir, err));
    }
  }

  /** Lets go of the upload's lock (the state, if any, stays). */
  async unlock(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.releaseAsync();
  }
}

/**
 * Deletes the state an earlier attempt left for upload `id` (used when the file turns out to be in
 * the drive already): under its lock, so never one a live lakeup is sending. Resolves whatever
 * happens; a state left behind is harmless, and `lakeup list` still shows it.
 */
export async function deleteLeftState(dir: string, id: string): Promise<void> {
  let lock: Lock;
  try {
    if ((await readLock(dir, id))?.live) return; // not even another host's within its lease: no wait for a chore
    lock = await acquireLock(dir, id);
  } catch {
    return; // another lakeup is sending it right now: it finishes or keeps it
  }
  try {
    await removeStateAsync(dir, id);
  } catch {
    /* left behind */
  } finally {
    await lock.releaseAsync();
  }
}
