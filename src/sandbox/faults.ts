// Fault injection: which part PUTs (and API calls) misbehave, drawn from a seeded PRNG so a run can be repeated; and
// the account-wide API rate limit, which is set along with them.
import { RateBucket } from './rate-bucket.js';
import type { FaultKind, FaultOptions } from './types.js';

const RATE_KEYS = ['failRate', 'resetRate', 'throttleRate', 'corruptRate', 'stallRate'] as const;

/** Checks a FaultOptions object (from code or JSON); throws a one-line message on anything odd. */
export function validateFaults(input: unknown): FaultOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError('faults must be an object like {"failRate":0.1}');
  }
  const out: FaultOptions = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if ((RATE_KEYS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new RangeError(`faults.${key} must be a number from 0 to 1 (got ${JSON.stringify(value)})`);
      }
      out[key as (typeof RATE_KEYS)[number]] = value;
    } else if (key === 'latencyMs') {
      if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
        throw new RangeError(`faults.latencyMs must be a number ≥ 0 (got ${JSON.stringify(value)})`);
      }
      out.latencyMs = value;
    } else if (key === 'apiRate') {
      if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
        throw new RangeError(`faults.apiRate must be a number of calls per second ≥ 0 (got ${JSON.stringify(value)})`);
      }
      out.apiRate = value;
    } else {
      throw new TypeError(`unknown fault option "${key}" (known: ${[...RATE_KEYS, 'latencyMs', 'apiRate'].join(', ')})`);
    }
  }
  return out;
}

/** mulberry32: tiny, fast, good enough to decide which requests fail. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultInjector {
  private faults: FaultOptions;
  readonly random: () => number;
  /** The account-wide API rate limit (faults.apiRate); unlimited when absent. */
  readonly apiBucket = new RateBucket();

  constructor(faults: FaultOptions | undefined, seed: number) {
    this.faults = validateFaults(faults ?? {});
    this.apiBucket.setRate(this.faults.apiRate ?? 0);
    this.random = mulberry32(seed);
  }

  /** Replaces every option; an absent apiRate lifts the limit, an unchanged one keeps the bucket as it is. */
  set(faults: unknown): void {
    this.faults = validateFaults(faults);
    this.apiBucket.setRate(this.faults.apiRate ?? 0);
  }

  get current(): FaultOptions {
    return { ...this.faults };
  }

  get latencyMs(): number {
    return this.faults.latencyMs ?? 0;
  }

  /** The fault for one part PUT, if any. Checked in a fixed order, each with its own roll. */
  rollPart(): FaultKind | undefined {
    const f = this.faults;
    if (this.hit(f.throttleRate)) return 'throttle';
    if (this.hit(f.failRate)) return 'fail';
    if (this.hit(f.resetRate)) return 'reset';
    if (this.hit(f.stallRate)) return 'stall';
    if (this.hit(f.corruptRate)) return 'corrupt';
    return undefined;
  }

  /** Whether one provider API call is throttled (429). */
  rollApiThrottle(): boolean {
    return this.hit(this.faults.throttleRate);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  private hit(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.random() < rate;
  }
}
