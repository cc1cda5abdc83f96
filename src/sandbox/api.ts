// What every provider API call goes through around its handler: routing by path and method, body, bearer auth, the
// account-wide rate limit, random throttling, scripts, holds, JSON. Each provider lists its endpoints; dispatchApi
// finds the one a request is for.
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { SandboxContext } from './context.js';
import { BodyTooLarge, isPlainObject, readBody, waitUntilClosed } from './http.js';
import type { Headers } from './http.js';
import { cannedAnswer } from './scripts.js';
import type { ApiRoute, CoperaShape } from './types.js';

const JSON_LIMIT = 16 * 1024 * 1024;

/** The rate-limit state an answer reports: the bucket's, or (random throttle without a bucket) only "wait". */
export interface RateState {
  limit?: number;
  remaining: number;
  resetEpochSec: number;
}

/** How a provider words its errors and its rate limit. */
export interface ApiDialect {
  error(code: string, message: string): unknown;
  unauthorized(): unknown;
  /** The code for a malformed request. */
  invalid: string;
  notFound: string;
  /** Headers on every answer to an authenticated call while a rate limit applies; also on 429s. */
  rateHeaders(state: RateState): Headers;
}

export const memoryLakeDialect: ApiDialect = {
  error: (code, message) => ({ success: false, message, error_code: code }),
  unauthorized: () => ({ error: { message: 'Invalid or missing API key', type: 'authentication_error' } }),
  invalid: 'INVALID_ARGUMENT',
  notFound: 'NOT_FOUND',
  // MemoryLake documents only Retry-After on its 429s.
  rateHeaders: () => ({}),
};

