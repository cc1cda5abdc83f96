// The gate for part PUTs, shared by every file of a run: at most `limit` parts in flight.
//
// `limit` moves by AIMD. A congestion signal (429/503 from the storage; in adaptive mode also a
// failed attempt) halves it, once per congestion event: parts that were already in flight when it
// was cut carry a ticket from before the cut, and their failures do not cut again (a burst of N
// SlowDowns is one event, not N). After a cut it grows back by one per `limit` successful parts,
// that is about one per round of parts in flight, up to where it was. New parts also wait out any
// Retry-After pause.
//
// Adaptive mode (`--concurrency auto`) also finds the link's best: it starts at AUTO_START and,
// estimating throughput per window from the parts sent at the window's limit (Little's law: limit
// × the median of their size / duration, which parts finishing in bunches cannot skew), doubles
// the limit while that throughput grows in proportion, goes back to the level that did as well
// when it does not, and from there probes a quarter higher or lower now and then (keeping the
// higher level only if it paid, the lower one if it cost nothing). It never exceeds `max`.
//
// Why start at 32 and not lower: a window needs one round of finished parts, and on a long path
// with per-connection limits a round of 10-16 MiB parts takes a second or more, so a small start
// would reach the right level only after the parts of a file of a few hundred MiB are all sent.
// 32 parts in flight cost nothing on a fast link (measured on loopback: same time as 4) and at
// most 8 MiB of buffers (send-part sizes its reads to the number of parts in flight).

/** The longest pause a Retry-After can impose on new parts. */
export const MAX_PAUSE_MS = 60_000;
/** Parts in flight at the start under `--concurrency auto`. */
export const AUTO_START = 32;
/** The most parts in flight `--concurrency auto` ever reaches. */
export const AUTO_MAX = 64;
/** Probes never go below this (a cut can: the server asked). */
const AUTO_MIN = 4;

/** A throughput window closes once this many of its parts finished (at least 2, at most a round). */
const WINDOW_PARTS = 8;
/** In hold, a probe a quarter higher or lower every this many windows. */
const PROBE_EVERY = 3;

export interface LimiterOptions {
  /** Find the best limit from measured throughput (`--concurrency auto`). Default false: `max` is pinned. */
  adaptive?: boolean;
  /** Adaptive mode's first limit; default AUTO_START (never above `max`). */
  initial?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** The run's limiter for `--concurrency`: a number pins the parts in flight, 'auto' adapts up to AUTO_MAX. */
export function limiterFor(concurrency: number | 'auto'): AdaptiveLimiter {
  return concurrency === 'auto' ? new AdaptiveLimiter(AUTO_MAX, { adaptive: true }) : new AdaptiveLimiter(concurrency);
}

interface Waiter {
  grant: (ticket: number) => void;
}

export class AdaptiveLimiter {
  readonly max: number;
  readonly adaptive: boolean;
  private current: number;
  private inUse = 0;
  private pausedUntil = 0;
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  /** Bumped on every cut and every change of limit; tickets carry it. */
  private epoch = 0;
  /** The epoch of the last cut: a failure with an older ticket belongs to a congestion event already answered. */
  private cutEpoch = 0;
  /** The epoch the current window began at: only parts started since count in it. */
  private winEpoch = 0;
  /** Where additive recovery after a cut stops (the level before the first cut of the episode). */
  private ceiling: number;
  /** Fractional progress towards the next +1 of recovery. */
  private credit = 0;

  // Adaptive measurement.
  private phase: 'start' | 'hold' | 'probe' = 'start';
  private winRates: number[] = [];
  private winLimit: number;
  private baseLimit = 0;
  private baseRate = 0;
  private windowsInHold = 0;
  private probeUp = false;

  constructor(max: number, opts: LimiterOptions = {}) {
    this.max = Math.max(1, Math.floor(max));
    this.adaptive = opts.adaptive === true;
    this.now = opts.now ?? Date.now;
    this.current = this.adaptive ? Math.min(this.max, Math.max(1, Math.floor(opts.initial ?? AUTO_START))) : this.max;
    this.ceiling = this.current;
    this.winLimit = this.current;
  }

  get limit(): number {
    return this.current;
  }

  get active(): number {
    return this.inUse;
  }

