// Checks the parts an upload already sent against the file as it is now: each finished part's
// range is read and hashed again (on the MD5 threads) and compared with the MD5 recorded when it was
// sent, or with its ETag when that is an MD5 (S3's ETag of a part is the MD5 of its bytes). Used
// when size and mtime match but the OS cannot vouch that the content did too (local-file.ts,
// identityVouches): a part that differs, or that has no digest to compare with, is sent again.
import { LakeupError } from '../errors.js';
import type { FileFingerprint, FinishedPart, PartSpec } from '../types.js';
import { sameFingerprint, sameIdentity } from './local-file.js';

const MD5_HEX = /^[0-9a-f]{32}$/i;

/** The MD5 a finished part's bytes had when it was sent, if anything recorded it. */
function digestOf(p: FinishedPart): string | undefined {
  if (p.md5) return p.md5.toLowerCase();
  return MD5_HEX.test(p.etag) ? p.etag.toLowerCase() : undefined;
}

/** The finished parts whose bytes in the file are still those sent, and those that are not. */
export async function recheckParts(file: string, parts: readonly PartSpec[], done: readonly FinishedPart[]): Promise<{ same: FinishedPart[]; changed: FinishedPart[] }> {
  // Loaded only when parts must be read again: a small file's put starts no thread (loading.e2e).
  const pool = (await import('../transfer/md5-pool.js')).sharedMd5Pool();
  const verdicts = await Promise.all(
    done.map(async (d) => {
      const want = digestOf(d);
      const spec = parts[d.number - 1];
      if (!want || !spec) return false;
      const md5 = await pool.hashRange(file, spec.offset, spec.size).catch((err: unknown) => {
        if ((err as LakeupError)?.kind) throw err;
        throw new LakeupError('input', `${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      });
      return md5 === want;
    }),
  );
  return { same: done.filter((_, i) => verdicts[i]), changed: done.filter((_, i) => !verdicts[i]) };
}

/**
 * Before finalize: whether the file still holds what was sent. Same size and mtime are required;
 * when ctime or the inode moved too (a rewrite that put mtime back, or only a chmod), the parts are
 * read again and must all match.
 */
export async function stillAsSent(sent: FileFingerprint, now: FileFingerprint, parts: readonly PartSpec[], done: readonly FinishedPart[]): Promise<boolean> {
  if (!sameFingerprint(now, sent)) return false;
  if (sameIdentity(now, sent)) return true;
  return (await recheckParts(now.path, parts, done)).changed.length === 0;
}
