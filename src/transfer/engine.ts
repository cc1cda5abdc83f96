// The transfer engine: sends the parts of one file through a bounded, adaptive pool, each part
// retried on its own (p-retry) by what the failure table says. Knows parts and URLs, not providers.
//
// Verification runs beside the sending: a part's MD5 is computed by a worker thread (md5-pool.ts)
// from the file range while the part is sent, and compared with the ETag once both are in. The
// part's slot goes back to the pool as soon as the storage answered, so hashing never holds a
// connection; at most `limiter.max` answered parts wait for their hashes at once.
import { setMaxListeners } from 'node:events';
import pRetry from 'p-retry';
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import type { FinishedPart, PartSpec } from '../types.js';
import { classify } from '../http/classify.js';
import type { UploadEvents } from '../events.js';
import { AdaptiveLimiter } from './limiter.js';
import type { RateLimiter } from './rate-limit.js';
import type { Md5Pool } from './md5-pool.js';

/**
 * Parts up to this size are hashed on the main thread as they are sent: the MD5 of 1 MiB is ~2 ms,
 * less than a worker's round trip (message, open, read, close, reply), and a run of small files
 * starts no thread at all.
 */
export const INLINE_MD5_MAX = 1024 * 1024;
import { checkDigest, readChunkFor, readError, sendPart } from './send-part.js';
import { sleep } from '../util/sleep.js';

