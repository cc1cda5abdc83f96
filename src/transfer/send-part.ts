// One attempt at one part: stream bytes [offset, offset+size) of the file to a presigned URL with
// an exact Content-Length, hashing MD5 on the way, and watch for stalls. Never buffers the part.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import { plainEtag } from '../util/etag.js';
import { undiciRequest } from '../http/dispatcher.js';
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

/**
 * Read size per chunk of a part (the read stream's highWaterMark). 256 KiB measured best on a
 * 1 GiB upload: 64 KiB costs ~15% more CPU in syscalls and per-chunk work, 1 MiB holds more memory.
 */
export const READ_CHUNK = 256 * 1024;

// Memory. Every chunk read is a fresh Buffer whose bytes live outside V8's heap; V8 collects dead
// ones when its young generation fills or after ~64 MB of new external memory, so a fast upload
// keeps tens of MB of sent chunks around (and malloc keeps the pages). A young-generation
// collection every 8 MiB read frees the chunks already sent while they are still young (most live
// a few ms); it takes well under a millisecond and, by sparing V8 the full collections that
// external memory pressure triggers, lowered the CPU per GiB as well (1 GiB at 10 MiB parts: peak
// RSS 109 → 94 MB, CPU 1.9 → 1.4 s with --no-verify). A full collection every 8 MiB would cut
// memory a little more but doubles the CPU. Buffers are never reused: only undici knows when the
// socket is done with one.
const GC_EVERY = 8 * 1024 * 1024;
type GcFn = (o?: { type: 'minor' | 'major' }) => void;
let gcFn: GcFn | null | undefined;
let sinceGc = 0;
function collectHint(n: number): void {
  sinceGc += n;
  if (sinceGc < GC_EVERY) return;
  sinceGc = 0;
  if (gcFn === undefined) gcFn = loadGc();
  gcFn?.({ type: 'minor' });
}
function loadGc(): GcFn | null {
  try {
    const g = (globalThis as { gc?: GcFn }).gc;
    if (typeof g === 'function') return g;
    const req = createRequire(import.meta.url);
    (req('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
    return (req('node:vm') as typeof import('node:vm')).runInNewContext('gc') as GcFn;
  } catch {
    return null;
  }
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
  // Under --limit-rate, chunks are kept to ~1/8 s of the rate so waits stay short and smooth.
  const chunkSize =
    o.readChunkSize ??
    (o.rateLimiter ? Math.min(READ_CHUNK, Math.max(16 * 1024, Math.floor(o.rateLimiter.bytesPerSecond / 8))) : READ_CHUNK);
  let stream: ReturnType<typeof createReadStream> | undefined;
  let sent = 0;
  async function* body(): AsyncGenerator<Buffer> {
    // Opened here, when undici starts sending, so that an error opening or reading the file
    // (deleted, locked on Windows) surfaces through this generator, never as an unhandled event.
    stream = createReadStream(o.path, { start: part.offset, end: part.offset + part.size - 1, highWaterMark: chunkSize });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (o.rateLimiter) {
          // Waiting for our bandwidth share is not a stall: the watchdog pauses meanwhile.
          if (timer) clearTimeout(timer);
          timer = undefined;
          await o.rateLimiter.take(chunk.length, controller.signal);
        }
        hash?.update(chunk);
        sent += chunk.length;
        kick();
        o.onProgress(chunk.length);
        collectHint(chunk.length);
        yield chunk;
      }
    } catch (err) {
      if (controller.signal.aborted) throw controller.signal.reason;
      throw readError(o.path, part.number, err);
    }
    if (sent !== part.size) {
      throw new LakeupError('input', `the file shrank while part ${part.number} was read: it changed during the upload`, {
        code: 'FILE_CHANGED',
      });
    }
  }

  try {
    kick();
    const res = await undiciRequest(o.url, {
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
    // (undici may stop pulling the body once Content-Length bytes are out, so count, not `done`.)
    if (sent !== part.size) {
      // A 2xx before the whole part went out: never record a part we did not fully send.
      throw new LakeupError('network', `part ${part.number}: storage answered before the whole part was sent (${sent} of ${part.size} bytes)`, {
        code: 'EARLY_ANSWER',
      });
    }
    const raw = res.headers.etag;
    const etagHeader = Array.isArray(raw) ? raw[0] : raw;
    if (!etagHeader) {
      throw new LakeupError('server', `part ${part.number}: storage answered HTTP ${res.statusCode} without an ETag`, {
        status: res.statusCode,
        code: 'NO_ETAG',
      });
    }
    const etag = plainEtag(etagHeader);
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
    stream?.destroy();
  }
}

function readError(file: string, partNumber: number, err: unknown): LakeupError {
  if (err instanceof LakeupError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOENT'
      ? 'the file was deleted or moved during the upload'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission to read the file was taken away during the upload'
        : code === 'EBUSY'
          ? 'another program has locked the file'
          : `reading it failed (${code ?? (err as Error)?.message ?? 'error'})`;
  return new LakeupError('input', `${file}: part ${partNumber}: ${why}`, { code: 'FILE_READ', cause: err });
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
