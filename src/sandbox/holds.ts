// Held answers (POST /_sandbox/hold): an API call that is never answered, before or after it took effect, so a test
// can make "the client was killed while finalize was in flight" happen on purpose rather than by timing.
import { isPlainObject } from './http.js';
import { API_ROUTES } from './routes.js';
import type { ApiRoute, HoldRule } from './types.js';

/** Checks a rule (from code or JSON); throws a one-line message on anything odd. */
export function validateHoldRule(input: unknown): HoldRule {
  if (!isPlainObject(input)) throw new TypeError('a hold rule must be an object like {"route":"copera.finalize","when":"after"}');
  const { route, when, times, ...rest } = input;
  if (typeof route !== 'string' || !(API_ROUTES as readonly string[]).includes(route)) {
    throw new TypeError(`hold route must be one of ${API_ROUTES.join(', ')} (got ${JSON.stringify(route)})`);
  }
  if (when !== 'after' && when !== 'before') throw new TypeError(`hold when must be "after" or "before" (got ${JSON.stringify(when)})`);
  if (times !== undefined && !(Number.isInteger(times) && (times as number) >= 1)) {
    throw new RangeError(`hold times must be an integer ≥ 1 (got ${JSON.stringify(times)})`);
  }
  const unknown = Object.keys(rest);
  if (unknown.length) throw new TypeError(`unknown hold option "${unknown[0]}" (known: route, when, times)`);
  return { route: route as ApiRoute, when, ...(times === undefined ? {} : { times: times as number }) };
}

export class HoldQueue {
  private readonly queue: { rule: HoldRule; left: number }[] = [];

  add(rule: HoldRule): void {
    const valid = validateHoldRule(rule);
    this.queue.push({ rule: valid, left: valid.times ?? 1 });
  }

  /** Whether the oldest rule for this route and moment holds this call (consuming one of its `times`). */
  take(route: ApiRoute, when: HoldRule['when']): boolean {
    const i = this.queue.findIndex((e) => e.rule.route === route && e.rule.when === when);
    if (i < 0) return false;
    if (--this.queue[i]!.left <= 0) this.queue.splice(i, 1);
    return true;
  }
}
