// The resumable state of one file's upload, owned in one place: found (and judged) when the upload
// starts, recorded as parts finish, marked before finalize, forgotten when the file is in the drive.
// A file that fits in one part inside a run keeps no state file: there is nothing to resume within
// it, and the run's journal records its finalize (only an interruption after its part was sent
// writes one, so that the part is not sent again).
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
  /** The run this upload is a file of: recorded in its state. */
  run?: { key: string; to: string };
  /** The state could not be removed (a read-only folder): told, not thrown, since the upload is over. */
  onUnwritable?: (e: unknown) => void;
  /** Ctrl-C: a wait for the lock (another host's lease) ends. */
  signal?: AbortSignal;
}

export class UploadState {
  private lock: Lock | undefined;
  private writer: StateWriter | undefined;
  private persisted = false;
  state!: StateFile;
  /** The run named by a state `find` dropped because the file changed: it still has to hear when the file is done. */
  droppedRun: StateFile['run'];
  /** The state `find` returned matched by size and mtime only: `checkContent` must read its parts before they are trusted. */
  unsure = false;

  constructor(private readonly c: UploadStateContext) {}

  /** Whether the state is kept in a file (not only in memory, as a one-part file of a run's is). */
  get onDisk(): boolean {
    return this.persisted;
  }

  /** Takes the upload's lock: no other process drives this upload meanwhile. */
  async lockIt(quick = false): Promise<void> {
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
      this.droppedRun = s.run;
      return undefined;
    }
    if (partSize !== undefined && s.partSize !== undefined && partSize !== s.partSize) {
      this.c.notice(`--part-size differs from the interrupted upload's: resuming with its part size`);
    }
    this.unsure = !identityVouches(s.file, fp) && s.done.length > 0;
    this.state = s;
    this.persisted = true;
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

  /** Starts a state for a new session; written to disk unless `inMemory` (a one-part file in a run). */
  async begin(file: FileFingerprint, session: Session, partSize: number | undefined, inMemory: boolean): Promise<StateFile> {
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
      done: [],
      run: this.c.run,
      cwd: process.cwd(),
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
  async keep(): Promise<void> {
    if (this.persisted || !this.state || this.state.done.length === 0 || this.state.finalizing) return;
    await this.lockIt();
    await saveStateFullAsync(this.c.dir, this.state);
    this.persisted = true;
  }

  /** Waits until every recorded part is on disk (or its failed write said). */
  async flushPartWrites(): Promise<void> {
    await this.writer?.flush().catch(() => undefined);
  }

  /** Finalize is about to be sent: a rerun must not assume the session is unfinished. */
  async markFinalizing(): Promise<void> {
    await this.lock?.confirm(); // still ours (not taken over while this process stalled), or LOCKED
    this.state.finalizing = true;
    this.state.finalizeSentAt = Date.now();
    if (!this.persisted) return;
    await this.flushPartWrites();
    await saveStateFullAsync(this.c.dir, this.state, { withUrls: false });
  }

  /** Finalize was refused outright: it made nothing, so the state is an ordinary unfinished one again. */
  async clearFinalizing(): Promise<void> {
    if (!this.state?.finalizing) return;
    this.state.finalizing = false;
    this.state.finalizeSentAt = undefined;
    if (this.persisted) await saveStateFullAsync(this.c.dir, this.state, { withUrls: false }).catch(() => undefined);
  }

  /** --no-resume: the state an earlier attempt saved is deleted, unread. */
  async deleteEarlierState(): Promise<void> {
    await removeStateAsync(this.c.dir, this.c.id);
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
