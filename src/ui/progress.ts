// Progress views, all listeners on trackers: a live cli-progress bar on a terminal, plain lines at
// most every few seconds otherwise (no ANSI codes), the same at a log's pace inside GitHub Actions,
// NDJSON events for wrappers, or nothing.
import type { UploadEvents } from '../events.js';
import { formatSize } from '../util/sizes.js';
import type { RunProgress } from './run-progress.js';
import { sentWords } from './results.js';
import { formatDuration } from './speed.js';
import type { Terminal } from './terminal.js';
import { ProgressTracker } from './tracker.js';
import type { ProgressMode } from '../types.js';
import type { ProgressView } from './view.js';

export type { ProgressMode, ProgressView };

/**
 * How often the `github` view reports: a job's log is read after the fact, scrolled and searched;
 * a line every 30 s tells a long run is moving without burying its results.
 */
export const GITHUB_INTERVAL_MS = 30_000;


/** The view for a mode. The bar (cli-progress) is loaded only when a terminal will show it. */
export async function createProgressView(mode: ProgressMode, term: Terminal, opts: { intervalMs?: number } = {}): Promise<ProgressView> {
  switch (mode) {
    case 'bar': {
      const { BarView } = await import('./bar-view.js');
      return new BarView(term);
    }
    case 'plain':
      return new PlainView(term, opts.intervalMs ?? 5000);
    case 'github':
      return new GithubView(term, opts.intervalMs ?? GITHUB_INTERVAL_MS);
    case 'json':
      return new JsonView(term, opts.intervalMs ?? 1000);
    default:
      return new SilentView(term);
  }
}

class SilentView implements ProgressView {
  constructor(private readonly term: Terminal) {}
  track(label: string, events: UploadEvents): ProgressTracker {
    return new ProgressTracker(label, events);
  }
  untrack(): void {}
  showRun(): void {}
  result(line: string): void {
    this.term.out(line);
  }
  notice(line: string): void {
    // --quiet silences progress, not warnings that change what happens.
    this.term.err(line);
  }
  stop(): void {}
}

/** Views that report every few seconds rather than redrawing: one timer for all tracked files. */
abstract class IntervalView implements ProgressView {
  private timer: NodeJS.Timeout | undefined;
  private readonly trackers = new Set<ProgressTracker>();
  private run: RunProgress | undefined;

  constructor(
    protected readonly term: Terminal,
    private readonly intervalMs: number,
  ) {}

  track(label: string, events: UploadEvents): ProgressTracker {
    const t = new ProgressTracker(label, events);
    this.trackers.add(t);
    this.arm();
    this.listen(label, events);
    return t;
  }

  untrack(t: ProgressTracker): void {
    this.trackers.delete(t);
  }

  showRun(run: RunProgress): void {
    this.run = run;
    this.arm();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // Files big enough to be in flight at report time get a line; a run of many small ones
      // is told by its totals.
      for (const x of this.trackers) if (!x.finished && x.total > 0) this.report(x);
      if (this.run) {
        this.run.sample();
        this.reportRun(this.run);
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  result(line: string): void {
    this.term.out(line);
  }

  /** One periodic report of a file still uploading. */
  protected abstract report(t: ProgressTracker): void;
  /** One periodic report of the run's totals. */
  protected abstract reportRun(r: RunProgress): void;
  /** Per-file events worth a line of their own. */
  protected abstract listen(label: string, events: UploadEvents): void;
  abstract notice(line: string): void;
}

class PlainView extends IntervalView {
  protected listen(label: string, events: UploadEvents): void {
    // Where stdout and stderr are one log (`2>&1`), the file's result line on stdout says it all.
    if (this.term.sameOutput) return;
    events.on('upload:done', (r) => {
      const secs = r.elapsedMs / 1000;
      const { what, rate } = sentWords(r);
      this.term.err(`lakeup: ${label}: done, ${what} in ${secs.toFixed(1)}s (${formatSize(rate)}/s)${r.resumed ? ', resumed' : ''}`);
    });
  }

  protected report(t: ProgressTracker): void {
    const pct = ((t.done / t.total) * 100).toFixed(1);
    const eta = t.finalizing ? 'finalizing' : `ETA ${formatDuration(t.etaMs())}`;
    this.term.err(`lakeup: ${t.label}: ${pct}% ${formatSize(t.done)}/${formatSize(t.total)} ${formatSize(Math.round(t.rate()))}/s ${eta}`);
  }

  protected reportRun(r: RunProgress): void {
    this.term.err(
      `lakeup: ${r.filesLabel()}, ${formatSize(r.bytesDone())}/${formatSize(r.bytesTotal)}, ${formatSize(Math.round(r.rate()))}/s, ${r.scanning ? r.scanLine() : `ETA ${formatDuration(r.etaMs())}`}`,
    );
  }

  notice(line: string): void {
    this.term.err(line);
  }
}

/** Plain lines at a log's pace; a file's end is told by its result line only (both streams are one log). */
class GithubView extends PlainView {
  protected override listen(): void {}
}

/** The same view, with `hook` hearing every file's events as the file is tracked (to count retries, say). */
export function onTrack(view: ProgressView, hook: (events: UploadEvents) => void): ProgressView {
  return {
    track: (label, events) => (hook(events), view.track(label, events)),
    untrack: (t) => view.untrack(t),
    showRun: (r) => view.showRun(r),
    notice: (l) => view.notice(l),
    result: (l) => view.result(l),
    stop: () => view.stop(),
  };
}

class JsonView extends IntervalView {
  private emit(obj: Record<string, unknown>): void {
    this.term.err(JSON.stringify({ time: new Date().toISOString(), ...obj }));
  }

  protected listen(label: string, events: UploadEvents): void {
    events.on('session:ready', (s) => this.emit({ event: 'start', file: label, total: s.total, parts: s.parts, doneBytes: s.doneBytes, resumed: s.resumed }));
    events.on('part:done', (p) => this.emit({ event: 'part', file: label, part: p.number, size: p.size, attempt: p.attempt }));
    events.on('part:retry', (r) => this.emit({ event: 'retry', file: label, part: r.number, attempt: r.attempt, reason: r.reason }));
    events.on('throttle', (r) => this.emit({ event: 'throttle', file: label, pauseMs: r.pauseMs, concurrency: r.concurrency }));
    events.on('session:restart', (r) => this.emit({ event: 'restart', file: label, reason: r.reason }));
    events.on('upload:done', (r) => this.emit({ event: 'done', file: label, bytes: r.size, elapsedMs: r.elapsedMs, bytesPerSecond: r.bytesPerSecond }));
  }

  protected report(t: ProgressTracker): void {
    this.emit({ event: 'progress', file: t.label, bytes: t.done, total: t.total, bytesPerSecond: Math.round(t.rate()) });
  }

  protected reportRun(r: RunProgress): void {
    this.emit({
      event: 'run',
      files: r.filesTotal,
      ...(r.scanning ? { scanning: true } : {}),
      filesDone: r.filesDone,
      filesFailed: r.filesFailed,
      bytes: r.bytesDone(),
      total: r.bytesTotal,
      bytesPerSecond: Math.round(r.rate()),
    });
  }

  notice(line: string): void {
    this.emit({ event: 'notice', message: line });
  }
}
