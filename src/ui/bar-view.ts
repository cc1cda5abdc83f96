// The live progress bar on a terminal (cli-progress). One file: one bar (bytes, %, speed, ETA). A
// run of several files: one overall bar (files done/total, bytes, speed, ETA) and a bar for each of
// at most a few big files in flight; small files show only in the totals. Notices (stderr) and
// result lines (stdout) are printed above the bars the moment they are said; the bars redraw below.
import cliProgress from 'cli-progress';
import type { UploadEvents } from '../events.js';
import { safeText } from './streams.js';
import { formatSize } from '../util/sizes.js';
import type { ProgressView } from './view.js';
import type { RunProgress } from './run-progress.js';
import { formatDuration } from './speed.js';
import type { Terminal } from './terminal.js';
import { ProgressTracker } from './tracker.js';

/** Bars for files in flight, at most. */
export const MAX_FILE_BARS = 4;
/** In a run, a file gets a bar of its own only from this size (smaller ones are over too soon to read). */
export const FILE_BAR_MIN_BYTES = 8 * 1024 * 1024;
const RUN_STEPS = 1000;

/** What of cli-progress's MultiBar the view reaches past its typings for: its cursor and its bars. */
interface MultiInternals {
  terminal: { cursorRelativeReset(): void; clearBottom(): void; newline(): void; lineWrapping(on: boolean): void };
  bars: Array<{ render(force?: boolean): void }>;
}

export class BarView implements ProgressView {
  private readonly multi: cliProgress.MultiBar;
  private stopped = false;
  private run: RunProgress | undefined;
  private runBar: cliProgress.SingleBar | undefined;
  private readonly fileBars = new Map<ProgressTracker, cliProgress.SingleBar>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly term: Terminal) {
    const c = term.chalk;
    this.multi = new cliProgress.MultiBar(
      {
        format: `${c.cyan('{label}')} ${c.green('{bar}')} {percentage}% | {done}/{size} | {speed} | {eta_h}`,
        barCompleteChar: '█',
        barIncompleteChar: '░',
        // Leave room for "label 100% | 1023.9 MiB/1023.9 MiB | 1023.9 MiB/s | ETA 59m59s" (~64 columns).
        barsize: Math.max(10, Math.min(30, term.columns - 66)),
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 50,
        fps: 8,
        stream: term.barStream,
        autopadding: true,
        emptyOnZero: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  showRun(run: RunProgress): void {
    this.run = run;
    // The run's bar moves by its share done (bytes and files both count), in thousandths.
    this.runBar = this.multi.create(RUN_STEPS, 0, runPayload(run));
    // The totals move with every file; a few redraws a second are plenty.
    this.timer = setInterval(() => this.renderRun(), 250);
    this.timer.unref();
  }

  track(label: string, events: UploadEvents): ProgressTracker {
    const t = new ProgressTracker(label, events);
    if (this.run) {
      // A bar of its own only for a big file, and only while there is room.
      events.once('session:ready', (s) => {
        if (!this.stopped && s.total >= FILE_BAR_MIN_BYTES && this.fileBars.size < MAX_FILE_BARS && !t.finished) this.addFileBar(t);
      });
    } else {
      this.addFileBar(t);
    }
    events.on('part:retry', (r) => {
      if (process.env.LAKEUP_SHOW_RETRIES) this.notice(`${label}: part ${r.number}: ${r.reason}, retrying`);
    });
    return t;
  }

  untrack(t: ProgressTracker): void {
    const bar = this.fileBars.get(t);
    // A run's file bars go as their files end; a single file's stays as its last frame, unless it
    // never had a session (already uploaded, or failed first): a `0 B/0 B` bar says nothing.
    if (bar && (this.run || t.total === 0)) {
      this.fileBars.delete(t);
      this.multi.remove(bar);
      // Off the screen now, not at the next redraw: there may be none.
      if (!this.run) this.above(() => undefined);
    }
    this.renderRun();
  }

  private addFileBar(t: ProgressTracker): void {
    const bar = this.multi.create(1, 0, filePayload(t));
    this.fileBars.set(t, bar);
    const render = () => {
      if (this.stopped || !this.fileBars.has(t)) return;
      bar.setTotal(Math.max(1, t.total));
      bar.update(t.done, filePayload(t));
    };
    t.onChange(render);
    render();
  }

  private renderRun(): void {
    if (this.stopped || !this.run || !this.runBar) return;
    this.run.sample();
    this.runBar.update(Math.round(this.run.fraction() * RUN_STEPS), runPayload(this.run));
  }

  notice(line: string): void {
    this.above(() => this.term.err(line));
  }

  result(line: string): void {
    // A stdout that is not the terminal (a file, a pipe) has no bar to keep clear of.
    if (this.term.stdoutIsTTY) this.above(() => this.term.out(line));
    else this.term.out(line);
  }

  /**
   * Writes a line where the bars are and draws them again below it, at once: a line waiting for
   * the next redraw is lost if the run ends first (a failure line was). Terminal writes are
   * synchronous, so stdout's line lands between stderr's erase and redraw.
   */
  private above(write: () => void): void {
    if (this.stopped || !this.multi.isActive) return write();
    const { terminal, bars } = this.multi as unknown as MultiInternals;
    terminal.cursorRelativeReset();
    terminal.clearBottom();
    // The bars turn line wrapping off; a long line above them must wrap, not be cut.
    terminal.lineWrapping(true);
    write();
    terminal.lineWrapping(false);
    // The run's totals as they are now (a walk still going moves them between redraws).
    this.renderRun();
    bars.forEach((bar, i) => {
      if (i > 0) terminal.newline();
      bar.render(true);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.renderRun();
    // The last frame is drawn while line wrapping is still off: cli-progress's own final render
    // (skipped when nothing changed) cuts a line at the width counting colour codes as text.
    if (this.multi.isActive) this.multi.update();
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    // No bar left (a single file's taken off when it failed before its session): cli-progress would
    // still end its final frame with a newline, an empty line under the error line. Clear instead.
    const { bars } = this.multi as unknown as MultiInternals;
    if (bars.length === 0) (this.multi as unknown as { options: { clearOnComplete: boolean } }).options.clearOnComplete = true;
    this.multi.stop();
  }
}

function filePayload(t: ProgressTracker) {
  return {
    label: truncate(safeText(t.label), 24),
    done: formatSize(t.done),
    size: formatSize(t.total),
    speed: `${formatSize(Math.round(t.rate()))}/s`,
    eta_h: t.finalizing ? 'finalizing' : `ETA ${t.finished ? '0s' : formatDuration(t.etaMs())}`,
  };
}

function runPayload(r: RunProgress) {
  return {
    label: truncate(r.filesLabel(), 24),
    done: formatSize(r.bytesDone()),
    size: formatSize(r.bytesTotal),
    speed: `${formatSize(Math.round(r.rate()))}/s`,
    eta_h: r.scanning ? r.scanLine() : r.finalizing() ? 'finalizing' : `ETA ${r.filesEnded >= r.filesTotal ? '0s' : formatDuration(r.etaMs())}`,
  };
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}
