// The gate for part PUTs, shared by every file of a run: at most `limit` parts in flight.
//
// `limit` moves by AIMD. A congestion signal (429/503 from the storage; in adaptive mode also a
// failed attempt) halves it, once per congestion event: parts that were already in flight when it
// was cut carry a ticket from before the cut, and their failures do not cut again (a burst of N
// SlowDowns is one event, not N). After a cut it grows back by one per `limit` successful parts,
// that is about one per round of parts in flight, up to where it was. New parts also wait out any
// Retry-After pause.
//
// Adaptive mode (`--concurrency auto`) also finds the link's best, without putting more bytes at
// risk than a few seconds of sending:
// - It starts at AUTO_START and doubles while the bytes handed to the sockets (`sent`, measured
//   over steps of STEP_MS while every slot is busy, after SETTLE_MS in which new connections fill
//   their socket buffers at memory speed) grow in proportion; the first step that does not pay goes
//   back to the level before it, and one whose parts would take more than RISK_SECONDS comes down.
//   Measuring bytes as they go, not finished parts, is what lets a long path with per-connection
//   limits reach 64 within a second (a round of 16 MiB parts there takes a second or more) and a
//   slow link come down to a few parts after its first 300 ms.
// - After that, per window of finished parts (Little's law: limit × the median of their size /
//   duration, which parts finishing in bunches cannot skew) it probes a quarter higher or lower now
//   and then, keeping the higher level only if it paid, the lower one if it cost nothing.
// - Whatever the phase, the parts in flight hold at most about RISK_SECONDS of sending at the rate
//   measured (at least RISK_FLOOR parts): a part that has not finished is what Ctrl-C must wait for
//   and kill -9 loses, so on a slow or rate-limited link few parts go at once and each finishes
//   soon. `--limit-rate` tells the rate before a byte is sent (`rateHint`).
// It never exceeds `max`. Why start at 16: all 16 parts of a 256 MiB file behind a long path go at
// once (measured: 8 more after a step of 300 ms cost 15% of the time there), while on an unknown
// slow link the first round is the only one with more than ~2 s of sending in flight.

/** The longest pause a Retry-After can impose on new parts. */
export const MAX_PAUSE_MS = 60_000;
/** Parts in flight at the start under `--concurrency auto`. */
export const AUTO_START = 16;
/** The most parts in flight `--concurrency auto` ever reaches. */
export const AUTO_MAX = 64;
/** Probes never go below this (a cut can: the server asked). */
const AUTO_MIN = 4;

/** A throughput window closes once this many of its parts finished (at least 2, at most a round). */
const WINDOW_PARTS = 8;
/** In hold, a probe a quarter higher or lower every this many windows. */
const PROBE_EVERY = 3;
/** How long the start phase measures each level (every slot busy) before it doubles or settles… */
export const STEP_MS = 200;
/** …after this long: a new connection takes its socket buffers' worth (MiBs) at once, which is not the link's rate. */
export const SETTLE_MS = 100;
/** The sending rate is sampled this often (a gap without sending starts a new sample). */
const SAMPLE_MS = 250;
/** Parts in flight hold at most this many seconds of sending at the measured rate (auto only)… */
export const RISK_SECONDS = 2;
/** …but never fewer parts than this. */
export const RISK_FLOOR = 2;

