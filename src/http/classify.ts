// One table classifies every failure of a part PUT or an API call into what to do about it.
// Tested row by row in test/unit/classify.test.ts. It lives in http, which both the API calls and
// the engine's part PUTs use, so neither imports the other's folder for it.
import { LakeupError } from '../errors.js';

export type Action =
  | 'retry' // transient: back off and send again
  | 'throttle' // the server asked us to slow down: pause, lower concurrency, send again
  | 'refresh' // the presigned URL expired: get new URLs (or a new session), send again
  | 'fatal'; // sending again cannot help

export interface Verdict {
  action: Action;
  reason: string;
  retryAfterMs?: number;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'STALL',
  'BAD_DIGEST',
  'HASH_FAILED',
  'EARLY_ANSWER',
  'EPROTO',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

const RETRY_STATUSES = new Set([408, 500, 502, 504]);
/** 5xx that retrying cannot fix: the server says it does not do this at all. */
const FATAL_5XX = new Set([501, 505]);
const RETRY_S3_CODES = new Set(['RequestTimeout', 'IncompleteBody', 'InternalError', 'ServiceUnavailable']);

export function classify(err: unknown): Verdict {
  const e = err as { code?: string; status?: number; message?: string; retryAfterMs?: number; kind?: string };
  const status = e?.status;
  const code = e?.code;
  const message = e?.message ?? String(err);

  if (err instanceof LakeupError && (err.kind === 'interrupted' || err.kind === 'input' || err.kind === 'usage')) {
    return { action: 'fatal', reason: message };
  }
  if (status === undefined) {
    if (code && TRANSIENT_CODES.has(code)) return { action: 'retry', reason: code === 'STALL' ? 'stalled' : code };
    return { action: 'fatal', reason: message };
  }
  if (status === 429 || status === 503 || code === 'SlowDown' || code === 'TooManyRequests') {
    return { action: 'throttle', reason: `HTTP ${status}${code ? ` ${code}` : ''}`, retryAfterMs: e.retryAfterMs };
  }
  // S3 says 403 AccessDenied "Request has expired"; URLs signed with temporary credentials
  // can also die with 400 ExpiredToken / TokenRefreshRequired.
  if ((status === 403 || status === 400) && isExpired(code, message)) return { action: 'refresh', reason: 'presigned URL expired' };
  if (RETRY_STATUSES.has(status) || (status >= 500 && !FATAL_5XX.has(status))) {
    return { action: 'retry', reason: `HTTP ${status}${code ? ` ${code}` : ''}` };
  }
  if (status === 400 && code && RETRY_S3_CODES.has(code)) return { action: 'retry', reason: `HTTP 400 ${code}` };
  return { action: 'fatal', reason: message };
}

function isExpired(code: string | undefined, message: string): boolean {
  if (code === 'ExpiredToken' || code === 'RequestExpired' || code === 'TokenRefreshRequired') return true;
  return code === 'AccessDenied' && /expired/i.test(message);
}
