// The send phase of one file's upload: every part the session still lacks goes to the storage, its
// URLs refreshed when they are about to expire, and a new session started when the old one cannot go
// on (its URLs expired and cannot be re-signed, or the server no longer knows it).
import type { LakeupError } from '../errors.js';
import type { UploadRequest } from '../providers/index.js';
import { uploadParts } from '../transfer/engine.js';
import type { FinishedPart } from '../types.js';
import type { PutFileOptions } from './put-file.js';
import type { UploadState } from './upload-state.js';

const MAX_SESSION_RESTARTS = 3;

/** Sends every missing part, starting a new session when the old one cannot go on (expired, gone). */
export async function sendPhase(
  o: PutFileOptions,
  req: UploadRequest,
  upload: UploadState,
  fromState: boolean,
  resumed: boolean,
  newSession: () => Promise<void>,
): Promise<void> {
  for (let restarts = 0; ; ) {
    try {
      if (fromState && restarts === 0) await refreshIfStale(o, req, upload);
      await sendAll(o, upload, resumed);
      return;
    } catch (err) {
      const e = err as LakeupError;
      if (restarts >= MAX_SESSION_RESTARTS) throw err;
      if (e?.code === 'URL_EXPIRED') {
        o.notice(`${o.provider.service} part URLs expired and cannot be re-signed: starting a new upload session`);
      } else if (fromState && restarts === 0 && e?.status === 404 && !upload.state.finalizing) {
        // The saved session is gone on the server (expired or cleaned up); nothing was finalized.
        o.notice(`${o.provider.service} no longer knows the interrupted upload session: starting a new one`);
      } else {
        throw err;
      }
      restarts++;
      resumed = false;
      o.events.emit('session:restart', { reason: e.code === 'URL_EXPIRED' ? 'presigned URLs expired' : 'session gone' });
      await newSession();
    }
  }
}

/** The provider signs the session's part URLs again (Copera); they are saved before any part uses them. */
async function refreshUrls(o: PutFileOptions, upload: UploadState, req: UploadRequest, reason: string): Promise<void> {
  const session = upload.state.session;
  Object.assign(session, await o.provider.refreshUrls!(session, req));
  await upload.saveUrls();
  o.events.emit('urls:refreshed', { reason, parts: session.parts.length });
}

/** URLs near or past their expiry: Copera gets fresh ones now; MemoryLake needs a new session. */
async function refreshIfStale(o: PutFileOptions, req: UploadRequest, upload: UploadState): Promise<void> {
  const state = upload.state;
  const ttl = state.session.urlTtlMs;
  if (!ttl || state.done.length >= state.session.parts.length) return; // no URL is needed any more
  const age = Date.now() - state.session.urlsIssuedAt;
  if (age < ttl * (1 - (o.refreshMargin ?? 0.2))) return;
  if (o.provider.canRefreshUrls && o.provider.refreshUrls) await refreshUrls(o, upload, req, 'saved URLs were about to expire');
  // MemoryLake: the engine meets the 403 and the session is restarted there, said once.
}

async function sendAll(o: PutFileOptions, upload: UploadState, resumed: boolean): Promise<void> {
  const state = upload.state;
  const session = state.session;
  const done = new Map<number, FinishedPart>(state.done.map((d) => [d.number, d]));
  const total = session.parts.reduce((n, p) => n + p.size, 0);
  const doneBytes = [...done.values()].reduce((n, p) => n + p.size, 0);
  o.events.emit('session:ready', { uploadId: session.uploadId, parts: session.parts.length, total, doneBytes, resumed });
  const t = o.transfer;
  try {
    await uploadParts({
      path: state.file.path,
      parts: session.parts,
      done,
      onPartDone: (p) => upload.recordPart(p),
      urlFor: (n) => session.urls[n - 1],
      refreshUrls:
        o.provider.canRefreshUrls && o.provider.refreshUrls ? (reason) => refreshUrls(o, upload, { file: state.file, dest: state.dest }, reason) : undefined,
      concurrency: t.concurrency,
      retries: t.retries,
      stallTimeoutMs: t.stallTimeoutMs,
      verify: t.verify,
      events: o.events,
      dispatcher: t.dispatcher,
      signal: o.signal,
      abortNow: o.abortNow,
      rateLimiter: t.rateLimiter,
      limiter: t.limiter,
      minBackoffMs: t.minBackoffMs,
    });
  } finally {
    await upload.flushPartWrites();
  }
}