export interface LimiterOptions {
  /** Find the best limit from measured throughput (`--concurrency auto`). Default false: `max` is pinned. */
  adaptive?: boolean;
  /** Adaptive mode's first limit; default AUTO_START (never above `max`). */
  initial?: number;
  /** The most bytes per second the sending can reach, when known in advance (`--limit-rate`). */
  rateHint?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** The run's limiter for `--concurrency`: a number pins the parts in flight, 'auto' adapts up to AUTO_MAX. */
export function limiterFor(concurrency: number | 'auto', rateHint?: number): AdaptiveLimiter {
  return concurrency === 'auto' ? new AdaptiveLimiter(AUTO_MAX, { adaptive: true, rateHint }) : new AdaptiveLimiter(concurrency);
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
  /** Bytes handed to the sockets so far (`sent`). */
  private sentTotal = 0;
  /** The start phase's current step: since when every slot has been busy, since when it measures, and the bytes sent by then. */
  private stepAt = -1;
  private stepFrom = -1;
  private stepBytes = 0;
  /** The rate sample under way, and the smoothed rate (bytes/ms; 0: not known yet). */
  private sampleAt = -1;
  private sampleBytes = 0;
  private lastSentAt = -1;
  private rate = 0;
  /** The most the sending can reach, told in advance (`--limit-rate`; bytes/ms, 0: not told). */
  private readonly ceilingRate: number = 0;
  /** Smoothed size of the parts asked for (bytes; 0: not known yet). */
  private partBytes = 0;
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
    if (this.adaptive && opts.rateHint && opts.rateHint > 0) this.rate = this.ceilingRate = opts.rateHint / 1000;
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
  acquire(signal?: AbortSignal, bytes = 0): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.adaptive && bytes > 0) {
      this.partBytes = this.partBytes > 0 ? this.partBytes * 0.8 + bytes * 0.2 : bytes;
      this.capAtRisk();
    }
    if (this.waiters.length === 0 && this.inUse < this.current && this.now() >= this.pausedUntil) {
      this.inUse++;
      this.noteBusy();
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
   * `bytes` more of a part were handed to its socket. Adaptive mode measures the sending rate from
   * these: the start phase's steps, and the bound on what parts in flight may hold.
   */
  sent(bytes: number): void {
    if (!this.adaptive) return;
    const now = this.now();
    this.sentTotal += bytes;
    // A pause in sending (between files, waiting out a throttle) is not a slow link.
    if (this.lastSentAt < 0 || now - this.lastSentAt > SAMPLE_MS) {
      this.sampleAt = now;
      this.sampleBytes = this.sentTotal;
    } else if (now - this.sampleAt >= SAMPLE_MS) {
      const r = (this.sentTotal - this.sampleBytes) / (now - this.sampleAt);
      this.rate = this.rate > 0 ? this.rate * 0.6 + r * 0.4 : r;
      this.sampleAt = now;
      this.sampleBytes = this.sentTotal;
      this.capAtRisk();
    }
    this.lastSentAt = now;
    if (this.phase === 'start' && this.stepAt >= 0) {
      if (this.stepFrom < 0) {
        if (now - this.stepAt >= SETTLE_MS) {
          this.stepFrom = now;
          this.stepBytes = this.sentTotal;
        }
      } else if (now - this.stepFrom >= STEP_MS) this.step((this.sentTotal - this.stepBytes) / (now - this.stepFrom));
    }
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

  /** The most parts in flight that hold no more than RISK_SECONDS of sending at `rate` (bytes/ms). */
  private atRiskAt(rate: number): number {
    if (!(rate > 0) || !(this.partBytes > 0)) return this.max;
    return Math.max(RISK_FLOOR, Math.floor((rate * RISK_SECONDS * 1000) / this.partBytes));
  }

  private get atRisk(): number {
    return this.atRiskAt(this.rate);
  }

  /**
   * Lowers the limit to what the bound on bytes at risk allows (never raises it). In the start
   * phase only a rate told in advance counts: the steps judge the rest from their own fresher
   * measurement, since the smoothed rate lags a doubling that paid and would undo it.
   */
  private capAtRisk(): void {
    if (this.phase === 'start' && !this.ceilingRate) return;
    const cap = this.phase === 'start' ? this.atRiskAt(this.ceilingRate) : this.atRisk;
    if (cap >= this.current) return;
    this.setLimit(cap);
    this.stepAt = -1;
    this.resetWindow();
  }

  /** Every slot has just become busy: the start phase's step at this level can begin. */
  private noteBusy(): void {
    if (this.phase === 'start' && this.stepAt < 0 && this.inUse >= this.current) {
      this.stepAt = this.now();
      this.stepFrom = -1;
    }
  }

  /** The start phase: one step of `rate` (bytes/ms) at the current limit, every slot busy. */
  private step(rate: number): void {
    this.stepAt = -1;
    const grewEnough = rate > this.baseRate * (1 + (this.current / Math.max(1, this.baseLimit) - 1) / 2);
    if (this.baseRate > 0 && !grewEnough) return this.settle(this.baseLimit);
    // Parts that take more than RISK_SECONDS at this level: come down to the ones that do not.
    const cap = this.atRiskAt(rate);
    if (cap < this.current) return this.settle(cap);
    this.baseLimit = this.current;
    this.baseRate = rate;
    // More parts in flight cannot beat a rate told in advance.
    const next = Math.min(this.max, this.current * 2, this.ceilingRate ? this.atRiskAt(this.ceilingRate) : Infinity);
    if (next <= this.current) return this.settle(this.current);
    this.setLimit(next);
    this.resetWindow();
    this.grant();
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
      return; // the start phase moves on bytes sent (`step`), not on finished parts
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
        const top = Math.min(this.max, this.atRisk);
        const up = this.probeUp ? this.current < top : this.current <= AUTO_MIN;
        const next = up ? Math.min(top, this.current + step) : Math.max(AUTO_MIN, this.current - step);
        if (next !== this.current) {
          this.phase = 'probe';
          this.setLimit(next);
        }
      }
    }
  }

  private settle(limit: number): void {
    this.phase = 'hold';
    this.windowsInHold = 0;
    this.baseRate = 0; // the windows of finished parts measure afresh
    this.setLimit(limit);
    this.resetWindow();
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
    this.noteBusy();
  }
}
