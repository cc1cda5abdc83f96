// What every progress view does (progress.ts makes one per mode; bar-view.ts is the live bar): its own
// module, so the views and what feeds them import the type without importing each other.
import type { UploadEvents } from '../events.js';
import type { RunProgress } from './run-progress.js';
import type { ProgressTracker } from './tracker.js';

export interface ProgressView {
  /** Starts showing one file's upload. */
  track(label: string, events: UploadEvents): ProgressTracker;
  /** The file ended (done or failed): the view lets go of it. */
  untrack(t: ProgressTracker): void;
  /** A run of several files: the view shows its totals too. */
  showRun(run: RunProgress): void;
  /** Prints a one-line notice (stderr) without tearing the bar. */
  notice(line: string): void;
  /** Prints a file's result line (stdout) as the file ends, without tearing the bar. */
  result(line: string): void;
  /** Stops all rendering (before the final result is printed). */
  stop(): void;
}
