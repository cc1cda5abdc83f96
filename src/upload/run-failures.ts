// What one file's failure means for the rest of its run, so that one cause is said once: a token
// the API refuses (401/403) stops the run — no new file starts, the files in flight are stopped
// like on Ctrl-C (their state kept) — and a drive folder that cannot be made is said once, for
// every file it holds back.
import { setMaxListeners } from 'node:events';
import { LakeupError } from '../errors.js';
import { FolderFailure } from './folders.js';

export type Verdict =
  /** Ctrl-C (or SIGTERM): the run is interrupted. */
  | 'interrupted'
  /** The run stopped on a refused token: this file is not sent, and has no line of its own. */
  | 'stopped'
  /** A failure of this file: reported. */
  | 'failed';

export class RunFailures {
  private readonly stop = new AbortController();
  /** Aborts on Ctrl-C and when the run stops: what every file and lookup of the run listens to. */
  readonly signal: AbortSignal;
  private refusal?: LakeupError;
  private readonly folders = new Set<FolderFailure>();

  /** `many`: more than one file (a single file's refusal is its own failure line). */
  constructor(
    interrupt: AbortSignal,
    private readonly many: boolean,
  ) {
    this.signal = AbortSignal.any([interrupt, this.stop.signal]);
    // Every file in flight listens on it (see signals.ts): not a leak.
    setMaxListeners(0, this.signal);
  }

  judge(e: unknown): Verdict {
    const kind = (e as LakeupError)?.kind;
    if (this.refusal && (kind === 'interrupted' || kind === 'auth')) return 'stopped';
    if (kind === 'auth' && this.many) {
      this.refusal = e as LakeupError;
      this.stop.abort(new LakeupError('interrupted', 'the run stopped: the API refused the token', { code: 'RUN_STOPPED' }));
      return 'stopped';
    }
    return kind === 'interrupted' ? 'interrupted' : 'failed';
  }

  /**
   * The line of a folder's failure the first time a file meets it, saying how many files it holds
   * back (`heldBack`); undefined for every later file (it fails without a line of its own).
   */
  folderLine(e: FolderFailure, heldBack: (segments: string[]) => number): FolderFailure | undefined {
    if (this.folders.has(e)) return undefined;
    this.folders.add(e);
    const n = heldBack(e.segments);
    return e.withSuffix(`; the ${n} file${n === 1 ? '' : 's'} in it ${n === 1 ? 'was' : 'were'} not sent`);
  }

  /** The one line of a run stopped by a refused token (undefined when it did not stop), with what was left unsent. */
  stoppedLine(total: number, notSent: number): LakeupError | undefined {
    const e = this.refusal;
    if (!e) return undefined;
    return new LakeupError(e.kind, `${e.message}; the run stopped: ${notSent} of ${total} files not sent`, { status: e.status, code: e.code, cause: e });
  }
}
