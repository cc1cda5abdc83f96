// Turns one file's upload events into running totals: bytes done, total, speed. Every progress
// view (bar, plain lines, NDJSON) reads a tracker; none of them touches the engine.
import type { UploadEvents } from '../transfer/events.js';
import { SpeedMeter } from './speed.js';

export class ProgressTracker {
  total = 0;
  done = 0;
  resumedBytes = 0;
  retries = 0;
  finished = false;
  readonly startedAt = performance.now();
  private readonly meter = new SpeedMeter();
  private listeners: Array<() => void> = [];

  constructor(
    readonly label: string,
    events: UploadEvents,
  ) {
    events.on('session:ready', (s) => {
      this.total = s.total;
      this.done = s.doneBytes;
      this.resumedBytes = s.doneBytes;
      this.changed();
    });
    events.on('part:progress', (p) => {
      this.done += p.bytes;
      this.changed();
    });
    events.on('part:retry', (r) => {
      this.retries++;
      this.done = Math.max(0, this.done - r.lostBytes);
      this.changed();
    });
    events.on('upload:done', () => {
      this.finished = true;
      this.done = this.total;
      this.changed();
    });
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Bytes per second over the last few seconds. */
  rate(): number {
    return this.meter.rate();
  }

  etaMs(): number {
    const r = this.rate();
    return r > 0 ? ((this.total - this.done) / r) * 1000 : Infinity;
  }

  private changed(): void {
    this.meter.sample(this.done);
    for (const fn of this.listeners) fn();
  }
}
