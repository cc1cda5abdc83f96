// What every provider API call goes through before its handler: method, body, bearer auth, throttling, scripts, JSON.
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { SandboxContext } from './context.js';
import { BodyTooLarge, drain, isPlainObject, readBody } from './http.js';
import type { Headers } from './http.js';
import { cannedAnswer } from './scripts.js';
import type { CoperaShape, ScriptRoute } from './types.js';

const JSON_LIMIT = 16 * 1024 * 1024;

/** How a provider words its errors. */
export interface ApiDialect {
  error(code: string, message: string): unknown;
  unauthorized(): unknown;
  /** The code for a malformed request. */
  invalid: string;
  notFound: string;
  rateLimitHeaders(): Headers;
}

export const memoryLakeDialect: ApiDialect = {
  error: (code, message) => ({ success: false, message, error_code: code }),
  unauthorized: () => ({ error: { message: 'Invalid or missing API key', type: 'authentication_error' } }),
  invalid: 'INVALID_ARGUMENT',
  notFound: 'NOT_FOUND',
  rateLimitHeaders: () => ({}),
};

export const coperaDialect: ApiDialect = {
  error: (code, message) => ({ error: message, code }),
  unauthorized: () => ({ error: 'Invalid or expired access token', code: 'UNAUTHORIZED' }),
  invalid: 'VALIDATION_ERROR',
  notFound: 'NOT_FOUND',
  rateLimitHeaders: () => ({
    'x-ratelimit-limit': 600,
    'x-ratelimit-remaining': 0,
    'x-ratelimit-reset': Math.ceil(Date.now() / 1000) + 1,
  }),
};

/** Thrown by handlers for a 4xx answer in the provider's words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiRequest {
  body: Record<string, unknown>;
  /** A Copera shape asked for by header or script. */
  shape?: CoperaShape;
}

/**
 * Runs the checks common to all API calls and answers the failures itself. Resolves to the parsed JSON body, or
 * undefined when an answer was already sent (wrong method, 401, throttled, scripted, malformed JSON).
 */
export async function apiPreamble(
  ctx: SandboxContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ScriptRoute,
  dialect: ApiDialect,
): Promise<ApiRequest | undefined> {
  ctx.stats.api(route);
  if (req.method !== 'POST') {
    await drain(req, () => undefined);
    await ctx.replyJson(res, 405, dialect.error('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use POST`), { allow: 'POST' });
    return undefined;
  }
  let raw: Buffer;
  try {
    raw = await readBody(req, JSON_LIMIT);
  } catch (err) {
    if (err instanceof BodyTooLarge) await ctx.replyJson(res, 413, dialect.error(dialect.invalid, err.message));
    return undefined;
  }
  if (!ctx.authorized(req)) {
    await ctx.replyJson(res, 401, dialect.unauthorized());
    return undefined;
  }
  if (ctx.faults.rollApiThrottle()) {
    ctx.stats.fault('throttle');
    await ctx.replyJson(res, 429, dialect.error('RATE_LIMITED', 'Too many requests; retry after 1 second'), {
      'retry-after': 1,
      ...dialect.rateLimitHeaders(),
    });
    return undefined;
  }
  const rule = ctx.scripts.take(route);
  if (rule?.status !== undefined) {
    const canned = cannedAnswer(rule, 'application/json; charset=utf-8');
    await ctx.reply(res, canned.status, canned.headers, canned.body);
    return undefined;
  }
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    await ctx.replyJson(res, 400, dialect.error(dialect.invalid, `expected Content-Type: application/json (got ${type || 'none'})`));
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    await ctx.replyJson(res, 400, dialect.error(dialect.invalid, 'request body is not valid JSON'));
    return undefined;
  }
  if (!isPlainObject(body)) {
    await ctx.replyJson(res, 400, dialect.error(dialect.invalid, 'request body must be a JSON object'));
    return undefined;
  }
  const header = req.headers['x-sandbox-shape'];
  const shape = rule?.shape ?? (header === 'sdk' || header === 'docs' ? header : undefined);
  return { body, shape };
}

/** Runs a handler after the preamble, turning ApiError into the provider's error answer. */
export async function handleApi(
  ctx: SandboxContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ScriptRoute,
  dialect: ApiDialect,
  handler: (request: ApiRequest) => Promise<{ status?: number; body: unknown }>,
): Promise<void> {
  const request = await apiPreamble(ctx, req, res, route, dialect);
  if (!request) return;
  try {
    const { status = 200, body } = await handler(request);
    await ctx.replyJson(res, status, body);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    await ctx.replyJson(res, err.status, dialect.error(err.code, err.message));
  }
}

/** Field checks that throw ApiError(400) in the provider's words. */
export function requireString(body: Record<string, unknown>, field: string, code: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0) throw new ApiError(400, code, `${field} is required and must be a non-empty string`);
  return v;
}
