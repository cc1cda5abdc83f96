// One pacer for every API call of a run, so that the files going at once share the account's
// budget instead of each learning the limit on its own:
// - a 429/503 with Retry-After pauses every call of the run, not only the one that was told;
// - after a 429 the pace drops to 85% of the rate that was being achieved (at most once per pause,
//   and only when that rate was measured over a handful of calls), grows back by 10% a second while
//   calls succeed, and after 10 s without a 429 is let go to probe the limit again;
// - at most MAX_IN_FLIGHT calls are in flight, so meeting the limit costs few 429s;
// - when the server says how much is left (`x-ratelimit-remaining` / `-reset`, Copera), the
//   remaining calls are spread evenly until the reset, which keeps clear of 429s altogether: with a
//   token bucket behind the headers the pace settles where the bucket neither fills nor empties.
// Rate headers are advice, not orders: no call waits more than MAX_ADVISED_WAIT_MS on them alone,
// and a call that went while they said nothing was left and still succeeded makes the pacer stop
// holding calls back for them until the next 429 (a server that says `remaining: 0` on every
// answer while serving froze runs). A limit that has held for GIVE_UP_MS without one success ends
// the call with one line instead of waiting on. Every wait ends when the run is interrupted.
import { LakeupError } from '../errors.js';
import { sleep } from '../util/sleep.js';

/** The longest pause one answer can impose (a Retry-After of an hour would look like a hang). */
export const MAX_API_PAUSE_MS = 60_000;
/** The longest a call waits on rate headers alone; then it goes, and its answer says more. */
export const MAX_ADVISED_WAIT_MS = 10_000;
/** A rate limit in force this long without any call succeeding: the call fails with one line. */
export const GIVE_UP_MS = 3 * 60_000;
/**
 * API calls in flight at most, for the whole run. Against an account limit more buy nothing, and
 * when the limit is met every call in flight comes back 429: the first overshoot of a run without
 * rate headers costs at most this many. 8 calls at 50 ms of latency are 160 calls/s.
 */
export const MAX_IN_FLIGHT = 8;
/** A rate is learned only from at least this many calls in the second before the 429. */
const MIN_SAMPLE = 5;
/** A learned rate is let go after this long without a 429 (limits change; other clients come and go). */
const FORGET_AFTER_MS = 10_000;

export interface PacerAnswer {
  status?: number;
  retryAfterMs?: number;
  headers?: Record<string, string | string[] | undefined>;
}

export class ApiPacer {
  private pausedUntil = 0;
  /** Calls per second learned from 429s; Infinity until the first one. */
  private learnedRate = Infinity;
  private lastDecrease = -Infinity;
  private lastIncrease = 0;
  /** What the server's headers allow until `windowEnd` (epoch ms). */
  private windowRemaining = Infinity;
  private windowEnd = 0;
  /** What the last answer's headers said was left (the server's count, not ours). */
  private saidRemaining = Infinity;
  /** A call went while the headers said nothing was left, and succeeded: they are ignored until a 429. */
  private headersOverruled = false;
  /** Since when calls have been refused (429) or held by empty rate headers without a success; 0 when not. */
  private limitedSince = 0;
  private nextSlot = 0;
  private inFlight = 0;
  /** Start times of the calls of the last second, to know the rate achieved. */
  private readonly recent: number[] = [];
  /** Counters for --verbose and the benchmark. */
  readonly stats = { calls: 0, throttled: 0, pausedMs: 0 };

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Calls per second it holds to after a 429 (Infinity until one). */
  get pace(): number {
    return this.learnedRate;
  }

