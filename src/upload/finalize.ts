// The finalize phase of one file's upload: the parts sent become the file in the drive. The state and
// the run's journal say finalize is being sent before it is (a rerun must not assume the session is
// unfinished); an answer lost on the way is settled by asking the drive, never by guessing; and the
// finalize of an earlier run that never heard back may still be under way at the server: it is waited
// for, and looked for, before this one sends the file again.
import { mayHaveActed } from '../http/api.js';
import { LakeupError } from '../errors.js';
import type { UploadRequest } from '../providers/index.js';
import type { FinishedPart, PutResult, UploadedItem } from '../types.js';
import { sleep } from '../util/sleep.js';
import type { PutFileOptions } from './put-file.js';
import { findFinalized, multipartEtag, type CutOffFinalize } from './recover.js';
import type { UploadState } from './upload-state.js';

/** How long to wait, one step after another (~1 min in all), while an earlier finalize of the session is under way. */
const IN_PROGRESS_WAITS_MS = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000];

/** A 409 that says the session is being finalized by another request (not a name taken under 'deny'). */
function isInProgress(err: unknown): boolean {
  const e = err as LakeupError;
  return e?.status === 409 && e.code !== 'DRIVE_ITEM_CONFLICT';
}

/** Every part of the session, in order, with its ETag. */
export function finishedParts(upload: UploadState): FinishedPart[] {
  const state = upload.state;
  const byNumber = new Map(state.done.map((d) => [d.number, d]));
  return state.session.parts.map((p) => {
    const d = byNumber.get(p.number);
    if (!d) throw new LakeupError('integrity', `part ${p.number} has no ETag after the upload`, { code: 'MISSING_PART' });
    return d;
  });
}

/** The item the cut-off finalize `cut` made, if the drive has it. */
export function lookUpCut(o: PutFileOptions, cut: Omit<CutOffFinalize, 'size'>, size: number): Promise<{ id: string; name: string } | undefined> {
  return findFinalized(o.provider, o.dest, { ...cut, size }, o.signal);
}

/** What finalize made: the item, and what the result says of how. */
export interface Made {
  item: { id: string; name: string };
  extra: Partial<PutResult>;
}

/** The session came from an earlier attempt (its state, or the journal), and this is its first finalize here. */
export interface Earlier {
  /** That attempt sent finalize and never heard back. */
  cut?: Omit<CutOffFinalize, 'size'>;
}

/**
 * Finalizes the session: what it made, or undefined when a session from an `earlier` attempt turns
 * out unknown at the server and made nothing (said in a notice): the file is sent again, in a new one.
 */
export async function finalizePhase(o: PutFileOptions, upload: UploadState, req: UploadRequest, parts: FinishedPart[], earlier: Earlier | undefined, resumed: boolean): Promise<Made | undefined> {
  try {
    const item = await finalize(o, upload, parts, req);
    return { item, extra: item.recovered ? { resumed, recovered: true } : { resumed } };
  } catch (first) {
    if (!earlier) throw first;
    const sendAgain = () => o.notice(`${o.provider.service} no longer knows the interrupted upload session: uploading ${o.displayFile ?? o.file} again`);
    const cut = earlier.cut;
    if (!cut) {
      // The saved session is unknown at finalize: it expired, or it is another account's (a
      // state is kept per file, not per token, and a new token of the same account resumes it).
      if ((first as LakeupError)?.status !== 404) throw first;
      sendAgain();
      return undefined;
    }
    let err = first;
    // 409: another request is finalizing this session right now (the earlier finalize, which
    // the server was still carrying out). Wait for it, and look again.
    for (const ms of IN_PROGRESS_WAITS_MS) {
      if (!isInProgress(err)) break;
      await sleep(ms, o.signal);
      const late = await lookUpCut(o, cut, req.file.size);
      if (late) return { item: late, extra: { recovered: true } };
      try {
        return { item: await finalize(o, upload, parts, req), extra: { resumed } };
      } catch (again) {
        err = again;
      }
    }
    if ((err as LakeupError)?.status !== 404) throw err;
    // The session is gone. Either the earlier finalize made the file after all (a server can
    // still be carrying it out when the drive is asked above), or the session expired before
    // that finalize reached it. The drive says which; only in the second case is the file sent
    // again, once.
    const late = await lookUpCut(o, cut, req.file.size);
    if (late) return { item: late, extra: { recovered: true } };
    sendAgain();
    return undefined;
  }
}

/**
 * Records that finalize is being sent (state and journal: if we are cut off now, a rerun must not
 * assume the session is unfinished), then sends it.
 */
async function finalize(o: PutFileOptions, upload: UploadState, parts: FinishedPart[], req: UploadRequest): Promise<UploadedItem & { recovered?: boolean }> {
  o.events.emit('upload:finalizing');
  const etag = multipartEtag(parts);
  const at = await upload.markFinalizing(req.file, parts, etag);
  const cut: CutOffFinalize = { at, size: req.file.size, parts: parts.length, etag };
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
    if (status !== undefined && status >= 400 && status < 500 && status !== 404 && status !== 429 && !isInProgress(err)) await upload.clearFinalizing();
    if (status !== undefined && status >= 400 && status < 500 && ![401, 403, 404, 409, 429].includes(status)) {
      const e = err as LakeupError;
      throw new LakeupError(e.kind, `${e.message} (the finished parts are kept)`, { status: e.status, code: e.code, cause: err });
    }
    throw err;
  }
}
