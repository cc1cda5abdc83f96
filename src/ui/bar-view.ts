// The live progress bar on a terminal (cli-progress). One file: one bar (bytes, %, speed, ETA). A
// run of several files: one overall bar (files done/total, bytes, speed, ETA) and a bar for each of
// at most a few big files in flight; small files show only in the totals. Notices are printed
// above the bars without tearing them.
import cliProgress from 'cli-progress';
import type { UploadEvents } from '../events.js';
import { safeText } from './streams.js';
import { formatSize } from '../util/sizes.js';
import type { ProgressView } from './progress.js';
import type { RunProgress } from './run-progress.js';
import { formatDuration } from './speed.js';
import type { Terminal } from './terminal.js';
import { ProgressTracker } from './tracker.js';

/** Bars for files in flight, at most. */
export const MAX_FILE_BARS = 4;
/** In a run, a file gets a bar of its own only from this size (smaller ones are over too soon to read). */
export const FILE_BAR_MIN_BYTES = 8 * 1024 * 1024;

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
        format: `${c.cyan('{label}')} ${c.green('{bar}')} {percentage}% | {done}/{size} | {speed} | ETA {eta_h}`,
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
    this.runBar = this.multi.create(Math.max(1, run.bytesTotal), 0, runPayload(run));
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
    if (bar && this.run) {
      this.fileBars.delete(t);
      this.multi.remove(bar);
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
    this.runBar.update(this.run.bytesDone(), runPayload(this.run));
  }

  notice(line: string): void {
    if (this.stopped) this.term.err(line);
    else this.multi.log(`${safeText(line, true)}\n`);
  }

  stop(): void {
    if (this.stopped) return;
    this.renderRun();
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.multi.stop();
  }
}

function filePayload(t: ProgressTracker) {
  return {
    label: truncate(safeText(t.label), 24),
    done: formatSize(t.done),
    size: formatSize(t.total),
    speed: `${formatSize(Math.round(t.rate()))}/s`,
    eta_h: t.finished ? '0s' : formatDuration(t.etaMs()),
  };
}

function runPayload(r: RunProgress) {
  const failed = r.filesFailed ? `, ${r.filesFailed} failed` : '';
  return {
    label: truncate(`${r.filesDone}/${r.filesTotal} files${failed}`, 24),
    done: formatSize(r.bytesDone()),
    size: formatSize(r.bytesTotal),
    speed: `${formatSize(Math.round(r.rate()))}/s`,
    eta_h: r.filesEnded >= r.filesTotal ? '0s' : formatDuration(r.etaMs()),
  };
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}