  /** Waits until a call may go; resolves with a function to call with the call's answer. */
  async acquire(signal?: AbortSignal): Promise<(answer: PacerAnswer) => void> {
    let advised = 0; // how long this call has waited on rate headers alone
    for (;;) {
      signal?.throwIfAborted();
      if (this.inFlight >= MAX_IN_FLIGHT) {
        await this.slotFreed(signal);
        continue;
      }
      const t = this.now();
      if (this.limitedSince > 0 && t - this.limitedSince >= GIVE_UP_MS) throw stillLimited(t - this.limitedSince);
      const pause = this.pausedUntil - t;
      const wait = pause > 0 ? pause : Math.min(this.advisedDelay(t), MAX_ADVISED_WAIT_MS - advised);
      if (wait <= 0) break;
      if (pause <= 0) advised += wait;
      this.stats.pausedMs += wait;
      await sleep(wait, signal);
    }
    const t = this.now();
    const rate = this.currentRate(t);
    if (Number.isFinite(rate)) this.nextSlot = Math.max(t, this.nextSlot) + Math.min(1000 / rate, MAX_ADVISED_WAIT_MS);
    // Sent although the server said nothing was left: if it succeeds, its headers were wrong.
    const againstHeaders = this.windowSaysEmpty(t);
    if (t < this.windowEnd) this.windowRemaining--;
    this.recent.push(t);
    while (this.recent.length > 0 && this.recent[0] < t - 1000) this.recent.shift();
    this.stats.calls++;
    this.inFlight++;
    let done = false;
    return (answer) => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (againstHeaders && answer.status !== undefined && answer.status < 400) this.headersOverruled = true;
      this.observe(answer);
      this.freed.shift()?.();
    };
  }

  private readonly freed: Array<() => void> = [];

  private slotFreed(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.freed.indexOf(wake);
        if (i >= 0) this.freed.splice(i, 1);
        reject(signal!.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.freed.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Whether the server's last answer said no call is left before its window ends (and it is believed). */
  private windowSaysEmpty(t: number): boolean {
    return !this.headersOverruled && t < this.windowEnd && this.saidRemaining <= 0;
  }

  /** How long a call starting at `t` should wait, by our pace and the server's rate headers. */
  private advisedDelay(t: number): number {
    if (this.windowSaysEmpty(t) || (!this.headersOverruled && t < this.windowEnd && this.windowRemaining <= 0)) return this.windowEnd - t;
    const rate = this.currentRate(t);
    return Number.isFinite(rate) ? this.nextSlot - t : 0;
  }

  private currentRate(t: number): number {
    let rate = this.learnedRate;
    if (!this.headersOverruled && t < this.windowEnd && Number.isFinite(this.windowRemaining)) {
      // Pace only when going on as now would run out before the reset: a short run with plenty
      // of budget left goes at full speed.
      const secs = Math.max((this.windowEnd - t) / 1000, 0.001);
      const achieved = this.recent.filter((s) => s >= t - 1000).length;
      if (achieved * secs > this.windowRemaining) rate = Math.min(rate, Math.max(this.windowRemaining, 0.5) / secs);
    }
    return rate;
  }

  private observe(a: PacerAnswer): void {
    const t = this.now();
    this.readHeaders(a.headers, t);
    if (a.status === 429) {
      // A refusal is the server's word: its headers count again, and the limit is in force.
      this.headersOverruled = false;
      if (this.limitedSince === 0) this.limitedSince = t;
    } else if (a.status !== undefined && a.status < 400) {
      this.limitedSince = 0;
    }
    if (a.status !== undefined && a.status < 400 && this.windowSaysEmpty(t) && this.limitedSince === 0) this.limitedSince = t;
    if (a.status === 429 || a.status === 503) {
      this.stats.throttled++;
      const pause = Math.min(Math.max(a.retryAfterMs ?? 1000, 0), MAX_API_PAUSE_MS);
      // One cut per throttle window: the calls that were in flight when the limit hit get their
      // 429s too, and must not cut the pace again and again.
      const achieved = this.recent.filter((s) => s >= t - 1000).length;
      if (t >= this.lastDecrease + Math.max(pause, 1000) && achieved >= MIN_SAMPLE) {
        this.learnedRate = Math.max(1, Math.min(this.learnedRate, achieved) * 0.85);
        this.lastDecrease = t;
        this.lastIncrease = t + pause;
      }
      this.pausedUntil = Math.max(this.pausedUntil, t + pause);
      return;
    }
    if (a.status !== undefined && a.status < 400 && Number.isFinite(this.learnedRate)) {
      if (t - this.lastDecrease >= FORGET_AFTER_MS) this.learnedRate = Infinity;
      else if (t - this.lastIncrease >= 1000) {
        this.learnedRate *= 1.1;
        this.lastIncrease = t;
      }
    }
  }

  private readHeaders(headers: PacerAnswer['headers'], t: number): void {
    if (!headers) return;
    const remaining = num(headers['x-ratelimit-remaining'] ?? headers['ratelimit-remaining']);
    const resetText = first(headers['x-ratelimit-reset'] ?? headers['ratelimit-reset']);
    const end = resetText === undefined ? undefined : resetAt(resetText, t);
    if (remaining === undefined || end === undefined || end <= t) return;
    // The window is the server's (an hourly budget spreads over the hour); only a wait is capped.
    this.windowEnd = end;
    this.saidRemaining = remaining;
    // The server counted what it had answered; calls still in flight will spend some of it.
    this.windowRemaining = remaining - this.inFlight;
  }
}

/**
 * When a rate window ends (epoch ms), from a reset header in any form servers use: seconds from
 * now, epoch seconds, epoch milliseconds, or an HTTP date. Undefined when it is none of them.
 */
export function resetAt(value: string, now: number): number | undefined {
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    if (n >= 1e12) return n; // epoch milliseconds (1e12 ms is 2001)
    if (n >= 1e9) return n * 1000; // epoch seconds (1e9 s is 2001; no delta is 30 years)
    return now + n * 1000;
  }
  if (!/[a-z]/i.test(s)) return undefined;
  const d = Date.parse(s);
  return Number.isNaN(d) ? undefined : d;
}

function stillLimited(ms: number): LakeupError {
  const minutes = Math.round(ms / 60_000);
  return new LakeupError('server', `the API's rate limit has not reset in ${minutes} minute${minutes === 1 ? '' : 's'}: try later`, {
    code: 'RATE_LIMITED',
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function num(v: string | string[] | undefined): number | undefined {
  const s = first(v);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
