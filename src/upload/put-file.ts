// One file, end to end, in phases that read top to bottom: find or create the session (resuming
// from the upload's state), send the parts, finalize, forget the state.
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import type { Provider, UploadRequest } from '../providers/index.js';
import { recordDoneInRun, type FinalizingSession, type JournalEntry, type RunJournal } from '../state/journal.js';
import { mayHaveActed } from '../http/api.js';
import { stateId, type StateFile, type StateListing } from '../state/state-file.js';
import { uploadParts } from '../transfer/engine.js';
import type { UploadEvents } from '../events.js';
import type { AdaptiveLimiter } from '../transfer/limiter.js';
import type { RateLimiter } from '../transfer/rate-limit.js';
import type { Destination, FileFingerprint, FinishedPart, PutResult, Session, SkippedResult, UploadedItem } from '../types.js';
import { sleep } from '../util/sleep.js';
import { inspectFileAsync } from './local-file.js';
import { stillAsSent } from './part-check.js';
import { findFinalized, multipartEtag, type CutOffFinalize } from './recover.js';
import { UploadState } from './upload-state.js';

/** How parts travel: what the engine needs, shared by every file of a run. */
export interface TransferSettings {
  concurrency: number;
  retries: number;
  stallTimeoutMs: number;
  verify: boolean;
  dispatcher?: Dispatcher;
  rateLimiter?: RateLimiter;
  /** Shared across the files of a run; otherwise one is made from `concurrency`. */
  limiter?: AdaptiveLimiter;
  minBackoffMs?: number;
}

export interface PutFileOptions {
  provider: Provider;
  endpoint: string;
  file: string;
  /** Taken by the caller already (a run stats every file first). */
  fingerprint?: FileFingerprint;
  dest: Destination;
  partSize?: number;
  transfer: TransferSettings;
  /** Resume a matching interrupted upload (default) or start over. */
  resume: boolean;
  stateDir: string;
  events: UploadEvents;
  /** One-line notices for the user (stderr). */
  notice: (line: string) => void;
  /** Stop starting work (the first Ctrl-C): the parts in flight still finish, unless `abortNow` fires. */
  signal?: AbortSignal;
  /** Stop the parts in flight too (a second Ctrl-C, or the grace time over). */
  abortNow?: AbortSignal;
  /**
   * The state folder turned out unwritable where the upload goes on regardless: its state could
   * not be removed once the file was in the drive (a read-only folder). Its run stops there.
   */
  onStateUnwritable?: (e: unknown) => void;
  /** Refresh Copera URLs when less than this share of their lifetime is left (default 0.2). */
  refreshMargin?: number;
  /** A spooled temp file (stdin): its state is forgotten when the upload fails. */
  ephemeral?: boolean;
  /** Name shown in the result (defaults to the path given). */
  displayFile?: string;
  /**
   * The run this file belongs to: its journal records finalize under `entry`, and a file that fits
   * in one part keeps no state file of its own.
   */
  run?: { journal: RunJournal; entry: JournalEntry };
  /** MemoryLake: the x_attrs to create the item with, computed while the parts are sent (a hash of the file). */
  attrs?: () => Promise<Record<string, string>>;
  /** The state folder as listed by the caller (a run does, once): no lookup per file. */
  known?: StateListing;
  /** The run's journal says an earlier attempt sent this file's finalize and never saw it end. */
  /** …and, for a file without a state file, for which session. */
  cutOff?: Omit<CutOffFinalize, 'size'> & { session?: FinalizingSession };
}

const MAX_SESSION_RESTARTS = 3;

/** What an interrupted upload kept for the next run: its finished parts, on disk. */
export interface KeptParts {
  parts: number;
  of: number;
  bytes: number;
  total: number;
}

/** The upload stopped on Ctrl-C / SIGTERM; `kept` is what a rerun will not send again. */
export class UploadInterrupted extends LakeupError {
  constructor(
    readonly kept: KeptParts,
    cause: LakeupError,
  ) {
    super('interrupted', cause.message, { cause });
  }
}

/** How long to wait, one step after another (~1 min in all), while an earlier finalize of the session is under way. */
const IN_PROGRESS_WAITS_MS = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000];

/** A 409 that says the session is being finalized by another request (not a name taken under 'deny'). */
function isInProgress(err: unknown): boolean {
  const e = err as LakeupError;
  return e?.status === 409 && e.code !== 'DRIVE_ITEM_CONFLICT';
}

