// An adaptive gate for part PUTs: at most `limit` parts in flight, where `limit` halves when the
// server throttles (429/503) and grows back by one after a run of successes; new parts also wait
// until any Retry-After pause has passed.

/** The longest pause a Retry-After can impose on new parts. */
export const MAX_PAUSE_MS = 60_000;

export class AdaptiveLimiter {
  readonly max: number;
  private current: number;
  private inUse = 0;
  private pausedUntil = 0;
  private streak = 0;
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(max: number) {
    this.max = Math.max(1, max);
    this.current = this.max;
  }

  get limit(): number {
    return this.current;
  }

  get active(): number {
    return this.inUse;
  }

  /** Waits for a slot. Rejects with the signal's reason when it aborts. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      if (this.inUse < this.current && now >= this.pausedUntil) {
        this.inUse++;
        return;
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== wake);
          if (this.waiters.length === 0 && this.timer) {
            clearTimeout(this.timer);
            this.timer = undefined;
          }
          reject(signal!.reason);
        };
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.armTimer();
      });
    }
  }

  /** Gives a slot back; `ok` says whether the part succeeded, which slowly restores concurrency. */
  release(ok: boolean): void {
    this.inUse = Math.max(0, this.inUse - 1);
    if (ok) {
      this.streak++;
      if (this.current < this.max && this.streak >= this.current * 2) {
        this.current++;
        this.streak = 0;
      }
    }
    this.wakeAll();
  }

  /** The server said slow down: halve concurrency and pause new parts for `pauseMs`. */
  throttle(requestedPauseMs: number): { concurrency: number; pauseMs: number } {
    // A Retry-After of an hour would look like a hang: honour up to a minute, then probe again.
    const pauseMs = Math.min(Math.max(0, requestedPauseMs), MAX_PAUSE_MS);
    this.current = Math.max(1, Math.floor(this.current / 2));
    this.streak = 0;
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pauseMs);
    // The timer is armed by the first part that waits: an abandoned pause (Ctrl-C, a fatal
    // error) leaves no timer behind to keep the process alive.
    return { concurrency: this.current, pauseMs };
  }

  private armTimer(): void {
    const wait = this.pausedUntil - Date.now();
    if (wait <= 0 || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wakeAll();
    }, wait);
  }

  private wakeAll(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
