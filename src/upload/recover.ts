// A finalize an earlier run sent but never heard back from (killed, cut off): did it make the file?
// The drive is asked instead of a person: the item finalize would have made is in the destination
// folder under the name asked for or the provider's renamed form of it, has the file's size, was
// created no earlier than finalize was sent, and on MemoryLake carries the multipart ETag of the
// parts we sent (or at least their count).
import { createHash } from 'node:crypto';
import type { DriveEntry, Provider } from '../providers/index.js';
import type { Destination, FinishedPart } from '../types.js';
import { plainEtag } from '../util/etag.js';

/** Server clocks and ours disagree a little: an item created this much "before" finalize still counts. */
export const CLOCK_SKEW_MS = 2 * 60_000;

export interface CutOffFinalize {
  /** Epoch ms (our clock) just before finalize was sent. */
  at: number;
  size: number;
  parts?: number;
  /** The S3 multipart ETag the object gets (md5 of the part MD5s, dash, count), when computable. */
  etag?: string;
}

/** The item a cut-off finalize made, or undefined when the drive has none. */
export async function findFinalized(provider: Provider, dest: Destination, cut: CutOffFinalize, signal?: AbortSignal): Promise<DriveEntry | undefined> {
  const candidates = await provider.findInFolder(dest.parent, dest.name, { signal });
  const fits = candidates.filter(
    (e) =>
      e.type === 'file' &&
      e.size === cut.size &&
      (e.createdAt === undefined || e.createdAt >= cut.at - CLOCK_SKEW_MS) &&
      etagFits(e.etag, cut),
  );
  // Several (unlikely): the one created closest after finalize was sent.
  fits.sort((a, b) => Math.abs((a.createdAt ?? cut.at) - cut.at) - Math.abs((b.createdAt ?? cut.at) - cut.at));
  return fits[0];
}

function etagFits(etag: string | undefined, cut: CutOffFinalize): boolean {
  if (etag === undefined) return true; // Copera exposes none
  const e = plainEtag(etag).toLowerCase();
  if (cut.etag && /^[0-9a-f]{32}-\d+$/.test(e)) return e === cut.etag;
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
