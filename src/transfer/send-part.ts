// One attempt at one part: stream bytes [offset, offset+size) of the file to a presigned URL with
// an exact Content-Length, and watch for stalls. Never buffers the part: it is read in chunks into
// one buffer per part in flight, reused from chunk to chunk and from part to part. (The MD5 of a big
// part is computed off this thread, see md5-pool.ts; a small part's is computed here as it goes.)
import { createHash } from 'node:crypto';
import { close, open, read } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import { plainEtag } from '../util/etag.js';
import { undiciRequest } from '../http/dispatcher.js';
import { parseErrorBody, squeezeSpace } from '../http/error-body.js';
import { parseRetryAfter } from '../http/retry-after.js';
import { readBody } from '../http/read-body.js';
import type { PartSpec } from '../types.js';
import type { RateLimiter } from './rate-limit.js';

export interface SendPartOptions {
  path: string;
  part: PartSpec;
  url: string;
  dispatcher?: Dispatcher;
  /** Abort the attempt when no byte moves for this long, while sending or waiting for the answer. */
  stallTimeoutMs: number;
  onProgress: (bytes: number) => void;
  signal?: AbortSignal;
  rateLimiter?: RateLimiter;
  readChunkSize?: number;
  /**
   * Hash the bytes as they are sent (small parts: a worker's round trip costs more than the MD5
   * of a few KiB on this thread).
   */
  hash?: boolean;
}

export interface SentPart {
  /** The storage's ETag, unquoted. */
  etag: string;
  status: number;
  /** Hex MD5 of the bytes sent, with `hash`. */
  md5?: string;
}

/**
 * Read size. The buffer is held once per part in flight, so memory grows by this much per slot,
 * not per chunk. Measured on 1 GiB at 16 parts in flight (--no-verify): 1 MiB 120 MB peak RSS,
 * 512 KiB 112 MB, 256 KiB 108 MB with a little more CPU (each chunk is a read on the thread pool,
 * an async step and a socket write); 512 KiB costs no more CPU than 1 MiB.
 */
export const READ_CHUNK = 512 * 1024;

/** All parts in flight together read into at most this much (at 32 in flight, 256 KiB each). */
const READ_BUDGET = 8 * 1024 * 1024;
/** The read size for `inFlight` parts in flight: READ_CHUNK down to 64 KiB, in powers of two. */
export function readChunkFor(inFlight: number): number {
  let size = READ_CHUNK;
  while (size > 64 * 1024 && size * inFlight > READ_BUDGET) size /= 2;
  return size;
}

/**
 * The last bytes of a part go out as a write of their own, smaller than the socket's 16 KiB
 * high-water mark. Why: undici marks a connection as writing until the body iterator is done, and
 * destroys it when the answer arrives first. A write at or above the mark makes undici wait for
 * 'drain' before it asks the iterator again; on a fast link the server's answer can be read in the
 * same turn of the event loop as that drain, before the iterator said it was done, and the
 * connection was thrown away (23 connections for 103 parts at concurrency 4 measured). A small
 * last write returns true, so undici finishes the body in the same tick, before any answer can be
 * read: one connection per slot, kept alive.
 */
const TAIL = 8 * 1024;

// Chunk buffers, reused. A buffer is handed to undici by the body iterator, which undici resumes
// only once the socket has taken the whole chunk (writes at least the high-water mark return
// false and undici waits for 'drain', or the socket closed), so a buffer is refilled only after the
// kernel has copied it. A buffer returns to the pool when both the request and its body iterator
// are finished; one left with an iterator undici never finished is simply garbage-collected.
// One free list per size (readChunkFor's powers of two), so a part reading 128 KiB holds 128 KiB.
const pools = new Map<number, Buffer[]>();
const POOL_MAX = 64;
function takeBuffer(size: number): Buffer {
  return pools.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}
function giveBuffer(b: Buffer): void {
  let pool = pools.get(b.length);
  if (!pool) pools.set(b.length, (pool = []));
  if (pool.length < POOL_MAX) pool.push(b);
}

