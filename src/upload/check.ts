// `lakeup check`'s comparison of one local file with the drive: by name and size, and by content
// where the drive gives evidence of it (same-content.ts: the x_attrs SHA-256 lakeup records on
// MemoryLake items, an MD5 or multipart ETag rebuilt from the local file). Copera gives none, so
// there a same-named file of the same size is taken as the same: unlike a rerun, `check` never
// judges by times, since a fresh checkout's files are all newer than what an earlier job sent.
import type { DriveEntry } from '../providers/index.js';
import type { FileFingerprint, ProviderName } from '../types.js';
import { contentVerdict, LocalDigest } from './same-content.js';

export type CheckStatus = 'same' | 'missing' | 'different';

export interface Comparison {
  status: CheckStatus;
  /** The drive's item, when there is one of that name. */
  entry?: DriveEntry;
  /** Why a file is different (size, content); or how it was found the same. */
  why: string;
}

/** Compares a local file with the files of its name in a folder's entries. */
export async function compareWithDrive(provider: ProviderName, fp: FileFingerprint, sameName: DriveEntry[]): Promise<Comparison> {
  const files = sameName.filter((e) => e.type === 'file');
  if (files.length === 0) return { status: 'missing', why: 'missing in the drive' };
  const sized = files.filter((e) => e.size === undefined || e.size === fp.size);
  if (sized.length === 0) return { status: 'different', entry: files[0], why: `size differs (local ${fp.size} B, drive ${files[0].size} B)` };
  const digest = new LocalDigest(fp.path, undefined, fp.size);
  for (const e of sized) {
    const verdict = await contentVerdict(provider, { ...e, size: fp.size }, fp, { checksum: true, digest });
    if (verdict !== false) return { status: 'same', entry: e, why: verdict === true ? 'content' : 'name and size' };
  }
  return { status: 'different', entry: sized[0], why: 'content differs' };
}
