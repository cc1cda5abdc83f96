// What one file's failure means for the rest of its run, so that one cause is said once: a token
// the API refuses (401/403) stops the run — no new file starts, the files in flight are stopped
// like on Ctrl-C (their state kept) — and a drive folder that cannot be made, or a destination
// folder the API will not list, is said once, for every file it holds back. A state folder that
// cannot be written (full, read-only) stops the run too, and the parts in flight at once: nothing
// more may be sent that cannot be recorded. A finalize already sent finishes (the journal's finalize
// record, written before it, lets a rerun find the file); a single file stops the same way.
import { setMaxListeners } from 'node:events';
import { getSystemErrorMap } from 'node:util';
import { LakeupError } from '../errors.js';
import { ListingFailure } from './drive-index.js';
import { FolderFailure } from './folders.js';
import type { Source } from './sources.js';

export type Verdict =
  /** Ctrl-C (or SIGTERM): the run is interrupted. */
  | 'interrupted'
  /** The run stopped (a refused token, a state folder that cannot be written): this file is not sent, and has no line of its own. */
  | 'stopped'
  /** A failure of this file: reported. */
  | 'failed';

export class RunFailures {
  private readonly stop = new AbortController();
  private readonly now = new AbortController();
  /** Aborts on Ctrl-C and when the run stops: what every file and lookup of the run listens to. */
  readonly signal: AbortSignal;
  /** Aborts on a second Ctrl-C and when the state folder cannot be written: the parts in flight stop too. */
  readonly abortNow: AbortSignal;
  private refusal?: LakeupError;
  private unwritable?: LakeupError;
  /** The files each folder failure held back: the first of them, and how many. */
  private readonly heldBack = new Map<FolderFailure, { src: Source; n: number }>();
  /** One FolderFailure per destination folder that could not be listed (and its words). */
  private readonly unlisted = new Map<string, FolderFailure>();

  /**
   * `many`: more than one file (a single file's refusal is its own failure line). `stateDir`: named
   * when it cannot be written. `graceMs`: how long the parts in flight may go on after a refusal
   * (Ctrl-C's grace): they need no token, but the run must not go on for minutes after its line.
   */
  constructor(
    interrupt: AbortSignal,
    private readonly many: boolean,
    abortNow?: AbortSignal,
    private readonly stateDir = '',
    private readonly graceMs = Infinity,
  ) {
    this.signal = AbortSignal.any([interrupt, this.stop.signal]);
    this.abortNow = AbortSignal.any([...(abortNow ? [abortNow] : []), this.now.signal]);
    // Every file in flight listens on them (see signals.ts): not a leak.
    setMaxListeners(0, this.signal);
    setMaxListeners(0, this.abortNow);
  }

  /**
   * Whether `e` says the state folder cannot be written; if so the run stops here, files and parts
   * in flight included. For what fails beside a file's own outcome (its journal's `done` record).
   */
  stateUnwritable(e: unknown): boolean {
    if (!(e instanceof LakeupError) || e.code !== 'STATE_DIR') return false;
    if (!this.unwritable) {
      this.unwritable = e;
      const why = new LakeupError('interrupted', 'the run stopped: the state folder cannot be written', { code: 'RUN_STOPPED' });
      this.stop.abort(why);
      this.now.abort(why);
    }
    return true;
  }

  judge(e: unknown): Verdict {
    const kind = (e as LakeupError)?.kind;
    if (this.stateUnwritable(e)) return 'stopped';
    if ((this.refusal || this.unwritable) && (kind === 'interrupted' || kind === 'auth')) return 'stopped';
    if (kind === 'auth' && this.many) {
      this.refusal = e as LakeupError;
      const why = new LakeupError('interrupted', 'the run stopped: the API refused the token', { code: 'RUN_STOPPED' });
      this.stop.abort(why);
      if (Number.isFinite(this.graceMs)) setTimeout(() => this.now.abort(why), this.graceMs).unref();
      return 'stopped';
    }
    return kind === 'interrupted' ? 'interrupted' : 'failed';
  }

  /**
   * A file's failure as the run tells it: with several files, a destination folder the API would not
   * list (each file asks again, in case it was passing) becomes one FolderFailure per cause, like a
   * folder that cannot be made.
   */
  asRunFailure(e: unknown, src: Source): unknown {
    if (!this.many || !(e instanceof ListingFailure)) return e;
    const key = `${e.parent ?? ''}\n${e.message}`;
    let f = this.unlisted.get(key);
    if (!f) this.unlisted.set(key, (f = new FolderFailure(src.folder ?? [], e, e.message)));
    return f;
  }

  /**
   * A file held back by folder failure `e`: true for the first, whose line waits for the count (the
   * walk may be inside the folder still: `heldBackLines`); false for every later one, which fails
   * without a line of its own.
   */
  holdBack(e: FolderFailure, src: Source): boolean {
    const held = this.heldBack.get(e);
    if (held) held.n++;
    else this.heldBack.set(e, { src, n: 1 });
    return held === undefined;
  }

  /** Each folder failure's one line, saying how many files it held back, with the first of them. */
  *heldBackLines(): Generator<{ line: FolderFailure; src: Source }> {
    for (const [e, { src, n }] of this.heldBack) {
      yield { line: e.withSuffix(`; the ${n} file${n === 1 ? '' : 's'} in it ${n === 1 ? 'was' : 'were'} not sent`), src };
    }
  }

  /**
   * The one line of a run stopped by a refused token or a state folder that cannot be written
   * (undefined when it did not stop, or nothing was left unsent), with what was left unsent.
   */
  stoppedLine(total: number, notSent: number): LakeupError | undefined {
    const e = this.refusal;
    if (e) return new LakeupError(e.kind, `${e.message}; the run stopped: ${notSent} of ${total} files not sent`, { status: e.status, code: e.code, cause: e });
    const u = this.unwritable;
    if (!u || notSent === 0) return undefined;
    const code = (u.cause as NodeJS.ErrnoException | undefined)?.code;
    const what = total === 1 ? 'the upload stopped' : `stopped; ${notSent} of ${total} files not sent`;
    return new LakeupError(u.kind, `cannot write to the state folder ${this.stateDir} (${errnoWords(code)}): ${what} — ${remedy(code)}`, { code: u.code, cause: u });
  }
}

/**
 * Another lakeup holds the run's lock: it is sending these files, so none of them failed (a summary
 * of 'N failed' said so). One line saying this command sent none of them; its exit code stays the lock's.
 */
export function drivenElsewhere(e: unknown, files: number): LakeupError | undefined {
  if (!(e instanceof LakeupError) || e.code !== 'LOCKED') return undefined;
  const what = files === 1 ? 'its file was not sent by this one' : `none of its ${files} files were sent by this one`;
  return new LakeupError(e.kind, `${e.message}: ${what}`, { code: e.code, cause: e });
}

/** `no space left on device` for ENOSPC: the system's words for an error code (the code itself when it has none). */
export function errnoWords(code: string | undefined): string {
  if (!code) return 'unknown error';
  for (const [name, words] of getSystemErrorMap().values()) if (name === code) return words;
  return code;
}

/** What to do about a state folder that cannot be written: the same command again finds what was recorded there. */
function remedy(code: string | undefined): string {
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'free space and run the same command again';
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return 'make it writable and run the same command again';
  return 'fix it or choose another folder with --state-dir or LAKEUP_STATE_DIR, and run the same command again';
}