function openFile(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}
function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
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

  // Under --limit-rate, chunks are kept to ~1/8 s of the rate so waits stay short and smooth.
  const chunkSize = Math.min(
    o.readChunkSize ?? READ_CHUNK,
    o.rateLimiter ? Math.max(16 * 1024, Math.floor(o.rateLimiter.bytesPerSecond / 8)) : READ_CHUNK,
  );
  let buffer: Buffer | undefined;
  let bodyRunning = false;
  let requestSettled = false;
  const releaseBuffer = () => {
    if (buffer && !bodyRunning && requestSettled) {
      giveBuffer(buffer);
      buffer = undefined;
    }
  };
  let sent = 0;
  const md5 = o.hash ? createHash('md5') : undefined;
  async function* body(): AsyncGenerator<Buffer> {
    if (requestSettled) return;
    bodyRunning = true;
    // A small part holds a buffer of its own size (rounded to a power of two, for reuse), not a chunk's.
    buffer = takeBuffer(Math.min(chunkSize, 2 ** Math.ceil(Math.log2(Math.max(part.size, 16 * 1024)))));
    let fd: number | undefined;
    try {
      // Opened here, when undici starts sending, so that an error opening or reading the file
      // (deleted, locked on Windows) surfaces through this generator, never as an unhandled event.
      fd = await openFile(o.path);
      while (sent < part.size) {
        const want = Math.min(buffer.length, part.size - sent);
        const n = await readAt(fd, buffer, want, part.offset + sent);
        if (n === 0) {
          throw new LakeupError('input', `the file shrank while part ${part.number} was read: it changed during the upload`, {
            code: 'FILE_CHANGED',
          });
        }
        if (o.rateLimiter) {
          // Waiting for our bandwidth share is not a stall: the watchdog pauses meanwhile.
          if (timer) clearTimeout(timer);
          timer = undefined;
          await o.rateLimiter.take(n, controller.signal);
        }
        sent += n;
        md5?.update(buffer.subarray(0, n)); // before the buffer is handed on and refilled
        kick();
        o.onProgress(n);
        if (sent === part.size && n > TAIL) {
          yield buffer.subarray(0, n - TAIL);
          yield buffer.subarray(n - TAIL, n);
        } else {
          yield buffer.subarray(0, n);
        }
      }
    } catch (err) {
      if (controller.signal.aborted) throw controller.signal.reason;
      throw readError(o.path, part.number, err);
    } finally {
      if (fd !== undefined) close(fd, () => undefined);
      bodyRunning = false;
      releaseBuffer();
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
      const { text } = await readBody(res.body, 64 * 1024);
      const parsed = parseErrorBody(text);
      const what = [parsed.code, parsed.message].filter(Boolean).join(': ') || squeezeSpace(text).slice(0, 120) || 'no body';
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
    return { etag: plainEtag(etagHeader), status: res.statusCode, md5: md5?.digest('hex') };
  } catch (err) {
    // An abort carries its reason (a stall, Ctrl-C, a fatal error elsewhere); undici wraps it.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', onOuterAbort);
    requestSettled = true;
    releaseBuffer();
  }
}

const MD5_HEX = /^[0-9a-f]{32}$/i;

/**
 * Compares the MD5 of the part's bytes with the storage's ETag when the ETag is an MD5 (32 hex
 * digits); other ETags (KMS, multipart-style, other stores) cannot be compared and pass.
 */
export function checkDigest(partNumber: number, etag: string, md5: string): void {
  if (MD5_HEX.test(etag) && etag.toLowerCase() !== md5) {
    throw new LakeupError('integrity', `part ${partNumber}: storage ETag ${etag} does not match the MD5 sent (${md5})`, {
      code: 'BAD_DIGEST',
    });
  }
}

export function readError(file: string, partNumber: number, err: unknown): LakeupError {
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

