// `lakeup check`'s comparison of one local file with the drive: by name and size, and by content
// where the drive gives a checksum (MemoryLake's S3 ETag: a single part's MD5, or a multipart
// `<md5 of the part md5s>-N`). Copera gives none, so there a same-named file of the same size is
// taken as the same. Kept to itself so that it can be unified with the comparison of issue 20.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { DriveEntry } from '../providers/index.js';
import { MiB } from '../util/sizes.js';

export type CheckStatus = 'same' | 'missing' | 'different';

export interface Comparison {
  status: CheckStatus;
  /** The drive's item, when there is one of that name. */
  entry?: DriveEntry;
  /** Why a file is different (size, content); or how it was found the same. */
  why: string;
}

/** Part sizes a multipart ETag may have been made with: MemoryLake's (5 MiB, 10 MiB from 1 GiB), then S3 tools' usual ones. */
const PART_SIZES = [5, 10, 8, 16, 64, 100].map((n) => n * MiB);

/** Compares a local file (its path and size) with the files of that name in a folder's entries. */
export async function compareWithDrive(file: string, size: number, sameName: DriveEntry[]): Promise<Comparison> {
  const files = sameName.filter((e) => e.type === 'file');
  if (files.length === 0) return { status: 'missing', why: 'missing in the drive' };
  const sized = files.filter((e) => e.size === undefined || e.size === size);
  if (sized.length === 0) return { status: 'different', entry: files[0], why: `size differs (local ${size} B, drive ${files[0].size} B)` };
  for (const e of sized) {
    if (!e.etag) return { status: 'same', entry: e, why: 'name and size' };
    const verdict = await matchesEtag(file, size, e.etag);
    if (verdict !== false) return { status: 'same', entry: e, why: verdict === true ? 'content (ETag)' : 'name and size' };
  }
  return { status: 'different', entry: sized[0], why: 'content differs (ETag)' };
}

/** Whether the file's content makes this ETag; undefined when the ETag is not an MD5 lakeup can rebuild. */
export async function matchesEtag(file: string, size: number, etag: string): Promise<boolean | undefined> {
  const m = /^([0-9a-f]{32})(?:-(\d+))?$/i.exec(etag.replace(/^W\//, '').replace(/"/g, ''));
  if (!m) return undefined;
  const want = etag.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  if (m[2] === undefined) return (await partMd5s(file, size, size))[0].toString('hex') === want;
  const parts = Number(m[2]);
  for (const partSize of PART_SIZES) {
    if (Math.ceil(size / partSize) !== parts) continue;
    const md5 = createHash('md5');
    for (const d of await partMd5s(file, size, partSize)) md5.update(d);
    if (`${md5.digest('hex')}-${parts}` === want) return true;
  }
  return false;
}

/** The MD5 of each `partSize` slice of the file, read as a stream. */
async function partMd5s(file: string, size: number, partSize: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let h = createHash('md5');
  let inPart = 0;
  for await (const chunk of fs.createReadStream(file, { end: Math.max(0, size - 1), highWaterMark: MiB })) {
    let buf = chunk as Buffer;
    while (buf.length > 0) {
      const take = Math.min(buf.length, partSize - inPart);
      h.update(buf.subarray(0, take));
      inPart += take;
      buf = buf.subarray(take);
      if (inPart === partSize) {
        out.push(h.digest());
        h = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (inPart > 0 || out.length === 0) out.push(h.digest());
  return out;
}
