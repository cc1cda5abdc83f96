// JSON calls to a provider's API (POST and GET share one path): bearer auth, one clear line for
// every error body, and retries only where they are safe. Uses the dispatcher it is given, else undici's global one (which is
// also how nock intercepts the calls in tests).
import pRetry from 'p-retry';
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import { classify } from './classify.js';
import type { UploadEvents } from '../events.js';
import { redact, redactUrl, registerSecret } from '../util/redact.js';
import { sleep } from '../util/sleep.js';
import { undiciRequest } from './dispatcher.js';
import type { ApiPacer } from './pacer.js';
import { serverClock } from './server-clock.js';
import { parseErrorBody, squeezeSpace } from './error-body.js';
import { parseRetryAfter } from './retry-after.js';
import { formatSize } from '../util/sizes.js';
import { describeCutBody, MAX_ANSWER_BYTES, MAX_ERROR_BYTES, readBody, type BodyText } from './read-body.js';

export interface ApiContext {
  endpoint: string;
  token: string;
  /** Display name of the service in messages: "MemoryLake", "Copera". */
  service: string;
  dispatcher?: Dispatcher;
  events?: UploadEvents;
  signal?: AbortSignal;
  /** Attempts after the first for transient failures (default 4). */
  retries?: number;
  minBackoffMs?: number;
  /** Per-call deadline for the answer, in ms (default 60 s). */
  timeoutMs?: number;
  /** Shared by every API call of a run: pauses all of them when one is told to slow down. */
  pacer?: ApiPacer;
}

/** What every call says about itself, whatever its method. */
interface CallBase {
  /** Path under the endpoint. Item ids in it must be encoded with encodeURIComponent by the caller. */
  path: string;
  /** What the call does, for messages: "create the upload session". */
  what: string;
  /** Deadline for this call's answer, overriding the context's (finalize assembles the file server-side). */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Aborts this call (and its retries) in addition to the context's signal. */
  signal?: AbortSignal;
}

export interface ApiCall extends CallBase {
  body: unknown;
  /**
   * Whether sending the call twice is harmless. Non-idempotent calls (finalize) are retried only
   * when the server certainly did not act: connection refused, DNS failure, 429 (a 503 may come from a gateway after the origin acted).
   */
  idempotent: boolean;
  /**
   * Finish the call even after the first Ctrl-C (finalize: one short call that makes the upload
   * complete, where cutting it would leave the user unsure whether the item exists).
   */
  finishOnInterrupt?: boolean;
}

