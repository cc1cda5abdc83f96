// Turns one file's upload events into running totals: bytes done, total, speed. Every progress
// view (bar, plain lines, NDJSON) reads a tracker; none of them touches the engine.
import type { UploadEvents } from '../events.js';
import { SpeedMeter } from './speed.js';

/** How often chunk progress reaches the listeners (other events always do, at once). */
export const PROGRESS_EVERY_MS = 50;

export class ProgressTracker {
  total = 0;
  done = 0;
  resumedBytes = 0;
  finished = false;
  /** Every part is in and the server is assembling the file (which can take seconds for a big one). */
  finalizing = false;
  private readonly meter = new SpeedMeter();
  private listeners: Array<() => void> = [];
  private lastNotified = -Infinity;

  constructor(
    readonly label: string,
    events: UploadEvents,
  ) {
    events.on('session:ready', (s) => {
      this.total = s.total;
      this.done = s.doneBytes;
      this.resumedBytes = s.doneBytes;
      this.finalizing = false;
      this.changed();
    });
    events.on('part:progress', (p) => {
      this.done += p.bytes;
      // Progress comes per read chunk (thousands a second on a fast link); views redraw a few
      // times a second at most, so they hear of it every PROGRESS_EVERY_MS. Counts stay exact.
      const now = performance.now();
      if (now - this.lastNotified >= PROGRESS_EVERY_MS) this.changed(now);
    });
    events.on('part:retry', (r) => {
      this.done = Math.max(0, this.done - r.lostBytes);
      this.changed();
    });
    events.on('upload:finalizing', () => {
      // Every part was acknowledged: whatever progress was not yet passed on is in.
      this.finalizing = true;
      this.done = this.total;
      this.changed();
    });
    events.on('upload:done', () => {
      this.finished = true;
      this.finalizing = false;
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

  private changed(now = performance.now()): void {
    this.lastNotified = now;
    this.meter.sample(this.done, now);
    for (const fn of this.listeners) fn();
  }
}
