// Presigned part URLs in the shape S3 issues them (SigV4 query parameters), signed with a per-sandbox secret.
//
// The signature is the hex HMAC-SHA256 of `PUT\n/<bucket>/<key>\n<canonical query>`, where the canonical query is
// every parameter but X-Amz-Signature, sorted by name and URI-encoded. Like S3, adding, removing or altering any
// parameter breaks it. The host is not signed (the sandbox may be reached as localhost or 127.0.0.1).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_EXPIRES_SEC = 7 * 24 * 3600; // S3's limit for X-Amz-Expires
const REGION = 'us-east-1';

export type VerifyResult =
  | { ok: true }
  | { ok: false; status: number; code: string; message: string; extra?: Record<string, string> };

/** `20250102T030405Z` for a time in whole seconds. */
function amzDate(sec: number): string {
  return new Date(sec * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function urlTtlSeconds(urlTtlMs: number): number {
  if (!Number.isFinite(urlTtlMs) || urlTtlMs <= 0) throw new RangeError(`urlTtlMs must be > 0 (got ${urlTtlMs})`);
  const sec = Math.max(1, Math.round(urlTtlMs / 1000));
  if (sec > MAX_EXPIRES_SEC) throw new RangeError(`presigned URLs cannot live longer than 7 days (S3's limit)`);
  return sec;
}

export class UrlSigner {
  private readonly secret = randomBytes(32);
  /** URLs dated at or before this second (epoch seconds) count as expired; see expireAll(). */
  private cutoffSec = 0;

  constructor(private readonly ttlSec: number) {}

  /** `${origin}/storage/<bucket>/<key>?<params>&X-Amz-…&X-Amz-Signature=…` */
  sign(origin: string, bucket: string, key: string, params: Record<string, string>, nowMs = Date.now()): string {
    // A URL signed right after expireAll() in the same second must still be fresh: date it one second later.
    const sec = Math.max(Math.floor(nowMs / 1000), this.cutoffSec + 1);
    const query = new URLSearchParams(params);
    query.set('X-Amz-Algorithm', ALGORITHM);
    query.set('X-Amz-Credential', `LAKEUPSANDBOX/${amzDate(sec).slice(0, 8)}/${REGION}/s3/aws4_request`);
    query.set('X-Amz-Date', amzDate(sec));
    query.set('X-Amz-Expires', String(this.ttlSec));
    query.set('X-Amz-SignedHeaders', 'host');
    const signature = this.signature(bucket, key, query);
    return `${origin}/storage/${encodeURIComponent(bucket)}/${encodeKey(key)}?${query.toString()}&X-Amz-Signature=${signature}`;
  }

  /** Every URL issued until now expires; URLs issued later are fresh. */
  expireAll(nowMs = Date.now()): void {
    this.cutoffSec = Math.max(this.cutoffSec, Math.floor(nowMs / 1000));
  }

  verify(bucket: string, key: string, query: URLSearchParams, nowMs = Date.now()): VerifyResult {
    const given = query.get('X-Amz-Signature');
    const dateStr = query.get('X-Amz-Date');
    const expiresStr = query.get('X-Amz-Expires');
    if (!given || !dateStr || !expiresStr || query.get('X-Amz-Algorithm') === null) {
      return {
        ok: false,
        status: 403,
        code: 'AccessDenied',
        message: 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      };
    }
    const expected = Buffer.from(this.signature(bucket, key, query), 'utf8');
    const got = Buffer.from(given, 'utf8');
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) {
      return {
        ok: false,
        status: 403,
        code: 'SignatureDoesNotMatch',
        message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      };
    }
    const dateSec = parseAmzDate(dateStr);
    const expires = Number(expiresStr);
    if (dateSec === undefined || !Number.isInteger(expires)) {
      return { ok: false, status: 403, code: 'AccessDenied', message: 'X-Amz-Date or X-Amz-Expires is malformed' };
    }
    const revoked = dateSec <= this.cutoffSec;
    const expiresAtMs = revoked ? Math.min((dateSec + expires) * 1000, this.cutoffSec * 1000) : (dateSec + expires) * 1000;
    if (revoked || nowMs > expiresAtMs) {
      return {
        ok: false,
        status: 403,
        code: 'AccessDenied',
        message: 'Request has expired',
        extra: {
          'X-Amz-Expires': expiresStr,
          Expires: new Date(expiresAtMs).toISOString(),
          ServerTime: new Date(nowMs).toISOString(),
        },
      };
    }
    return { ok: true };
  }

  private signature(bucket: string, key: string, query: URLSearchParams): string {
    const canonicalQuery = [...query.entries()]
      .filter(([name]) => name !== 'X-Amz-Signature')
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
      .sort()
      .join('&');
    return createHmac('sha256', this.secret).update(`PUT\n/${bucket}/${key}\n${canonicalQuery}`).digest('hex');
  }
}