export interface ApiGetCall extends CallBase {
  /** Query parameters, encoded with URLSearchParams; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
}

/** One request as the shared path sends it: what apiPost and apiGet have in common. */
interface Request extends CallBase {
  method: 'GET' | 'POST';
  url: string;
  /** JSON text, POST only. */
  body?: string;
  idempotent: boolean;
  finishOnInterrupt?: boolean;
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether a failed call may still have taken effect on the server: a 5xx (a gateway can answer 503
 * after the origin acted), a reset or a timeout after the request went out. A 4xx was refused; a
 * connection that never opened never reached anyone. Non-idempotent calls (finalize, folder
 * creation) are not repeated blindly after such an answer: the caller looks the item up first.
 */
export function mayHaveActed(err: unknown): boolean {
  const e = err as LakeupError | undefined;
  if (!e || e.kind === 'interrupted') return false;
  // A success whose answer cannot be read (not JSON, no id): the call did what it does.
  if (e.code === 'BAD_JSON' || e.code === 'BAD_RESPONSE') return e.status === undefined || e.status < 300;
  if (e.status !== undefined) return e.status >= 500;
  return e.kind === 'network' && !NOT_SENT_CODES.has(e.code ?? '');
}

export function apiPost<T>(ctx: ApiContext, call: ApiCall): Promise<T> {
  return send<T>(ctx, { ...call, method: 'POST', url: joinUrl(ctx.endpoint, call.path), body: JSON.stringify(call.body) });
}

/** A GET: idempotent, so retried on every transient failure the failure table allows. */
export function apiGet<T>(ctx: ApiContext, call: ApiGetCall): Promise<T> {
  const { query, ...rest } = call;
  return send<T>(ctx, { ...rest, method: 'GET', url: withQuery(joinUrl(ctx.endpoint, call.path), query), idempotent: true });
}

async function send<T>(ctx: ApiContext, req: Request): Promise<T> {
  registerSecret(ctx.token); // a server may echo the token in an error body: never let it through
  const signal = outerSignal(ctx, req);
  // Waits (the pacer's, Retry-After's, between attempts) end on an interrupt even for a call that
  // finishes on interrupt: only a request already sent is let finish.
  const waits = req.finishOnInterrupt ? callSignal(ctx, req) : signal;
  let attempt = 0;
  return pRetry(
    async () => {
      attempt++;
      const t0 = performance.now();
      const event = { method: req.method, url: redactUrl(req.url), attempt };
      try {
        const { json, status } = await pacedOnce(ctx, req, signal, waits);
        ctx.events?.emit('api:call', { ...event, status, ms: performance.now() - t0 });
        return json as T;
      } catch (err) {
        const e = err as LakeupError;
        ctx.events?.emit('api:call', { ...event, status: e.status, ms: performance.now() - t0, error: e.message });
        throw err;
      }
    },
    {
      retries: ctx.retries ?? 4,
      minTimeout: ctx.minBackoffMs ?? 500,
      // 0.5–1, 1–2, 2–4, 4 s: an endpoint that refuses connections fails within about 11 s
      // (with 8 s the randomized waits could add up to 15 s).
      maxTimeout: 4000,
      factor: 2,
      randomize: true,
      signal,
      shouldRetry: async ({ error, attemptNumber }) => {
        waits?.throwIfAborted(); // no new attempt after an interrupt
        const v = classify(error);
        if (v.action !== 'retry' && v.action !== 'throttle') return false;
        const e = error as LakeupError;
        // A host that drops packets costs a whole connect timeout per attempt: three are enough.
        if (e.code === 'UND_ERR_CONNECT_TIMEOUT' && attemptNumber >= 3) return false;
        // An API that takes the call but never answers: one more try, not four more minutes.
        if (e.code === 'ETIMEDOUT' && attemptNumber >= 2) return false;
        // A 429 is a refusal before any work; a 503 may come from a gateway after the origin
        // acted, so only idempotent calls repeat on it.
        const mayRepeat = req.idempotent || e.status === 429 || (e.status === undefined && NOT_SENT_CODES.has(e.code ?? ''));
        if (!mayRepeat) return false;
        // Honour Retry-After (capped at a minute) before the next attempt; Ctrl-C cuts the wait.
        if (v.action === 'throttle' && v.retryAfterMs) {
          await sleep(Math.min(v.retryAfterMs, 60_000), waits);
        }
        return true;
      },
    },
  );
}

/** The signal that cuts the call: the context's and the call's, none for a call that finishes on interrupt. */
function outerSignal(ctx: ApiContext, req: Request): AbortSignal | undefined {
  return req.finishOnInterrupt ? undefined : callSignal(ctx, req);
}

/** The context's and the call's signals as one. */
function callSignal(ctx: ApiContext, req: Request): AbortSignal | undefined {
  const signals = [ctx.signal, req.signal].filter((s): s is AbortSignal => s !== undefined);
  return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
}

type Headers = Dispatcher.ResponseData['headers'];

/** One attempt through the run's pacer: it waits its turn, and the answer teaches the pacer. */
async function pacedOnce(
  ctx: ApiContext,
  req: Request,
  outer: AbortSignal | undefined,
  waits: AbortSignal | undefined,
): Promise<{ json: unknown; status: number }> {
  const answered = await ctx.pacer?.acquire(waits);
  try {
    const r = await sendOnce(ctx, req, outer);
    answered?.({ status: r.status, headers: r.headers });
    return r;
  } catch (err) {
    const e = err as LakeupError & { headers?: Headers };
    answered?.({ status: e?.status, retryAfterMs: e?.retryAfterMs, headers: e?.headers });
    throw err;
  }
}

async function sendOnce(ctx: ApiContext, req: Request, outer: AbortSignal | undefined): Promise<{ json: unknown; status: number; headers: Headers }> {
  const timeoutMs = req.timeoutMs ?? ctx.timeoutMs ?? 60_000;
  const deadline = callDeadline(outer, timeoutMs);
  try {
    return await answerOf(ctx, req, outer, deadline, timeoutMs);
  } finally {
    deadline.done();
  }
}

/**
 * The call's signal: `outer`, or `ms` gone by. It lets go of both once the call is over (`done`),
 * where `AbortSignal.any` leaves a reference on the run's long-lived signal for every call (50,000
 * of them in a run of 50,000 files) and `AbortSignal.timeout` a pending timer for `ms`.
 */
function callDeadline(outer: AbortSignal | undefined, ms: number): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const c = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    c.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  timer.unref();
  const onOuter = () => c.abort(outer!.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: c.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

async function answerOf(
  ctx: ApiContext,
  req: Request,
  outer: AbortSignal | undefined,
  deadline: ReturnType<typeof callDeadline>,
  timeoutMs: number,
): Promise<{ json: unknown; status: number; headers: Headers }> {
  let res: Dispatcher.ResponseData;
  const { signal } = deadline;
  const sentAt = Date.now();
  try {
    res = await undiciRequest(req.url, {
      method: req.method,
      dispatcher: ctx.dispatcher,
      headers: {
        authorization: `Bearer ${ctx.token}`,
        ...(req.body === undefined ? {} : { 'content-type': 'application/json' }),
        accept: 'application/json',
        'user-agent': 'lakeup',
        ...req.headers,
      },
      body: req.body,
      signal,
    });
  } catch (err) {
    if (outer?.aborted) throw outer.reason;
    throw networkError(ctx, req, err, deadline.timedOut(), timeoutMs);
  }
  serverClock.observe(res.headers.date, sentAt, Date.now());
  const status = res.statusCode;
  const ok = status >= 200 && status < 300;
  const limit = ok ? MAX_ANSWER_BYTES : MAX_ERROR_BYTES;
  let body: BodyText;
  try {
    body = await readBody(res.body, limit);
  } catch (err) {
    if (outer?.aborted) throw outer.reason;
    throw networkError(ctx, req, err, deadline.timedOut(), timeoutMs);
  }
  const { text } = body;
  const cut = body.cut ? describeCutBody(text, res.headers['content-length'], limit) : undefined;
  if (!ok) {
    // The headers go with the error for the pacer (x-ratelimit-* on a 429).
    throw Object.assign(httpError(ctx, req, status, text, res.headers['retry-after'], cut), { headers: res.headers });
  }
  if (cut) {
    const message = `${ctx.service} answered HTTP ${status} with ${cut} when asked to ${req.what}; lakeup reads at most ${formatSize(limit)} of an answer`;
    throw new LakeupError('server', message, { status, code: 'BAD_RESPONSE' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // An HTML page (a login portal, a proxy's error page) is quoted by its text, not its markup.
    const html = /^\s*</.test(text) ? parseErrorBody(text.slice(0, MAX_ERROR_BYTES)).message : undefined;
    const what = html ? `an HTML page: ${html.slice(0, 80)}` : squeezeSpace(text).slice(0, 80) || 'empty body';
    const message = `${ctx.service} answered ${req.what} with something that is not JSON (HTTP ${status}: ${what})`;
    throw new LakeupError('server', redact(message), { status, code: 'BAD_JSON' });
  }
  if (json && typeof json === 'object' && (json as { success?: unknown }).success === false) {
    throw httpError(ctx, req, status, text, undefined);
  }
  return { json, status, headers: res.headers };
}

export function httpError(
  ctx: Pick<ApiContext, 'service'>,
  call: Pick<ApiCall, 'what'>,
  status: number,
  text: string,
  retryAfter: string | string[] | undefined,
  /** What the body was, when it was too big to read whole ("a 20.0 MiB HTML page"). */
  cut?: string,
): LakeupError {
  const body = parseErrorBody(text);
  const detail = [body.message, body.code ? `(${body.code})` : undefined].filter(Boolean).join(' ');
  const kind = status === 401 || status === 403 ? 'auth' : status === 409 ? 'conflict' : 'server';
  let hint = '';
  if (status === 401) hint = ': check the token (--token or LAKEUP_TOKEN)';
  else if (status === 403) hint = ': the token lacks permission for this drive';
  else if (status === 402) hint = ': the account is out of quota';
  const line = cut
    ? `${ctx.service} answered HTTP ${status} with ${cut} when asked to ${call.what}${hint}`
    : `${ctx.service} refused to ${call.what}: HTTP ${status}${detail ? ` ${detail}` : ''}${hint}`;
  return new LakeupError(
    kind,
    redact(line),
    { status, code: body.code, retryAfterMs: parseRetryAfter(retryAfter) },
  );
}

function networkError(ctx: ApiContext, req: Request, err: unknown, timedOut: boolean, timeoutMs: number): LakeupError {
  const e = err as NodeJS.ErrnoException;
  const code = timedOut ? 'ETIMEDOUT' : (e?.code ?? (e?.cause as NodeJS.ErrnoException | undefined)?.code);
  const origin = safeOrigin(req.url);
  const why = timedOut
    ? `no answer within ${formatMs(timeoutMs)}`
    : code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'host not found'
        : (code ?? e?.message ?? 'network error');
  return new LakeupError('network', `could not connect to ${ctx.service} at ${origin} to ${req.what}: ${why}`, {
    code,
    cause: err,
  });
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`;
}

export function joinUrl(endpoint: string, path: string): string {
  return endpoint.replace(/\/+$/, '') + path;
}

/** Appends query parameters (URLSearchParams encoding), after any the URL already has. */
export function withQuery(url: string, query: ApiGetCall['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.append(k, String(v));
  const qs = params.toString();
  return qs ? `${url}${url.includes('?') ? '&' : '?'}${qs}` : url;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the endpoint';
  }
}
