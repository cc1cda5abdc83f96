// What a run tells whoever watches it. The upload layer knows no terminal: the CLI passes in an
// observer (src/cli/run-views.ts) that draws progress, prints result lines and logs with --verbose.
import type { UploadEvents } from '../events.js';
import type { LeftOutResult, PutResult, SkippedResult } from '../types.js';
import type { ScanCounts } from './run-items.js';

/** How one file of a run ended, as its progress counts it. */
export type FileEnd = 'uploaded' | 'skipped' | 'failed' | 'interrupted';

/** Each file's outcome as it is known: a result line, a JSON line, the manifest. */
export interface RunResults {
  uploaded(r: PutResult): void;
  skipped(r: SkippedResult): void;
  leftOut(r: LeftOutResult): void;
}

export interface RunObserver extends RunResults {
  /** A one-line notice for the user (stderr), said without tearing a live bar. */
  notice(line: string): void;
  /** A run of several files begins; `counts` grow as the scan finds files (its totals). */
  runBegins(counts: ScanCounts): void;
  /**
   * One file begins: `label` is its path in the drive, `display` its name in lines, `events` its
   * upload's event stream. Returns what to call, once, when the file ends.
   */
  fileBegins(label: string, display: string, events: UploadEvents): (size: number, end: FileEnd) => void;
  /** A file an earlier attempt of the run finished: it ends without beginning. */
  fileSkipped(size: number): void;
}
