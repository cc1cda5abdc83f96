// Running totals of a run of several files: files done / failed / total, bytes, speed, ETA. The run
// updates it; the views read it (one overall bar, a periodic overall line). Files in flight are
// counted through their trackers, and dropped when they end, so memory stays flat over any count.
import { SpeedMeter } from './speed.js';
import type { ProgressTracker } from './tracker.js';

export class RunProgress {
  filesDone = 0;
  filesSkipped = 0;
  filesFailed = 0;
  /** Bytes of files that ended (sent, skipped or failed). */
  private bytesEnded = 0;
  private readonly active = new Set<ProgressTracker>();
  private readonly meter = new SpeedMeter();
  private sentEnded = 0;

  constructor(
    readonly filesTotal: number,
    /** Bytes of every file of the run, skipped ones included (known once the files are stat'ed). */
    readonly bytesTotal: number,
  ) {}

  start(t: ProgressTracker): void {
    this.active.add(t);
  }

  /**
   * A file ended: its bytes count as ended whatever the outcome (for the ETA), except an
   * interrupted one's, which count as far as they got (after Ctrl-C the bar said 100%) and which
   * is not counted as failed.
   */
  end(t: ProgressTracker | undefined, size: number, outcome: 'uploaded' | 'skipped' | 'failed' | 'interrupted'): void {
    if (t) {
      this.active.delete(t);
      this.sentEnded += t.done - t.resumedBytes;
    }
    this.bytesEnded += outcome === 'interrupted' ? (t?.done ?? 0) : size;
    if (outcome === 'failed') this.filesFailed++;
    else if (outcome !== 'interrupted') {
      this.filesDone++;
      if (outcome === 'skipped') this.filesSkipped++;
    }
    this.sample();
  }

  get filesEnded(): number {
    return this.filesDone + this.filesFailed;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Bytes of the run accounted for: ended files whole, files in flight as far as they got. */
  bytesDone(): number {
    let n = this.bytesEnded;
    for (const t of this.active) n += t.done;
    return n;
  }

  /** Bytes sent by this process (not skipped or resumed ones): what the speed is made of. */
  bytesSent(): number {
    let n = this.sentEnded;
    for (const t of this.active) n += t.done - t.resumedBytes;
    return n;
  }

  sample(now = performance.now()): void {
    this.meter.sample(this.bytesSent(), now);
  }

  rate(): number {
    return this.meter.rate();
  }

  etaMs(): number {
    const r = this.rate();
    return r > 0 ? ((this.bytesTotal - this.bytesDone()) / r) * 1000 : Infinity;
  }
}
