// One file, end to end, in phases that read top to bottom: take its lock and find the state of an
// interrupted upload; settle a finalize an earlier run never heard back from; find or create the
// session; send the parts (send-parts.ts); check the file is still what was sent; finalize
// (finalize.ts); forget the state. Everything the upload must not lose (lock, state, URLs, what the
// run's journal hears) goes through one object, its UploadState.
import type { Dispatcher } from 'undici';
import { LakeupError } from '../errors.js';
import type { Provider, UploadRequest } from '../providers/index.js';
import type { FinalizingSession, JournalEntry, RunJournal } from '../state/journal.js';
import { stateId, type StateListing } from '../state/state-file.js';
import type { UploadEvents } from '../events.js';
import type { AdaptiveLimiter } from '../transfer/limiter.js';
import type { RateLimiter } from '../transfer/rate-limit.js';
import type { FileFingerprint, Destination, FinishedPart, PutResult, SkippedResult } from '../types.js';
import { finalizePhase, finishedParts, lookUpCut } from './finalize.js';
import { inspectFileAsync } from './local-file.js';
import { stillAsSent } from './part-check.js';
import { cutOffOf, multipartEtag, sessionFromJournal, type CutOffFinalize } from './recover.js';
import { sendPhase } from './send-parts.js';
import { UploadState, type KeptParts } from './upload-state.js';

export type { KeptParts };

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
  /** --limit-rate, bytes a second: recorded in the state, so that `lakeup resume <id>` keeps to it. */
  limitRate?: number;
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

/** The upload stopped on Ctrl-C / SIGTERM; `kept` is what a rerun will not send again. */
export class UploadInterrupted extends LakeupError {
  constructor(
    readonly kept: KeptParts,
    cause: LakeupError,
  ) {
    super('interrupted', cause.message, { cause });
  }
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
    run: o.run,
    known: o.known,
    onUnwritable: o.onStateUnwritable,
    signal: o.signal,
    limitRate: o.limitRate,
  });
  // The file is in the drive: the run an earlier state named hears of it, its state goes, and the
  // result says what was made.
  const finished = async (item: { id: string; name: string }, sent: number | readonly FinishedPart[], extra: Partial<PutResult>) => {
    await upload.finished(fingerprint, item);
    return resultOf(o, fingerprint, started, item, sent, extra);
  };
  try {
    // 1. The lock, and the state of an interrupted upload of this file, if any.
    const saved = await upload.open(fingerprint, o.partSize, o.resume);
    const elsewhere = o.resume ? await upload.finishedElsewhere(fingerprint) : undefined;
    if (elsewhere) {
      const { name, id } = elsewhere;
      return { ok: true, skipped: true, reason: 'already-uploaded', provider: o.provider.name, file: display, name, id, size: fingerprint.size };
    }

    // 2. An earlier run sent finalize and never heard back: the drive says whether it took effect.
    const cut = saved?.finalizing ? cutOffOf(saved) : o.resume ? o.cutOff : undefined;
    // A file without a state file of its own (one part, in a run): the journal kept its session.
    const journaled = !saved && cut ? sessionFromJournal(o.cutOff?.session, fingerprint) : undefined;
    if (cut) {
      const item = await lookUpCut(o, cut, fingerprint.size);
      if (item) return await finished(item, cut.parts ?? saved?.session.parts.length ?? 1, { recovered: true });
      o.notice(
        `${display}: the finalize an earlier run sent did not make the file (it is not in the drive): ${saved || journaled ? 'finalizing it again' : 'uploading it again'}`,
      );
    }

    // 3. The session: the saved one, the journal's, or a new one. Same size and mtime, but nothing
    // vouches for the content (ctime or inode moved, or unknown): the parts sent before are read
    // again, and those that changed go again.
    if (saved) await upload.checkContent(fingerprint);
    // Finalize the journal's session again, never a new one: the earlier finalize may still be under
    // way at the server, and the session lets only one of them make the file.
    if (journaled) await upload.begin(fingerprint, journaled.session, undefined, true, journaled.done);
    let fromState = saved !== undefined || journaled !== undefined;
    let resumed = fromState && upload.state.done.length > 0;
    // What an earlier attempt sent: the result line says what this one sent, and the speed of that.
    const resumedBytes = resumed ? upload.state.done.reduce((n, d) => n + d.size, 0) : 0;
    const newSession = async () => {
      const session = await o.provider.createSession(req);
      // A one-part file in a run: the journal is enough, and there is nothing to resume inside it.
      const inMemory = (o.run !== undefined && session.parts.length === 1) || o.ephemeral === true;
      await upload.begin(fingerprint, session, o.provider.canRefreshUrls ? session.parts[0]?.size : undefined, inMemory);
    };
    if (!fromState) await newSession();

    // Read beside the parts being sent; an item without them is only compared less cheaply later.
    const attrs = o.attrs?.().catch(() => undefined);
    for (;;) {
      // 4. Every missing part.
      await sendPhase(o, req, upload, fromState, resumed, newSession);
      req.attrs = await attrs;
      // 5. Never stitch old and new bytes: the file must still be what we sent.
      await checkStillAsSent(o.file, fingerprint, upload);
      // 6. Finalize; a session of an earlier attempt the server no longer knows: all again, once.
      const parts = finishedParts(upload);
      const made = await finalizePhase(o, upload, req, parts, fromState ? { cut } : undefined, resumed);
      if (made) return await finished(made.item, parts, made.extra.resumed ? { ...made.extra, resumedBytes } : made.extra);
      fromState = false;
      resumed = false;
      await newSession();
    }
  } catch (err) {
    await upload.stopped(o.ephemeral === true);
    if ((err as LakeupError)?.kind !== 'interrupted' || err instanceof UploadInterrupted) throw err;
    throw new UploadInterrupted(await upload.interrupted(o.ephemeral === true, fingerprint.size), err as LakeupError);
  } finally {
    await upload.unlock();
  }
}

/** Throws FILE_CHANGED (its state deleted) when the file is no longer what its parts sent. */
async function checkStillAsSent(file: string, fp: FileFingerprint, upload: UploadState): Promise<void> {
  const now = await inspectFileAsync(file, { checkReadable: false }); // it was just read
  if (await stillAsSent(fp, now, upload.state.session.parts, upload.state.done)) return;
  await upload.deleteState();
  throw new LakeupError('input', `${file}: the file changed during the upload; run the command again to send the new content`, { code: 'FILE_CHANGED' });
}

/** The result of a file in the drive as `item`; `sent`: its parts, when this run has them (their multipart ETag is the file's checksum). */
function resultOf(
  o: PutFileOptions,
  fp: FileFingerprint,
  started: number,
  item: { id: string; name: string },
  sent: number | readonly FinishedPart[],
  extra: Partial<PutResult>,
): PutResult {
  const elapsedMs = Math.round(performance.now() - started);
  const parts = typeof sent === 'number' ? sent : sent.length;
  const etag = typeof sent === 'number' ? undefined : multipartEtag(sent);
  const result: PutResult = {
    ok: true,
    provider: o.provider.name,
    file: o.displayFile ?? o.file,
    name: item.name,
    id: item.id,
    size: fp.size,
    parts,
    elapsedMs,
    bytesPerSecond: Math.round(fp.size / Math.max(elapsedMs / 1000, 0.001)),
    resumed: false,
    ...(etag ? { etag } : {}),
    ...extra,
  };
  o.events.emit('upload:done', result);
  return result;
}
