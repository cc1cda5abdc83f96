// One file, end to end, in phases that read top to bottom: inspect the file, find or create the
// session (resuming from the state file), send the parts, finalize, forget the state.
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import type { Provider, UploadRequest } from '../providers/index.js';
import { acquireLock } from '../state/lock.js';
import { StateWriter } from '../state/state-writer.js';
import { loadState, quarantineState, removeState, saveState, stateId, statePath, type StateFile } from '../state/state-file.js';
import { uploadParts } from '../transfer/engine.js';
import type { UploadEvents } from '../transfer/events.js';
import type { AdaptiveLimiter } from '../transfer/limiter.js';
import type { RateLimiter } from '../transfer/rate-limit.js';
import type { Destination, FinishedPart, PutResult, Session } from '../types.js';
import { inspectFile, sameFingerprint, samePath } from './local-file.js';

export interface PutFileOptions {
  provider: Provider;
  endpoint: string;
  file: string;
  dest: Destination;
  partSize?: number;
  concurrency: number;
  retries: number;
  stallTimeoutMs: number;
  verify: boolean;
  /** Resume a matching interrupted upload (default) or start over. */
  resume: boolean;
  stateDir: string;
  events: UploadEvents;
  /** One-line notices for the user (stderr). */
  notice: (line: string) => void;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
  rateLimiter?: RateLimiter;
  limiter?: AdaptiveLimiter;
  minBackoffMs?: number;
  /** Refresh Copera URLs when less than this share of their lifetime is left (default 0.2). */
  refreshMargin?: number;
  /** A spooled temp file (stdin): its state is forgotten when the upload fails. */
  ephemeral?: boolean;
  /** Name shown in the result (defaults to the path given). */
  displayFile?: string;
}

const MAX_SESSION_RESTARTS = 3;

export async function putFile(o: PutFileOptions): Promise<PutResult> {
  const started = performance.now();
  const fingerprint = inspectFile(o.file);
  const req: UploadRequest = { file: fingerprint, dest: o.dest, partSize: o.partSize };
  const id = stateId(o.provider.name, o.endpoint, fingerprint.path, o.dest);
  const lock = await acquireLock(o.stateDir, id);
  try {
    let state = o.resume ? findResumable(o, id, fingerprint) : undefined;
    if (!o.resume) removeState(o.stateDir, id);
    const fromState = state !== undefined;
    let resumed = state !== undefined && state.done.length > 0;
    if (!state) state = await newState(o, req, id);

    let restarts = 0;
    for (;;) {
      try {
        if (fromState && restarts === 0) await refreshIfStale(o, req, state);
        await sendAll(o, state, resumed);
        break;
      } catch (err) {
        const e = err as LakeupError;
        if (restarts >= MAX_SESSION_RESTARTS) throw err;
        if (e?.code === 'URL_EXPIRED') {
          o.notice(`${o.provider.service} part URLs expired and cannot be re-signed: starting a new upload session`);
        } else if (fromState && restarts === 0 && e?.status === 404 && !state.finalizing) {
          // The saved session is gone on the server (expired or cleaned up); nothing was finalized.
          o.notice(`${o.provider.service} no longer knows the interrupted upload session: starting a new one`);
        } else {
          throw err;
        }
        restarts++;
        resumed = false;
        o.events.emit('session:restart', { reason: e.code === 'URL_EXPIRED' ? 'presigned URLs expired' : 'session gone' });
        state = await newState(o, req, id);
      }
    }

    // Never stitch old and new bytes: the file must still be what we sent.
    const now = inspectFile(o.file);
    if (!sameFingerprint(now, fingerprint)) {
      removeState(o.stateDir, id);
      throw new LakeupError('input', `${o.file}: the file changed during the upload; run the command again to send the new content`, {
        code: 'FILE_CHANGED',
      });
    }

    const byNumber = new Map(state.done.map((d) => [d.number, d]));
    const parts = state.session.parts.map((p) => {
      const d = byNumber.get(p.number);
      if (!d) throw new LakeupError('integrity', `part ${p.number} has no ETag after the upload`, { code: 'MISSING_PART' });
      return d;
    });
    // Remember that finalize was sent: if we are cut off now, a rerun must not assume the session
    // is unfinished (the item may exist) and must not silently start a second copy.
    state.finalizing = true;
    saveState(o.stateDir, state, { withUrls: false });
    let item;
    try {
      item = await o.provider.finalize(state.session, parts, req);
    } catch (err) {
      const status = (err as LakeupError)?.status;
      if (status !== undefined && status >= 400 && status < 500 && ![401, 403, 404, 409, 429].includes(status)) {
        const e = err as LakeupError;
        throw new LakeupError(e.kind, `${e.message} (finished parts are kept; if this repeats, run again with --no-resume)`, {
          status: e.status,
          code: e.code,
          cause: err,
        });
      }
      if (status === 404 && fromState) {
        throw new LakeupError(
          'server',
          `${o.provider.service} no longer knows this upload session; if an earlier run was cut off while finishing, the file may already be in the drive. Check, or run again with --no-resume to upload it anew`,
          { status: 404, code: (err as LakeupError).code, cause: err },
        );
      }
      throw err;
    }
    removeState(o.stateDir, id);

    const elapsedMs = Math.round(performance.now() - started);
    const result: PutResult = {
      ok: true,
      provider: o.provider.name,
      file: o.displayFile ?? o.file,
      name: item.name,
      id: item.id,
      size: fingerprint.size,
      parts: parts.length,
      elapsedMs,
      bytesPerSecond: Math.round(fingerprint.size / Math.max(elapsedMs / 1000, 0.001)),
      resumed,
    };
    o.events.emit('upload:done', result);
    return result;
  } catch (err) {
    if (o.ephemeral) removeState(o.stateDir, id);
    throw err;
  } finally {
    lock.release();
  }
}

