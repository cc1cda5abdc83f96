// The live progress bar on a terminal: one cli-progress bar per file (bytes, %, speed, ETA),
// redrawn from the trackers; notices are printed above it without tearing it.
import cliProgress from 'cli-progress';
import type { UploadEvents } from '../transfer/events.js';
import { redact } from '../util/redact.js';
import { formatSize } from '../util/sizes.js';
import type { ProgressView } from './progress.js';
import { formatDuration } from './speed.js';
import type { Terminal } from './terminal.js';
import { ProgressTracker } from './tracker.js';

export class BarView implements ProgressView {
  private readonly multi: cliProgress.MultiBar;
  private stopped = false;

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
        stream: process.stderr,
        autopadding: true,
        emptyOnZero: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  track(label: string, events: UploadEvents): ProgressTracker {
    const t = new ProgressTracker(label, events);
    const bar = this.multi.create(1, 0, payload(t, label));
    const render = () => {
      if (this.stopped) return;
      bar.setTotal(Math.max(1, t.total));
      bar.update(t.done, payload(t, label));
    };
    t.onChange(render);
    events.on('part:retry', (r) => {
      if (process.env.LAKEUP_SHOW_RETRIES) this.notice(`part ${r.number}: ${r.reason}, retrying`);
    });
    return t;
  }

  notice(line: string): void {
    if (this.stopped) this.term.err(line);
    else this.multi.log(`${redact(line)}\n`);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multi.stop();
  }
}

function payload(t: ProgressTracker, label: string) {
  const rate = t.rate();
  return {
    label: truncate(label, 24),
    done: formatSize(t.done),
    size: formatSize(t.total),
    speed: `${formatSize(Math.round(rate))}/s`,
    eta_h: t.finished ? '0s' : formatDuration(t.etaMs()),
  };
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}
