// A finalize an earlier run sent but never heard back from (killed, cut off): did it make the file?
// The drive is asked instead of a person: the item finalize would have made is in the destination
// folder under the name asked for or the provider's renamed form of it, has the file's size, and
// - on MemoryLake, carries the multipart ETag of the very parts we sent (md5 of their MD5s, dash,
//   count): that is proof whatever the item's times say (an overwrite keeps its created_at);
// - otherwise (Copera has no ETag; parts whose ETags are not MD5s) was created or updated no
//   earlier than finalize was sent, by the server's clock (its offset from ours is read from the
//   Date header of its answers, so a stranger's file made a minute before cannot pass for ours).
//   An item without times is never taken for ours.
import { createHash } from 'node:crypto';
import type { DriveEntry, Provider } from '../providers/index.js';
import { serverClock } from '../http/server-clock.js';
import type { FinalizingSession } from '../state/journal-format.js';
import type { StateFile } from '../state/state-file.js';
import type { Destination, FileFingerprint, FinishedPart, Session } from '../types.js';
import { plainEtag } from '../util/etag.js';

/** The server's clock as far as we know it (Date has one-second resolution), and our own noting of `at`. */
export const CLOCK_MARGIN_MS = 2_000;
/** When no answer told us the server's clock: how far apart the clocks may be. */
export const UNKNOWN_SKEW_MS = 2 * 60_000;

export interface CutOffFinalize {
  /** Epoch ms (our clock) just before finalize was sent. */
  at: number;
  size: number;
  parts?: number;
  /** The S3 multipart ETag the object gets (md5 of the part MD5s, dash, count), when computable. */
  etag?: string;
}

/** The item a cut-off finalize made, or undefined when the drive has none. */
export async function findFinalized(
  provider: Provider,
  dest: Destination,
  cut: CutOffFinalize,
  signal?: AbortSignal,
  clock: { offsetMs: number | undefined } = serverClock,
): Promise<DriveEntry | undefined> {
  // The listing answer itself tells the server's clock, if nothing before it did.
  const named = await provider.findInFolder(dest.parent, dest.name, { signal });
  const candidates = named.filter((e) => e.type === 'file' && e.size === cut.size);
  const proven = candidates.find((e) => etagProves(e.etag, cut));
  if (proven) return proven;
  // Without proof, a renamed form (big_1.zip, big (1).zip) is ours only if our name was taken: the
  // server renames nothing else. Otherwise it is another file of that name and size (a download
  // saved twice, another file of the same run), and taking it would leave ours never sent. (If the
  // item holding our name was deleted since, the file is sent again: a copy, never a loss.)
  const taken = named.some((e) => e.name === dest.name);
  const offset = clock.offsetMs;
  // `at` by the server's clock, less what the clocks may disagree by.
  const since = offset !== undefined ? cut.at + offset - CLOCK_MARGIN_MS : cut.at - UNKNOWN_SKEW_MS;
  const touched = (e: DriveEntry) => Math.max(e.createdAt ?? -Infinity, e.updatedAt ?? -Infinity);
  const fits = candidates.filter((e) => (taken || e.name === dest.name) && touched(e) >= since && etagAllows(e.etag, cut));
  // Several (unlikely): the one touched closest after finalize was sent.
  fits.sort((a, b) => touched(a) - touched(b));
  return fits[0];
}

/** An item whose ETag is exactly the multipart ETag of our parts is ours, whatever its times. */
function etagProves(etag: string | undefined, cut: CutOffFinalize): boolean {
  return etag !== undefined && cut.etag !== undefined && plainEtag(etag).toLowerCase() === cut.etag;
}

/** Without proof, an ETag must at least not contradict us (another multipart ETag, another count). */
function etagAllows(etag: string | undefined, cut: CutOffFinalize): boolean {
  if (etag === undefined) return true; // Copera exposes none
  const e = plainEtag(etag).toLowerCase();
  if (cut.etag && /^[0-9a-f]{32}-\d+$/.test(e)) return false; // comparable, and not ours
  return cut.parts === undefined || e.endsWith(`-${cut.parts}`);
}

/** S3's ETag of a multipart object from its parts' ETags, when every one is a plain MD5. */
export function multipartEtag(parts: readonly FinishedPart[]): string | undefined {
  const h = createHash('md5');
  for (const p of [...parts].sort((a, b) => a.number - b.number)) {
    const md5 = plainEtag(p.etag).toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(md5)) return undefined;
    h.update(Buffer.from(md5, 'hex'));
  }
  return `${h.digest('hex')}-${parts.length}`;
}

/** The cut-off finalize a saved state records (it says finalize was sent). */
export function cutOffOf(s: StateFile): Omit<CutOffFinalize, 'size'> {
  return { at: s.finalizeSentAt ?? s.updatedAt, parts: s.session.parts.length, etag: multipartEtag(s.done) };
}

/**
 * The session a journal's finalize record names (a file without a state file of its own: one part,
 * in a run), when it covers the file as it is now.
 */
export function sessionFromJournal(s: FinalizingSession | undefined, file: FileFingerprint): { session: Session; done: FinishedPart[] } | undefined {
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
