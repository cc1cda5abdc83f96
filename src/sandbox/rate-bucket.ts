// The account-wide API rate limit (`--api-rate`): one token bucket shared by every provider API call of both providers
// (not part PUTs, /plain, /s3 or /_sandbox). Capacity is one second of calls (at least 1), refilled continuously; a call
// takes one token or is refused with the wait until a token is there.

/** What the bucket said about one call. */
export interface BucketVerdict {
  ok: boolean;
  /** Whole calls a full bucket holds (x-ratelimit-limit). */
  limit: number;
  /** Whole calls left after this one (x-ratelimit-remaining); 0 when refused. */
  remaining: number;
  /** Epoch seconds, rounded up, at which the bucket is full again (x-ratelimit-reset). */
  resetEpochSec: number;
  /** When refused: whole seconds ≥ 1 until a token is available (Retry-After); 0 when ok. */
  retryAfterSec: number;
}

export class RateBucket {
  private rate = 0;
  private capacity = 0;
  private tokens = 0;
  private stamp = 0;

  /**
   * `now` in ms (monotonic) and `wallNow` in epoch ms; tests pass fake clocks, or fake the global
   * `performance` and `Date` of a whole sandbox (vi.useFakeTimers).
   */
  constructor(
    rate = 0,
    private readonly now: () => number = () => performance.now(),
    private readonly wallNow: () => number = () => Date.now(),
  ) {
    this.setRate(rate);
  }

  /** Calls per second; 0 = unlimited. A changed rate starts with a full bucket; the same rate keeps its state. */
  setRate(rate: number): void {
    if (!(Number.isFinite(rate) && rate >= 0)) throw new RangeError(`apiRate must be a number ≥ 0 (got ${rate})`);
    if (rate === this.rate) return;
    this.rate = rate;
    this.capacity = Math.max(1, rate);
    this.tokens = this.capacity;
    this.stamp = this.now();
  }

  get limited(): boolean {
    return this.rate > 0;
  }

  /** Takes a token for one call; undefined when there is no limit. */
  take(): BucketVerdict | undefined {
    if (!this.limited) return undefined;
    this.refill();
    const ok = this.tokens >= 1;
    if (ok) this.tokens -= 1;
    return { ok, ...this.view(), retryAfterSec: ok ? 0 : Math.max(1, Math.ceil((1 - this.tokens) / this.rate)) };
  }

  /** The bucket's state without taking a token; undefined when there is no limit. */
  peek(): Omit<BucketVerdict, 'ok' | 'retryAfterSec'> | undefined {
    if (!this.limited) return undefined;
    this.refill();
    return this.view();
  }

  private view(): Omit<BucketVerdict, 'ok' | 'retryAfterSec'> {
    const toFullMs = ((this.capacity - this.tokens) / this.rate) * 1000;
    return {
      limit: Math.floor(this.capacity),
      remaining: Math.floor(this.tokens),
      resetEpochSec: Math.ceil((this.wallNow() + toFullMs) / 1000),
    };
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.stamp) / 1000) * this.rate);
    this.stamp = t;
  }
}