/** The state of an interrupted upload of this same file to the same place, when it can be trusted. */
function findResumable(o: PutFileOptions, id: string, fp: StateFile['file']): StateFile | undefined {
  const r = loadState(o.stateDir, id);
  if (r.status === 'missing') return undefined;
  if (r.status === 'invalid') {
    const aside = quarantineState(r.file);
    o.notice(`ignoring the saved state of an earlier upload because ${r.reason} (moved to ${aside}); starting from the beginning`);
    return undefined;
  }
  const s = r.state;
  if (s.provider !== o.provider.name || s.endpoint !== o.endpoint || !samePath(s.file.path, fp.path)) {
    const aside = quarantineState(statePath(o.stateDir, id));
    o.notice(`ignoring a saved state that belongs to another upload (moved to ${aside}); starting from the beginning`);
    return undefined;
  }
  if (!sameFingerprint(s.file, fp)) {
    o.notice(`${o.file} changed since the interrupted upload (size or modification time differ): uploading the current content from the start`);
    removeState(o.stateDir, id);
    return undefined;
  }
  if (o.partSize !== undefined && s.partSize !== undefined && o.partSize !== s.partSize) {
    o.notice(`--part-size differs from the interrupted upload's: resuming with its part size`);
  }
  return s;
}

async function newState(o: PutFileOptions, req: UploadRequest, id: string): Promise<StateFile> {
  const session = await o.provider.createSession(req);
  const now = Date.now();
  const state: StateFile = {
    version: 1,
    id,
    provider: o.provider.name,
    endpoint: o.endpoint,
    dest: o.dest,
    file: req.file,
    partSize: o.provider.canRefreshUrls ? session.parts[0]?.size : undefined,
    session,
    done: [],
    createdAt: now,
    updatedAt: now,
  };
  saveState(o.stateDir, state);
  return state;
}

/** URLs near or past their expiry: Copera gets fresh ones now; MemoryLake needs a new session. */
async function refreshIfStale(o: PutFileOptions, req: UploadRequest, state: StateFile): Promise<void> {
  const ttl = state.session.urlTtlMs;
  if (!ttl || state.done.length >= state.session.parts.length) return; // no URL is needed any more
  const age = Date.now() - state.session.urlsIssuedAt;
  if (age < ttl * (1 - (o.refreshMargin ?? 0.2))) return;
  if (o.provider.canRefreshUrls && o.provider.refreshUrls) {
    Object.assign(state.session, await o.provider.refreshUrls(state.session, req));
    saveState(o.stateDir, state);
    o.events.emit('urls:refreshed', { reason: 'saved URLs were about to expire', parts: state.session.parts.length });
  }
  // MemoryLake: the engine meets the 403 and the session is restarted there, said once.
}

async function sendAll(o: PutFileOptions, state: StateFile, resumed: boolean): Promise<void> {
  const session: Session = state.session;
  const done = new Map<number, FinishedPart>(state.done.map((d) => [d.number, d]));
  const total = session.parts.reduce((n, p) => n + p.size, 0);
  const doneBytes = [...done.values()].reduce((n, p) => n + p.size, 0);
  o.events.emit('session:ready', { uploadId: session.uploadId, parts: session.parts.length, total, doneBytes, resumed });

  // The state file listens to the same events as the progress bar: written after every part,
  // off the event loop, and flushed before this function returns or throws.
  const writer = new StateWriter(o.stateDir, state);
  const recorded = new Set(state.done.map((d) => d.number)); // O(1) per part, even at 10,000 parts
  const onDone = (p: FinishedPart) => {
    if (recorded.has(p.number)) return;
    recorded.add(p.number);
    state.done.push({ number: p.number, etag: p.etag, md5: p.md5, size: p.size });
    writer.schedule();
  };
  o.events.on('part:done', onDone);
  try {
    await uploadParts({
      path: state.file.path,
      parts: session.parts,
      done,
      urlFor: (n) => session.urls[n - 1],
      refreshUrls:
        o.provider.canRefreshUrls && o.provider.refreshUrls
          ? async (reason) => {
              Object.assign(session, await o.provider.refreshUrls!(session, { file: state.file, dest: state.dest }));
              await writer.flush(); // no per-part write may land after this one
              saveState(o.stateDir, state);
              o.events.emit('urls:refreshed', { reason, parts: session.parts.length });
            }
          : undefined,
      concurrency: o.concurrency,
      retries: o.retries,
      stallTimeoutMs: o.stallTimeoutMs,
      verify: o.verify,
      events: o.events,
      dispatcher: o.dispatcher,
      signal: o.signal,
      rateLimiter: o.rateLimiter,
      limiter: o.limiter,
      minBackoffMs: o.minBackoffMs,
    });
  } finally {
    o.events.off('part:done', onDone);
    try {
      await writer.flush();
    } catch (err) {
      // The parts are in the storage either way; only a later resume would miss them.
      o.notice(`could not save the resumable state: ${(err as Error).message}`);
    }
  }
}