export async function putFile(o: PutFileOptions): Promise<PutResult | SkippedResult> {
  const started = performance.now();
  const fingerprint = o.fingerprint ?? (await inspectFileAsync(o.file));
  const req: UploadRequest = { file: fingerprint, dest: o.dest, partSize: o.partSize };
  const display = o.displayFile ?? o.file;
  const id = stateId(o.provider.name, o.endpoint, fingerprint.path, o.dest);
  const upload = new UploadState({
    dir: o.stateDir,
    id,
    provider: o.provider.name,
    endpoint: o.endpoint,
    dest: o.dest,
    notice: o.notice,
    display,
    run: o.run ? { key: o.run.journal.key, to: o.run.entry.to } : undefined,
    onUnwritable: o.onStateUnwritable,
    signal: o.signal,
  });
  /** `sent`: the parts, when this run has them (their multipart ETag is the file's checksum). */
  const resultOf = (item: { id: string; name: string }, sent: number | readonly FinishedPart[], extra: Partial<PutResult>): PutResult => {
    const elapsedMs = Math.round(performance.now() - started);
    const parts = typeof sent === 'number' ? sent : sent.length;
    const etag = typeof sent === 'number' ? undefined : multipartEtag(sent);
    const result: PutResult = {
      ok: true,
      provider: o.provider.name,
      file: display,
      name: item.name,
      id: item.id,
      size: fingerprint.size,
      parts,
      elapsedMs,
      bytesPerSecond: Math.round(fingerprint.size / Math.max(elapsedMs / 1000, 0.001)),
      resumed: false,
      ...(etag ? { etag } : {}),
      ...extra,
    };
    o.events.emit('upload:done', result);
    return result;
  };
  // A state that belongs to a run this put is not: the run must hear that the file is done.
  const tellItsRun = async (saved: StateFile | undefined, item: { id: string; name: string }) => {
    // (A state dropped because the file changed still named its run: the run wants the new content.)
    const r = saved?.run ?? upload.droppedRun;
    if (!r || r.key === o.run?.journal.key) return;
    const f = { size: fingerprint.size, mtimeMs: fingerprint.mtimeMs, id: item.id, name: item.name };
    await recordDoneInRun(o.stateDir, r.key, { file: fingerprint.path, to: r.to }, f).catch(() => undefined);
  };
  try {
    // One process drives an upload, whatever commands name the file: each takes its lock first.
    // A run's files take the quick form, unless an earlier run left a state or lock for them.
    const mayHaveState = o.known === undefined || o.known.states.has(id);
    await upload.lockIt(o.run !== undefined && !mayHaveState && !o.known?.locks.has(id));
    const saved = o.resume && mayHaveState ? await upload.find(fingerprint, o.partSize) : undefined;
    if (!o.resume) await upload.deleteEarlierState();
    if (!saved && o.resume && o.run && o.known?.states.has(id)) {
      // Its state was there when the run began and is gone now that we hold its lock: whoever
      // finished it meanwhile (`lakeup resume <id>`, a single put) told the run's journal first.
      const done = await o.run.journal.finishedElsewhere(o.run.entry);
      if (done && done.size === fingerprint.size && done.mtimeMs === fingerprint.mtimeMs) {
        const skip: SkippedResult = {
          ok: true,
          skipped: true,
          reason: 'already-uploaded',
          provider: o.provider.name,
          file: display,
          name: done.name,
          id: done.id,
          size: fingerprint.size,
        };
        return skip;
      }
    }

    // The file is in the drive: the run its state names hears of it, its state goes, and the
    // result says what was made.
    const finished = async (item: { id: string; name: string }, sent: number | readonly FinishedPart[], extra: Partial<PutResult>) => {
      await tellItsRun(saved, item);
      await upload.deleteState();
      return resultOf(item, sent, extra);
    };

    // An earlier run sent finalize and never heard back: the drive says whether it took effect.
    const cut = saved?.finalizing ? cutOffOf(saved) : o.resume ? o.cutOff : undefined;
    const lookUpCut = (c: NonNullable<typeof cut>) => findFinalized(o.provider, o.dest, { ...c, size: fingerprint.size }, o.signal);
    // A file without a state file of its own (one part, in a run): the journal kept its session.
    const journaled = !saved && cut ? sessionFromJournal(o.cutOff?.session, fingerprint) : undefined;
    if (cut) {
      const item = await lookUpCut(cut);
      if (item) return await finished(item, cut.parts ?? saved?.session.parts.length ?? 1, { recovered: true });
      o.notice(
        `${display}: the finalize an earlier run sent did not make the file (it is not in the drive): ${saved || journaled ? 'finalizing it again' : 'uploading it again'}`,
      );
    }
    // Same size and mtime, but nothing vouches for the content (ctime or inode moved, or unknown):
    // the parts sent before are read again, and those that changed go again.
    if (saved) await upload.checkContent(fingerprint);
    if (journaled) {
      // Finalize that same session again, never a new one: the earlier finalize may still be under
      // way at the server, and the session lets only one of them make the file.
      await upload.begin(fingerprint, journaled.session, undefined, true);
      upload.state.done.push(...journaled.done);
    }

    let fromState = saved !== undefined || journaled !== undefined;
    let resumed = fromState && upload.state.done.length > 0;
    const newSession = async () => {
      const session = await o.provider.createSession(req);
      // A one-part file in a run: the journal is enough, and there is nothing to resume inside it.
      const inMemory = (o.run !== undefined && session.parts.length === 1) || o.ephemeral === true;
      await upload.begin(fingerprint, session, o.provider.canRefreshUrls ? session.parts[0]?.size : undefined, inMemory);
    };
    if (!fromState) await newSession();

    // Read beside the parts being sent; an item without them is only compared less cheaply later.
    const attrs = o.attrs?.().catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      await sendPhase(o, req, upload, fromState, resumed, newSession);
      req.attrs = await attrs;
      // Never stitch old and new bytes: the file must still be what we sent.
      const now = await inspectFileAsync(o.file, { checkReadable: false }); // it was just read
      if (!(await stillAsSent(fingerprint, now, upload.state.session.parts, upload.state.done))) {
        await upload.deleteState();
        throw new LakeupError('input', `${o.file}: the file changed during the upload; run the command again to send the new content`, {
          code: 'FILE_CHANGED',
        });
      }
      const parts = finishedParts(upload);
      try {
        const item = await finalize(o, upload, parts, req);
        return await finished(item, parts, item.recovered ? { resumed, recovered: true } : { resumed });
      } catch (first) {
        if (fromState && !cut && attempt === 0 && (first as LakeupError)?.status === 404) {
          // The saved session is unknown at finalize: it expired, or it is another account's (a
          // state is kept per file, not per token, and a new token of the same account resumes it).
          o.notice(`${o.provider.service} no longer knows the interrupted upload session: uploading ${display} again`);
          fromState = false;
          resumed = false;
          await newSession();
          continue;
        }
        if (!(cut && fromState && attempt === 0)) throw first;
        let err = first;
        // 409: another request is finalizing this session right now (the earlier finalize, which
        // the server was still carrying out). Wait for it, and look again.
        for (const ms of IN_PROGRESS_WAITS_MS) {
          if (!isInProgress(err)) break;
          await sleep(ms, o.signal);
          const late = await lookUpCut(cut);
          if (late) return await finished(late, parts, { recovered: true });
          try {
            const item = await finalize(o, upload, parts, req);
            return await finished(item, parts, { resumed });
          } catch (again) {
            err = again;
          }
        }
        if ((err as LakeupError)?.status !== 404) throw err;
        // The session is gone. Either the earlier finalize made the file after all (a server can
        // still be carrying it out when the drive is asked above), or the session expired before
        // that finalize reached it. The drive says which; only in the second case is the file sent
        // again, once.
        const late = await lookUpCut(cut);
        if (late) return await finished(late, parts, { recovered: true });
        o.notice(`${o.provider.service} no longer knows the interrupted upload session: uploading ${display} again`);
        fromState = false;
        resumed = false;
        await newSession();
      }
    }
  } catch (err) {
    if (o.ephemeral) await upload.deleteState().catch(() => undefined);
    else await upload.flushPartWrites();
    if ((err as LakeupError)?.kind !== 'interrupted' || err instanceof UploadInterrupted) throw err;
    if (!o.ephemeral) await upload.keep().catch(() => undefined); // not kept: the line counts it so
    // Counted over the files that had a session: their parts, and of those what is on disk.
    const s = o.ephemeral ? undefined : upload.state;
    const saved = upload.onDisk ? (s?.done ?? []) : [];
    const kept = { parts: saved.length, of: s?.session.parts.length ?? 0, bytes: saved.reduce((n, d) => n + d.size, 0), total: s ? fingerprint.size : 0 };
    throw new UploadInterrupted(kept, err as LakeupError);
  } finally {
    await upload.unlock();
  }
}