  /**
   * Waits for a slot; resolves to a ticket to hand back to `throttle` / `failed`. Rejects with the
   * signal's reason when it aborts. Slots are granted in the order asked for.
   */
  acquire(signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.waiters.length === 0 && this.inUse < this.current && this.now() >= this.pausedUntil) {
      this.inUse++;
      return Promise.resolve(this.epoch);
    }
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (ticket) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(ticket);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        if (this.waiters.length === 0 && this.timer) {
          clearTimeout(this.timer);
          this.timer = undefined;
        }
        reject(signal!.reason);
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.grant();
    });
  }

  /**
   * Gives a slot back. `ok`: the part was stored; a success moves recovery after a cut along, and
   * adaptive mode measures its `bytes` over `ms` (from the slot's `ticket` to the answer).
   */
  release(ok: boolean, bytes = 0, ms = 0, ticket?: number): void {
    this.inUse = Math.max(0, this.inUse - 1);
    if (ok) this.succeeded(bytes, ms, ticket);
    this.grant();
  }

  /**
   * The server said slow down: halve concurrency (once per congestion event, see `ticket`) and
   * pause new parts for `requestedPauseMs` (at most a minute).
   */
  throttle(requestedPauseMs: number, ticket?: number): { concurrency: number; pauseMs: number } {
    // A Retry-After of an hour would look like a hang: honour up to a minute, then probe again.
    const pauseMs = Math.min(Math.max(0, requestedPauseMs), MAX_PAUSE_MS);
    this.cut(ticket);
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + pauseMs);
    // The timer is armed by the first part that waits: an abandoned pause (Ctrl-C, a fatal
    // error) leaves no timer behind to keep the process alive.
    return { concurrency: this.current, pauseMs };
  }

  /** An attempt failed in a way that may mean an overloaded link or server (adaptive mode backs off; a pinned limit does not). */
  failed(ticket?: number): void {
    if (this.adaptive) this.cut(ticket);
  }

  private cut(ticket: number | undefined): void {
    if (ticket !== undefined && ticket < this.cutEpoch) return; // this event was answered already
    // `ceiling` (≥ current) stays where the episode began: recovery climbs back to it.
    this.current = Math.max(1, Math.floor(this.current / 2));
    this.cutEpoch = ++this.epoch;
    this.credit = 0;
    if (this.adaptive) {
      // Measure afresh from the new level; probing resumes once recovery is over.
      this.phase = 'hold';
      this.baseRate = 0;
      this.resetWindow();
    }
  }

  private succeeded(bytes: number, ms: number, ticket: number | undefined): void {
    if (this.current < this.ceiling) {
      // Additive increase: +1 per `current` successes.
      this.credit += 1 / this.current;
      if (this.credit >= 1) {
        this.current++;
        this.credit = 0;
        if (this.adaptive) this.resetWindow();
      }
      return;
    }
    if (!this.adaptive) return;
    if (ticket === undefined || ticket < this.winEpoch || !(ms > 0) || !(bytes > 0)) return;
    this.winRates.push(bytes / ms);
    if (this.winRates.length < Math.max(2, Math.min(WINDOW_PARTS, this.winLimit))) return;
    const sorted = this.winRates.sort((a, b) => a - b);
    this.decide(this.winLimit * sorted[sorted.length >> 1]!);
    this.resetWindow();
  }

  /** One closed window of throughput `rate` at limit `winLimit`. */
  private decide(rate: number): void {
    const grewEnough = (from: number, to: number) => rate > this.baseRate * (1 + (to / from - 1) / 2);
    if (this.phase === 'start') {
      if (this.baseRate > 0 && !grewEnough(this.baseLimit, this.winLimit)) {
        this.settle(this.baseLimit);
        return;
      }
      this.baseLimit = this.winLimit;
      this.baseRate = rate;
      if (this.current >= this.max) return this.settle(this.current, rate);
      this.setLimit(Math.min(this.max, this.current * 2));
    } else if (this.phase === 'probe') {
      // (after the start phase settled, the first probe goes down: the start may have overshot)
      const up = this.winLimit > this.baseLimit;
      // Up: keep it only if it paid. Down: keep it if it cost (almost) nothing.
      const keep = up ? grewEnough(this.baseLimit, this.winLimit) : rate >= this.baseRate * 0.95;
      if (keep) {
        this.baseLimit = this.winLimit;
        this.baseRate = rate;
      } else {
        this.setLimit(this.baseLimit);
        this.probeUp = !up; // a probe that did not pay turns round; one that did goes on the same way
      }
      this.phase = 'hold';
      this.windowsInHold = 0;
    } else {
      this.baseRate = this.baseRate > 0 ? Math.max(rate, this.baseRate * 0.9) : rate; // follow the link, a little sticky
      this.baseLimit = this.current;
      if (++this.windowsInHold >= PROBE_EVERY) {
        const step = Math.max(1, Math.ceil(this.current / 4));
        const up = this.probeUp ? this.current < this.max : this.current <= AUTO_MIN;
        const next = up ? Math.min(this.max, this.current + step) : Math.max(AUTO_MIN, this.current - step);
        if (next !== this.current) {
          this.phase = 'probe';
          this.setLimit(next);
        }
      }
    }
  }

  private settle(limit: number, rate?: number): void {
    this.phase = 'hold';
    this.windowsInHold = 0;
    this.setLimit(limit);
    if (rate !== undefined) this.baseRate = rate;
  }

  private setLimit(n: number): void {
    this.current = n;
    this.ceiling = n;
    this.credit = 0;
  }

  private resetWindow(): void {
    this.winEpoch = ++this.epoch;
    this.winRates = [];
    this.winLimit = this.current;
  }

  /** Hands free slots to waiting parts in order, or arms the timer that ends a pause. */
  private grant(): void {
    const wait = this.pausedUntil - this.now();
    if (wait > 0) {
      if (this.waiters.length > 0 && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.grant();
        }, wait);
      }
      return;
    }
    while (this.waiters.length > 0 && this.inUse < this.current) {
      this.inUse++;
      this.waiters.shift()!.grant(this.epoch);
    }
  }
}
