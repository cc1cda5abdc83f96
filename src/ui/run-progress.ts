// Running totals of a run of several files: files done / failed / total, bytes, speed, ETA. The run
// updates it; the views read it (one overall bar, a periodic overall line). Files in flight are
// counted through their trackers, and dropped when they end, so memory stays flat over any count.
// A file costs bytes and a few API calls: the run is as far along as the lagging one of its bytes
// and its files, and ends no sooner than either is through at its current pace.
import { SpeedMeter } from './speed.js';
import type { ProgressTracker } from './tracker.js';

/** What the scan has found: files and their bytes, `done` once the walk is through. */
export interface RunTotals {
  files: number;
  bytes: number;
  done: boolean;
}

export class RunProgress {
  filesDone = 0;
  filesSkipped = 0;
  filesFailed = 0;
  /** Bytes of files that ended in the drive (sent or skipped). */
  private bytesEnded = 0;
  /** Bytes of files that failed: they will not be sent, so they are neither done nor left. */
  private bytesFailed = 0;
  private readonly active = new Set<ProgressTracker>();
  private readonly meter = new SpeedMeter();
  /** Files ended per second (a run of many small files is paced by them, not by bytes). */
  private readonly filesMeter = new SpeedMeter();
  private sentEnded = 0;
  /** The share of files cut off by an interruption: as far as they got, like their bytes. */
  private filesCutShare = 0;

  private readonly totals: RunTotals;

  /**
   * `files`: the run's files, or the scan's counts as they grow (a walk still going: the totals
   * are what it found so far until `done`). `bytes`: of every file of the run, skipped ones included.
   */
  constructor(files: number | RunTotals, bytes = 0) {
    this.totals = typeof files === 'number' ? { files, bytes, done: true } : files;
  }

  get filesTotal(): number {
    return this.totals.files;
  }

  get bytesTotal(): number {
    return this.totals.bytes;
  }

  /** The walk is still finding files: the totals are not known yet. */
  get scanning(): boolean {
    return !this.totals.done;
  }

  /** `12/40 files`, or while the walk goes on `12 files` (the total is not known yet). */
  filesLabel(): string {
    const failed = this.filesFailed ? `, ${this.filesFailed} failed` : '';
    return this.scanning ? `${this.filesDone} files${failed}` : `${this.filesDone}/${this.filesTotal} files${failed}`;
  }

  /** `scanning: 412,000 files found` while the walk goes on. */
  scanLine(): string {
    return `scanning: ${this.filesTotal.toLocaleString('en-US')} files found`;
  }

  start(t: ProgressTracker): void {
    this.active.add(t);
  }

  /**
   * A file ended: its bytes count as done when it is in the drive; a failed one's count as neither
   * done nor left (a run whose every file failed said 100%, 300 B/300 B); an interrupted one's count
   * as far as they got (after Ctrl-C the bar said 100%), and it is not counted as failed.
   */
  end(t: ProgressTracker | undefined, size: number, outcome: 'uploaded' | 'skipped' | 'failed' | 'interrupted', now = performance.now()): void {
    if (t) {
      this.active.delete(t);
      this.sentEnded += t.done - t.resumedBytes;
      if (outcome === 'interrupted' && t.total > 0) this.filesCutShare += Math.min(1, t.done / t.total);
    }
    if (outcome === 'failed') this.bytesFailed += size;
    else this.bytesEnded += outcome === 'interrupted' ? (t?.done ?? 0) : size;
    if (outcome === 'failed') this.filesFailed++;
    else if (outcome !== 'interrupted') {
      this.filesDone++;
      if (outcome === 'skipped') this.filesSkipped++;
    }
    this.sample(now);
  }

  get filesEnded(): number {
    return this.filesDone + this.filesFailed;
  }

  get inFlight(): number {
    return this.active.size;
  }

  /** Bytes of the run done: files in the drive whole, files in flight as far as they got. */
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

  /** Files of the run accounted for: ended ones whole, files in flight or cut off by the share of bytes they sent. */
  filesProgress(): number {
    let n = this.filesEnded + this.filesCutShare;
    for (const t of this.active) if (t.total > 0) n += Math.min(1, t.done / t.total);
    return n;
  }

  /** How much of the run is in the drive, 0 to 1: the lesser of its bytes' share and its files' share (failed files are not). */
  fraction(): number {
    const bytes = this.bytesTotal > 0 ? this.bytesDone() / this.bytesTotal : 1;
    const files = this.filesTotal > 0 ? (this.filesProgress() - this.filesFailed) / this.filesTotal : 1;
    return Math.max(0, Math.min(1, bytes, files));
  }

  /** Every file left is in flight and being finalized: only the server's work remains. */
  finalizing(): boolean {
    if (this.scanning || this.active.size === 0 || this.filesEnded + this.active.size < this.filesTotal) return false;
    for (const t of this.active) if (!t.finalizing) return false;
    return true;
  }

  sample(now = performance.now()): void {
    this.meter.sample(this.bytesSent(), now);
    this.filesMeter.sample(this.filesEnded, now);
  }

  rate(): number {
    return this.meter.rate();
  }

  /**
   * Time left: the longer of the bytes left at the current speed and the files left at the current
   * pace of files ending (unknown until files end, then it is left out).
   */
  etaMs(): number {
    const bytesLeft = Math.max(0, this.bytesTotal - this.bytesDone() - this.bytesFailed);
    const r = this.rate();
    const byBytes = bytesLeft === 0 ? 0 : r > 0 ? (bytesLeft / r) * 1000 : Infinity;
    const filesLeft = Math.max(0, this.filesTotal - this.filesProgress());
    const pace = this.filesMeter.rate();
    const byFiles = filesLeft > 0 && pace > 0 ? (filesLeft / pace) * 1000 : 0;
    return Math.max(byBytes, byFiles);
  }
}
