// One attempt at one part: stream bytes [offset, offset+size) of the file to a presigned URL with
// an exact Content-Length, hashing MD5 on the way, and watch for stalls. Never buffers the part.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import { parseErrorBody, oneLine } from '../http/error-body.js';
import { parseRetryAfter } from '../http/retry-after.js';
import type { PartSpec } from '../types.js';
import type { RateLimiter } from './rate-limit.js';

export interface SendPartOptions {
  path: string;
  part: PartSpec;
  url: string;
  dispatcher?: Dispatcher;
  /** Abort the attempt when no byte moves for this long, while sending or waiting for the answer. */
  stallTimeoutMs: number;
  /** Compute MD5 and compare it with a 32-hex ETag. */
  verify: boolean;
  onProgress: (bytes: number) => void;
  signal?: AbortSignal;
  rateLimiter?: RateLimiter;
  readChunkSize?: number;
}

export interface SentPart {
  etag: string;
  md5?: string;
  status: number;
}

const MD5_HEX = /^[0-9a-f]{32}$/i;

export function unquoteEtag(etag: string): string {
  let e = etag.trim();
  if (e.startsWith('W/')) e = e.slice(2);
  if (e.length >= 2 && e.startsWith('"') && e.endsWith('"')) e = e.slice(1, -1);
  return e;
}

export async function sendPart(o: SendPartOptions): Promise<SentPart> {
  const { part } = o;
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(o.signal!.reason);
  if (o.signal?.aborted) throw o.signal.reason;
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let timer: NodeJS.Timeout | undefined;
  const stall = () =>
    controller.abort(
      new LakeupError('network', `part ${part.number}: no progress for ${Math.round(o.stallTimeoutMs / 1000)}s`, {
        code: 'STALL',
      }),
    );
  const kick = () => {
    if (timer) timer.refresh();
    else timer = setTimeout(stall, o.stallTimeoutMs);
  };

  const hash = o.verify ? createHash('md5') : undefined;
  const stream = createReadStream(o.path, {
    start: part.offset,
    end: part.offset + part.size - 1,
    highWaterMark: o.readChunkSize ?? 256 * 1024,
  });
  let sent = 0;
  async function* body(): AsyncGenerator<Buffer> {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (o.rateLimiter) await o.rateLimiter.take(chunk.length, controller.signal);
      hash?.update(chunk);
      sent += chunk.length;
      kick();
      o.onProgress(chunk.length);
      yield chunk;
    }
    if (sent !== part.size) {
      throw new LakeupError('input', `the file shrank while part ${part.number} was read: it changed during the upload`, {
        code: 'FILE_CHANGED',
      });
    }
  }

  try {
    kick();
    const res = await request(o.url, {
      method: 'PUT',
      dispatcher: o.dispatcher,
      // undici takes any async iterable as a body (its types only list streams).
      body: body() as unknown as Readable,
      headers: { 'content-length': String(part.size), 'content-type': 'application/octet-stream' },
      signal: controller.signal,
    });
    kick();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const text = await readLimited(res.body, 64 * 1024);
      const parsed = parseErrorBody(text);
      const what = [parsed.code, parsed.message].filter(Boolean).join(': ') || oneLine(text).slice(0, 120) || 'no body';
      throw new LakeupError('server', `part ${part.number}: storage answered HTTP ${res.statusCode} (${what})`, {
        status: res.statusCode,
        code: parsed.code,
        retryAfterMs: parseRetryAfter(res.headers['retry-after']),
      });
    }
    await res.body.dump({ limit: 1024 * 1024 });
    const raw = res.headers.etag;
    const etagHeader = Array.isArray(raw) ? raw[0] : raw;
    if (!etagHeader) {
      throw new LakeupError('server', `part ${part.number}: storage answered HTTP ${res.statusCode} without an ETag`, {
        status: res.statusCode,
        code: 'NO_ETAG',
      });
    }
    const etag = unquoteEtag(etagHeader);
    const md5 = hash?.digest('hex');
    if (md5 && MD5_HEX.test(etag) && etag.toLowerCase() !== md5) {
      throw new LakeupError('integrity', `part ${part.number}: storage ETag ${etag} does not match the MD5 sent (${md5})`, {
        code: 'BAD_DIGEST',
      });
    }
    return { etag, md5, status: res.statusCode };
  } catch (err) {
    // An abort carries its reason (a stall, Ctrl-C, a fatal error elsewhere); undici wraps it.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onOuterAbort);
    stream.destroy();
  }
}

async function readLimited(body: AsyncIterable<Buffer> & { dump?: () => Promise<void> }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    if (n < limit) chunks.push(chunk);
    n += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}
