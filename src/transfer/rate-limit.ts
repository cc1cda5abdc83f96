// A token bucket shared by every part of every file: `--limit-rate` caps total upload bandwidth.
// The bucket holds at most ~50 ms of traffic so the rate is smooth rather than bursty.

import { sleep } from '../util/sleep.js';

/** Time as the bucket sees it (tests give it one of their own). */
export interface BucketClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: BucketClock = { now: () => performance.now(), sleep };

export class RateLimiter {
  readonly bytesPerSecond: number;
  private readonly capacity: number;
  private tokens: number;
  private last: number;

  constructor(
    bytesPerSecond: number,
    private readonly clock: BucketClock = realClock,
  ) {
    this.bytesPerSecond = bytesPerSecond;
    this.capacity = Math.max(16 * 1024, bytesPerSecond / 20);
    this.tokens = this.capacity;
    this.last = clock.now();
  }

  /** Resolves when `n` bytes may be sent. Larger requests than the bucket are paid for in installments. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    let need = n;
    while (need > 0) {
      signal?.throwIfAborted();
      this.refill();
      // Pay whole installments only: granting whatever trickled in since the last look (a fraction
      // of a byte per microsecond) would spin without ever yielding to the event loop.
      const want = Math.min(need, this.capacity);
      if (this.tokens >= want) {
        this.tokens -= want;
        need -= want;
        continue;
      }
      await this.clock.sleep(Math.max(1, ((want - this.tokens) / this.bytesPerSecond) * 1000), signal);
    }
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
