// The CLI's observer of a run (upload/run-observer.ts): the progress view, the result printer, the
// run's totals and, with --verbose, each call and part attempt of every file.
import type { ProgressView } from '../ui/view.js';
import type { ResultPrinter } from '../ui/results.js';
import { RunProgress } from '../ui/run-progress.js';
import { attachVerbose } from '../ui/verbose.js';
import type { RunObserver } from '../upload/run-observer.js';

export function runViews(view: ProgressView, results: ResultPrinter, verbose: boolean): RunObserver {
  let progress: RunProgress | undefined;
  return {
    notice: (line) => view.notice(line),
    uploaded: (r) => results.uploaded(r),
    skipped: (r) => results.skipped(r),
    leftOut: (r) => results.leftOut(r),
    runBegins(counts) {
      progress = new RunProgress(counts);
      view.showRun(progress);
    },
    fileBegins(label, display, events) {
      if (verbose) attachVerbose(events, view, display);
      const tracker = view.track(label, events);
      progress?.start(tracker);
      return (size, end) => {
        progress?.end(tracker, size, end);
        view.untrack(tracker);
      };
    },
    fileSkipped(size) {
      progress?.end(undefined, size, 'skipped');
    },
  };
}