/** Sends every missing part, starting a new session when the old one cannot go on (expired, gone). */
async function sendPhase(
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

function finishedParts(upload: UploadState): FinishedPart[] {
  const state = upload.state;
  const byNumber = new Map(state.done.map((d) => [d.number, d]));
  return state.session.parts.map((p) => {
    const d = byNumber.get(p.number);
    if (!d) throw new LakeupError('integrity', `part ${p.number} has no ETag after the upload`, { code: 'MISSING_PART' });
    return d;
  });
}

/** The session a journal's finalize record names, when it covers the file as it is now. */
function sessionFromJournal(s: FinalizingSession | undefined, file: FileFingerprint): { session: Session; done: FinishedPart[] } | undefined {
  if (!s) return undefined;
  const done = [...s.done].sort((a, b) => a.number - b.number);
  let offset = 0;
  const parts = done.map((d, i) => {
    const p = { number: d.number, offset, size: d.size };
    offset += d.size;
    return d.number === i + 1 ? p : undefined;
  });
  if (offset !== file.size || parts.some((p) => p === undefined)) return undefined;
  const now = Date.now();
  const session: Session = {
    uploadId: s.uploadId,
    fileKey: s.fileKey,
    parts: parts as Session['parts'],
    urls: parts.map(() => ''), // every part is in the storage: no URL is needed
    urlsIssuedAt: now,
    createdAt: now,
  };
  return { session, done };
}

function cutOffOf(s: StateFile): Omit<CutOffFinalize, 'size'> {
  return { at: s.finalizeSentAt ?? s.updatedAt, parts: s.session.parts.length, etag: multipartEtag(s.done) };
}

/**
 * Records that finalize is being sent (state and journal: if we are cut off now, a rerun must not
 * assume the session is unfinished), then sends it.
 */
async function finalize(o: PutFileOptions, upload: UploadState, parts: FinishedPart[], req: UploadRequest): Promise<UploadedItem & { recovered?: boolean }> {
  o.events.emit('upload:finalizing');
  await upload.markFinalizing();
  const { size, mtimeMs } = req.file;
  const cut: CutOffFinalize = { at: upload.state.finalizeSentAt!, size, parts: parts.length, etag: multipartEtag(parts) };
  const { uploadId, fileKey } = upload.state.session;
  await o.run?.journal.markFinalizing(o.run.entry, {
    size,
    mtimeMs,
    at: cut.at,
    parts: cut.parts,
    etag: cut.etag,
    // Without a state file, the journal is where a rerun finds the session to finalize again.
    session: upload.onDisk ? undefined : { uploadId, fileKey, done: parts },
  });
  try {
    try {
      return await o.provider.finalize(upload.state.session, parts, req);
    } catch (err) {
      if (!mayHaveActed(err)) throw err;
      // The answer was lost or a gateway failed: the drive says whether finalize took effect.
      let found;
      try {
        found = await findFinalized(o.provider, o.dest, cut, o.signal);
      } catch (lookup) {
        throw new LakeupError((err as LakeupError).kind ?? 'server', `${(err as Error).message}; and looking the file up failed: ${(lookup as Error).message}`, {
          status: (err as LakeupError).status,
          code: (err as LakeupError).code,
          cause: err,
        });
      }
      if (found) return { id: found.id, name: found.name, raw: found, recovered: true };
      o.notice(`${o.provider.service} did not confirm finalize (${(err as Error).message}) and the file is not in the drive: finalizing again`);
      return await o.provider.finalize(upload.state.session, parts, req);
    }
  } catch (err) {
    const status = (err as LakeupError)?.status;
    // Refused outright (a 4xx other than a gone session): finalize made nothing, so a rerun must
    // not go looking for what it made.
    if (status !== undefined && status >= 400 && status < 500 && status !== 404 && status !== 429 && !isInProgress(err)) {
      await upload.clearFinalizing();
      await o.run?.journal.markNotFinalized(o.run.entry).catch(() => undefined);
    }
    if (status !== undefined && status >= 400 && status < 500 && ![401, 403, 404, 409, 429].includes(status)) {
      const e = err as LakeupError;
      throw new LakeupError(e.kind, `${e.message} (the finished parts are kept)`, { status: e.status, code: e.code, cause: err });
    }
    throw err;
  }
}

/** URLs near or past their expiry: Copera gets fresh ones now; MemoryLake needs a new session. */
async function refreshIfStale(o: PutFileOptions, req: UploadRequest, upload: UploadState): Promise<void> {
  const state = upload.state;
  const ttl = state.session.urlTtlMs;
  if (!ttl || state.done.length >= state.session.parts.length) return; // no URL is needed any more
  const age = Date.now() - state.session.urlsIssuedAt;
  if (age < ttl * (1 - (o.refreshMargin ?? 0.2))) return;
  if (o.provider.canRefreshUrls && o.provider.refreshUrls) {
    Object.assign(state.session, await o.provider.refreshUrls(state.session, req));
    await upload.saveUrls();
    o.events.emit('urls:refreshed', { reason: 'saved URLs were about to expire', parts: state.session.parts.length });
  }
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
        o.provider.canRefreshUrls && o.provider.refreshUrls
          ? async (reason) => {
              Object.assign(session, await o.provider.refreshUrls!(session, { file: state.file, dest: state.dest }));
              await upload.saveUrls();
              o.events.emit('urls:refreshed', { reason, parts: session.parts.length });
            }
          : undefined,
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
