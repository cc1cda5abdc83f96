// Canned answers tests queue up (POST /_sandbox/script): malformed JSON, 402 quota, a refused finalize, …
import { isPlainObject } from './http.js';
import { API_ROUTES } from './routes.js';
import type { ScriptRoute, ScriptRule } from './types.js';

export const SCRIPT_ROUTES: readonly ScriptRoute[] = [...API_ROUTES, 'part'];

/** Checks a rule (from code or JSON); throws a one-line message on anything odd. */
export function validateScriptRule(input: unknown): ScriptRule {
  if (!isPlainObject(input)) throw new TypeError('a script rule must be an object like {"route":"part","status":500}');
  const { route, times, status, body, headers, shape } = input;
  if (typeof route !== 'string' || !(SCRIPT_ROUTES as readonly string[]).includes(route)) {
    throw new TypeError(`script route must be one of ${SCRIPT_ROUTES.join(', ')} (got ${JSON.stringify(route)})`);
  }
  if (times !== undefined && !(Number.isInteger(times) && (times as number) >= 1)) {
    throw new RangeError(`script times must be an integer ≥ 1 (got ${JSON.stringify(times)})`);
  }
  if (shape !== undefined && shape !== 'docs' && shape !== 'sdk') {
    throw new TypeError(`script shape must be "docs" or "sdk" (got ${JSON.stringify(shape)})`);
  }
  if (shape !== undefined && !route.startsWith('copera.')) throw new TypeError('script shape only applies to copera.* routes');
  if (status === undefined && shape === undefined) throw new TypeError('a script rule needs a status (or a shape)');
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599)) {
    throw new RangeError(`script status must be an HTTP status 100–599 (got ${JSON.stringify(status)})`);
  }
  if (body !== undefined && typeof body !== 'string' && (body === null || typeof body !== 'object')) {
    throw new TypeError('script body must be a string or a JSON object/array');
  }
  if (headers !== undefined && !(isPlainObject(headers) && Object.values(headers).every((v) => typeof v === 'string'))) {
    throw new TypeError('script headers must be an object of strings');
  }
  return input as unknown as ScriptRule;
}

export class ScriptQueue {
  private readonly queue: { rule: ScriptRule; left: number }[] = [];

  add(rule: ScriptRule): void {
    const valid = validateScriptRule(rule);
    this.queue.push({ rule: valid, left: valid.times ?? 1 });
  }

  /** The oldest rule for this route still answering, consuming one of its `times`. */
  take(route: ScriptRoute): ScriptRule | undefined {
    const i = this.queue.findIndex((e) => e.rule.route === route);
    if (i < 0) return undefined;
    const entry = this.queue[i]!;
    if (--entry.left <= 0) this.queue.splice(i, 1);
    return entry.rule;
  }
}

/** The canned answer of a rule with a status: body verbatim (string) or as JSON (object). */
export function cannedAnswer(
  rule: ScriptRule,
  defaultType: string,
): { status: number; headers: Record<string, string>; body: string } {
  const body = rule.body === undefined ? '' : typeof rule.body === 'string' ? rule.body : JSON.stringify(rule.body);
  const headers: Record<string, string> = { 'content-type': defaultType };
  for (const [k, v] of Object.entries(rule.headers ?? {})) headers[k.toLowerCase()] = v;
  return { status: rule.status!, headers, body };
}