export const coperaDialect: ApiDialect = {
  error: (code, message) => ({ error: message, code }),
  unauthorized: () => ({ error: 'Invalid or expired access token', code: 'UNAUTHORIZED' }),
  invalid: 'VALIDATION_ERROR',
  notFound: 'NOT_FOUND',
  rateHeaders: (s) => ({
    ...(s.limit === undefined ? {} : { 'x-ratelimit-limit': s.limit }),
    'x-ratelimit-remaining': s.remaining,
    'x-ratelimit-reset': s.resetEpochSec,
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
  ctx: SandboxContext;
  req: IncomingMessage;
  /** The parsed JSON body of a POST; {} for a GET. */
  body: Record<string, unknown>;
  query: URLSearchParams;
  /** Decoded path parameters, in order. */
  params: string[];
  /** The Copera shape to answer in: asked for by script or x-sandbox-shape header, else the sandbox default. */
  shape: CoperaShape;
}

export interface ApiResult {
  status?: number;
  body: unknown;
}

export interface ApiEndpoint {
  name: ApiRoute;
  method: 'GET' | 'POST';
  /** The decoded path parameters when `path` is this endpoint's, else undefined. */
  match(path: string): string[] | undefined;
  run(request: ApiRequest): Promise<ApiResult>;
}

/**
 * A path matcher for a template like `/a/b/{id}/children`: each `{…}` is one non-empty segment, percent-decoded.
 * A template without parameters matches exactly.
 */
export function pathPattern(template: string): (path: string) => string[] | undefined {
  const parts = template.split(/\{\w+\}/);
  if (parts.length === 1) return (path) => (path === template ? [] : undefined);
  const escaped = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`^${escaped.join('([^/]+)')}$`);
  return (path) => {
    const m = re.exec(path);
    if (!m) return undefined;
    try {
      return m.slice(1).map((s) => decodeURIComponent(s));
    } catch {
      return undefined;
    }
  };
}

/**
 * Answers a request under a provider's prefix: the endpoint for its path and method, 405 (with Allow) when the path
 * is known but not the method, 404 when the path is unknown.
 */
export async function dispatchApi(
  ctx: SandboxContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  dialect: ApiDialect,
  endpoints: readonly ApiEndpoint[],
): Promise<void> {
  const matches = endpoints.flatMap((e) => {
    const params = e.match(url.pathname);
    return params ? [{ endpoint: e, params }] : [];
  });
  if (matches.length === 0) {
    req.resume();
    return ctx.replyJson(res, 404, dialect.error('NOT_FOUND', `no such endpoint: ${req.method} ${url.pathname}`));
  }
  const hit = matches.find((m) => m.endpoint.method === req.method);
  const allowed = [...new Set(matches.map((m) => m.endpoint.method))];
  return handleApi(ctx, req, res, url, dialect, hit ?? matches[0]!, hit ? undefined : allowed);
}

/**
 * One API call: counted under its route name, body read, bearer checked (401), a token taken from the rate bucket
 * (429), wrong method refused (405), random throttle (429), scripted answer, held before, then the handler; its
 * answer may be held after. Every answer to an authenticated call carries the dialect's rate headers while a rate
 * limit is set.
 */
async function handleApi(
  ctx: SandboxContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  dialect: ApiDialect,
  { endpoint, params }: { endpoint: ApiEndpoint; params: string[] },
  methodNotAllowed: string[] | undefined,
): Promise<void> {
  const route = endpoint.name;
  ctx.stats.api(route);
  let raw: Buffer;
  try {
    raw = await readBody(req, JSON_LIMIT);
  } catch (err) {
    if (err instanceof BodyTooLarge) await ctx.replyJson(res, 413, dialect.error(dialect.invalid, err.message));
    return;
  }
  const account = ctx.accountOf(req);
  if (account === undefined) return ctx.replyJson(res, 401, dialect.unauthorized());

  const verdict = ctx.faults.apiBucket.take();
  const rate: Headers = verdict ? dialect.rateHeaders(verdict) : {};
  if (verdict && !verdict.ok) {
    ctx.stats.rateLimited();
    const message = `Too many requests: the account allows ${verdict.limit} calls per second; retry after ${verdict.retryAfterSec} s`;
    return ctx.replyJson(res, 429, dialect.error('RATE_LIMITED', message), { 'retry-after': verdict.retryAfterSec, ...rate });
  }
  if (methodNotAllowed) {
    const allow = methodNotAllowed.join(', ');
    return ctx.replyJson(res, 405, dialect.error('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allow}`), { allow, ...rate });
  }
  if (ctx.faults.rollApiThrottle()) {
    ctx.stats.fault('throttle');
    // Without a bucket the only truthful rate state is "nothing left until the Retry-After has passed".
    const state = verdict ?? { remaining: 0, resetEpochSec: Math.ceil(Date.now() / 1000) + 1 };
    return ctx.replyJson(res, 429, dialect.error('RATE_LIMITED', 'Too many requests; retry after 1 second'), {
      'retry-after': 1,
      ...dialect.rateHeaders(state),
    });
  }
  const rule = ctx.scripts.take(route);
  if (rule?.status !== undefined) {
    const canned = cannedAnswer(rule, 'application/json; charset=utf-8');
    return ctx.reply(res, canned.status, { ...rate, ...canned.headers }, canned.body);
  }
  if (ctx.holds.take(route, 'before')) return hold(ctx, req);

  let body: Record<string, unknown> = {};
  if (endpoint.method === 'POST') {
    const parsed = parseJsonBody(req, raw);
    if ('problem' in parsed) return ctx.replyJson(res, 400, dialect.error(dialect.invalid, parsed.problem), rate);
    body = parsed.body;
  }
  const header = req.headers['x-sandbox-shape'];
  const shape = rule?.shape ?? (header === 'sdk' || header === 'docs' ? header : ctx.opts.coperaShape);
  let result: ApiResult;
  try {
    result = await endpoint.run({ ctx: ctx.forAccount(account), req, body, query: url.searchParams, params, shape });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return ctx.replyJson(res, err.status, dialect.error(err.code, err.message), rate);
  }
  const status = result.status ?? 200;
  if (status >= 200 && status < 300 && ctx.holds.take(route, 'after')) return hold(ctx, req);
  await ctx.replyJson(res, status, result.body, rate);
}

/** A held call: counted, then never answered until the client goes away or the sandbox closes. */
async function hold(ctx: SandboxContext, req: IncomingMessage): Promise<void> {
  ctx.stats.held();
  await waitUntilClosed(req, ctx.opts.signal);
}

function parseJsonBody(req: IncomingMessage, raw: Buffer): { body: Record<string, unknown> } | { problem: string } {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) return { problem: `expected Content-Type: application/json (got ${type || 'none'})` };
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return { problem: 'request body is not valid JSON' };
  }
  return isPlainObject(body) ? { body } : { problem: 'request body must be a JSON object' };
}

/** Field checks that throw ApiError(400) in the provider's words. */
export function requireString(body: Record<string, unknown>, field: string, code: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0) throw new ApiError(400, code, `${field} is required and must be a non-empty string`);
  return v;
}