export interface EngineOptions {
  path: string;
  parts: PartSpec[];
  /** Parts already finished (resume); the engine adds to it as parts finish. */
  done: Map<number, FinishedPart>;
  /**
   * Makes a finished part durable (the state file). The engine awaits every call before it
   * resolves, without holding a part slot meanwhile; a rejection ends the upload.
   */
  onPartDone?: (part: FinishedPart) => Promise<void> | void;
  /** The current presigned URL of part `n` (may change after a refresh). */
  urlFor: (n: number) => string;
  /**
   * Replaces expired URLs and resolves when `urlFor` gives fresh ones. Absent when the provider
   * cannot re-sign: an expired URL then ends the run with code URL_EXPIRED.
   */
  refreshUrls?: (reason: string) => Promise<void>;
  concurrency: number;
  /** Attempts after the first that fail without progress, per part. */
  retries: number;
  stallTimeoutMs: number;
  verify: boolean;
  events: UploadEvents;
  dispatcher?: Dispatcher;
  /**
   * Stop: no new part starts, no failed part is tried again, and the upload rejects with the
   * signal's reason once the parts in flight are over. Those are not cut short unless `abortNow`
   * fires too (without `abortNow`, this signal does both).
   */
  signal?: AbortSignal;
  /** Stop at once: the parts in flight are abandoned. */
  abortNow?: AbortSignal;
  rateLimiter?: RateLimiter;
  /** Shared across files when several upload at once; otherwise one is made from `concurrency`. */
  limiter?: AdaptiveLimiter;
  /** Where MD5s are computed when `verify` is on; default the process's shared pool of worker threads. */
  md5Pool?: Md5Pool;
  /** Backoff base in ms (tests shorten it). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}


/** Uploads every part not yet in `done`. Resolves when all are done; rejects on the first fatal failure. */
export async function uploadParts(o: EngineOptions): Promise<Map<number, FinishedPart>> {
  const limiter = o.limiter ?? new AdaptiveLimiter(o.concurrency);
  // `stop` ends what is in flight (a fatal failure, or `abortNow`); `halt` only keeps new parts
  // and new attempts from starting (the caller's `signal`: Ctrl-C lets the parts in flight finish).
  const stop = new AbortController();
  const halt = new AbortController();
  // Every part in flight or waiting for a slot listens on these (its attempt, its retry loop, its
  // place in the queue): their number is bounded by the pool, not a leak, so no warning applies.
  setMaxListeners(0, stop.signal);
  setMaxListeners(0, halt.signal);
  stop.signal.addEventListener('abort', () => halt.abort(stop.signal.reason), { once: true });
  const now = o.abortNow ?? o.signal;
  const onHalt = () => halt.abort(o.signal!.reason);
  const onAbortNow = () => stop.abort(now!.reason);
  if (o.signal?.aborted) throw o.signal.reason;
  if (now?.aborted) throw now.reason;
  o.signal?.addEventListener('abort', onHalt, { once: true });
  now?.addEventListener('abort', onAbortNow, { once: true });

  const queue = o.parts.filter((p) => !o.done.has(p.number));
  // The pool's module (worker threads) is loaded only for a part too big to hash inline.
  const needsPool = o.verify && queue.some((p) => p.size > INLINE_MD5_MAX);
  const md5Pool = needsPool ? (o.md5Pool ?? (await import('./md5-pool.js')).sharedMd5Pool()) : undefined;
  /** Each part's MD5, computed once (again only after a mismatch: the file may have changed). */
  const digests = new Map<number, Promise<string>>();
  const digestOf = (part: PartSpec): Promise<string> => {
    let d = digests.get(part.number);
    if (!d) {
      d = md5Pool!.hashRange(o.path, part.offset, part.size).catch((err: unknown) => {
        throw (err as LakeupError)?.kind ? err : readError(o.path, part.number, err);
      });
      d.catch(() => undefined); // awaited later, or not at all if the attempt fails first
      digests.set(part.number, d);
    }
    return d;
  };
  const persisting = new Set<Promise<void>>();
  let failure: unknown;
  let refreshing: Promise<void> | undefined;
  let refreshGeneration = 0;

  const refresh = (reason: string, seenGeneration: number): Promise<void> => {
    if (!o.refreshUrls) {
      throw new LakeupError('server', 'the presigned part URLs expired', { code: 'URL_EXPIRED', status: 403 });
    }
    if (seenGeneration !== refreshGeneration) return Promise.resolve(); // another part already refreshed
    if (!refreshing) {
      refreshing = o.refreshUrls(reason).finally(() => {
        refreshGeneration++;
        refreshing = undefined;
      });
    }
    return refreshing;
  };

  const sendWithRetries = async (part: PartSpec): Promise<void> => {
    let attempt = 0;
    let progressed = false;
    let furthest = 0; // most bytes any attempt of this part got out before failing
    let refreshesWithoutProgress = 0;
    let renewals = 0;
    const hardCap = 4 * (o.retries + 1) + 4;

    await pRetry(
      async () => {
        attempt++;
        progressed = false;
        const ticket = await limiter.acquire(halt.signal, part.size);
        let sent = 0;
        let released = false;
        const t0 = performance.now();
        const release = (ok: boolean) => {
          if (released) return;
          released = true;
          limiter.release(ok, part.size, performance.now() - t0, ticket);
        };
        const generation = refreshGeneration;
        const url = o.urlFor(part.number);
        try {
          const inline = o.verify && part.size <= INLINE_MD5_MAX;
          const digest = o.verify && !inline ? digestOf(part) : undefined;
          const res = await sendPart({
            hash: inline,
            path: o.path,
            part,
            url,
            dispatcher: o.dispatcher,
            stallTimeoutMs: o.stallTimeoutMs,
            signal: stop.signal,
            rateLimiter: o.rateLimiter,
            readChunkSize: readChunkFor(limiter.limit),
            onProgress: (n) => {
              sent += n;
              limiter.sent(n);
              o.events.emit('part:progress', { number: part.number, bytes: n });
            },
          });
          // Stored: the slot is free for the next part while this one's MD5 finishes.
          release(true);
          let md5: string | undefined = res.md5;
          if (inline) checkDigest(part.number, res.etag, md5!);
          if (digest) {
            md5 = await digest;
            stop.signal.throwIfAborted();
            try {
              checkDigest(part.number, res.etag, md5);
            } catch (err) {
              digests.delete(part.number);
              throw err;
            }
          }
          const finished: FinishedPart = { number: part.number, etag: res.etag, md5, size: part.size };
          o.done.set(part.number, finished);
          persist(finished);
          o.events.emit('part:http', { number: part.number, url, status: res.status, ms: performance.now() - t0, attempt });
          o.events.emit('part:done', { ...finished, attempt });
        } catch (err) {
          const e = err as { status?: number; message?: string };
          o.events.emit('part:http', {
            number: part.number,
            url,
            status: e?.status,
            ms: performance.now() - t0,
            attempt,
            error: e?.message,
          });
          // A connection lost further into the part than ever before is progress on a bad network:
          // it renews rather than spends the budget. An HTTP answer is never progress (the server
          // saw the attempt and refused it), and neither is failing at the same point again.
          progressed = (err as { status?: number }).status === undefined && sent > furthest;
          furthest = Math.max(furthest, sent);
          if (sent > 0) (err as { lostBytes?: number }).lostBytes = sent;
          const verdict = stop.signal.aborted ? undefined : classify(err);
          // The limiter hears of a throttle before the slot is given back, so the part waiting for
          // it waits out the pause too.
          if (verdict?.action === 'throttle') {
            const t = limiter.throttle(verdict.retryAfterMs ?? 1000, ticket);
            o.events.emit('throttle', t);
          } else if (verdict?.action === 'retry' && (err as LakeupError)?.code !== 'BAD_DIGEST') {
            limiter.failed(ticket);
          }
          release(false);
          // A fresh URL that got as far as failing otherwise did its job: the count starts again.
          if (verdict && verdict.action !== 'refresh') refreshesWithoutProgress = 0;
          if (verdict?.action === 'refresh') {
            refreshesWithoutProgress++;
            if (refreshesWithoutProgress > 3) {
              throw new LakeupError('server', `part ${part.number}: the presigned URL was still expired after 3 refreshes`, {
                code: 'URL_EXPIRED_AGAIN',
                cause: err,
              });
            }
            await refresh(verdict.reason, generation);
          }
          throw err;
        }
      },
      {
        retries: hardCap,
        factor: 2,
        minTimeout: o.minBackoffMs ?? 250,
        maxTimeout: o.maxBackoffMs ?? 20_000,
        randomize: true,
        signal: halt.signal,
        shouldConsumeRetry: ({ error }) => {
          const v = classify(error);
          // Refreshed URLs and progress-making attempts renew rather than spend the budget.
          return !(v.action === 'refresh' || progressed);
        },
        shouldRetry: async ({ error, retriesConsumed }) => {
          if (halt.signal.aborted) return false;
          const v = classify(error);
          if (v.action === 'fatal') return false;
          if (attempt >= hardCap) return false;
          if (retriesConsumed >= o.retries) return false; // counts the failures consumed before this one
          const lostBytes = (error as { lostBytes?: number }).lostBytes ?? 0;
          o.events.emit('part:retry', { number: part.number, attempt, reason: v.reason, delayMs: v.retryAfterMs ?? 0, lostBytes });
          // p-retry waits only between attempts that spend the budget; renewals (progress, fresh
          // URLs) get a short backoff of their own so a flapping link is not hammered.
          if (progressed || v.action === 'refresh') {
            renewals++;
            const base = Math.min(o.maxBackoffMs ?? 20_000, (o.minBackoffMs ?? 250) * 2 ** Math.min(renewals - 1, 6));
            await sleep(base * (0.5 + Math.random() / 2), halt.signal);
          }
          return true;
        },
      },
    );
  };

  // Persistence runs beside the transfer: the slot goes to the next part at once, and the upload
  // resolves only when every finished part is durable.
  const persist = (p: FinishedPart) => {
    if (!o.onPartDone) return;
    const done = Promise.resolve()
      .then(() => o.onPartDone!(p))
      .catch((err) => {
        if (!failure) {
          failure = err;
          stop.abort(err);
        }
      })
      .finally(() => persisting.delete(done));
    persisting.add(done);
  };

  const worker = async (): Promise<void> => {
    while (!failure && !halt.signal.aborted) {
      const part = queue.shift();
      if (!part) return;
      try {
        await sendWithRetries(part);
      } catch (err) {
        // p-retry checks its signal after a successful attempt too: a part stored as the
        // interrupt came is done, not failed.
        if (o.done.has(part.number)) return;
        if (!failure) {
          failure = halt.signal.aborted && o.signal?.aborted ? o.signal.reason : err;
          // An interruption lets the other parts in flight finish (unless it is `abortNow`).
          if (failure !== o.signal?.reason) stop.abort(failure);
        }
        return;
      }
    }
  };

  try {
    // With verification, up to `max` more parts than slots: answered parts waiting for their MD5
    // hold no slot, and the slots keep sending meanwhile.
    const width = o.verify ? 2 * limiter.max : limiter.max;
    const workers = Array.from({ length: Math.min(width, Math.max(1, queue.length)) }, worker);
    await Promise.all(workers);
    while (persisting.size > 0) await Promise.all([...persisting]);
  } finally {
    o.signal?.removeEventListener('abort', onHalt);
    now?.removeEventListener('abort', onAbortNow);
  }
  if (failure) throw failure;
  // Interrupted, even if the parts in flight were the last: finalize is new work, the rerun's (it
  // finds every part saved and finalizes at once).
  if (o.signal?.aborted) throw o.signal.reason;
  return o.done;
}
