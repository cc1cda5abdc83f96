// Whether a drive item holds the same content as a local file of the same name and size, as exactly
// as the provider allows:
// - MemoryLake, an item lakeup made: its x_attrs carry the file's SHA-256 and mtime. The same mtime
//   is taken as the same content (cheap, no read); another mtime (a fresh checkout) or --checksum
//   compares the SHA-256 (one read of the file).
// - MemoryLake, any other item: its ETag. A multipart ETag (`<md5 of the part md5s>-N`) is computed
//   locally for every layout of N parts the server could have used (whole-MiB part sizes first, a
//   few at most, all in one read); a plain MD5 ETag is the file's MD5.
// - Copera (no checksum exposed), or an item with neither: the times. The file is the same when it
//   was not modified after the item was made or last updated (by the server's clock, with the
//   margin its Date headers allow). What that misses is in docs/resuming.md ("Running it again").
import type { DriveEntry } from '../providers/index.js';
import { serverClock } from '../http/server-clock.js';
import type { FileFingerprint, ProviderName } from '../types.js';
import { plainEtag } from '../util/etag.js';
import { MiB } from '../util/sizes.js';
import { md5Of, multipartEtagsOf, sha256Of } from './file-digest.js';
import { CLOCK_MARGIN_MS, UNKNOWN_SKEW_MS } from './recover.js';

/** The x_attrs keys lakeup writes on MemoryLake items it creates. */
export const ATTR_SHA256 = 'lakeup_sha256';
export const ATTR_MTIME = 'lakeup_mtime_ms';
/** Layouts tried for one multipart ETag: each costs nothing more than the one read, but a hash per byte. */
export const MAX_LAYOUTS = 4;

/** The file's SHA-256, computed at most once however many questions need it. */
export class LocalDigest {
  private sha?: Promise<string>;
  /** The SHA-256 once computed. */
  value?: string;

  constructor(
    readonly file: string,
    private readonly signal?: AbortSignal,
    /** The size its fingerprint says (saves the read that finds the end: sha256Of). */
    private readonly size?: number,
  ) {}

  sha256(): Promise<string> {
    return (this.sha ??= sha256Of(this.file, this.signal, this.size).then((h) => (this.value = h)));
  }

  /** What lakeup records on a MemoryLake item it creates. */
  async attrs(fp: FileFingerprint): Promise<Record<string, string>> {
    return { [ATTR_SHA256]: await this.sha256(), [ATTR_MTIME]: String(fp.mtimeMs) };
  }
}

export interface CompareOptions {
  /** --checksum: compare content wherever possible, even when the recorded mtime agrees. */
  checksum: boolean;
  digest: LocalDigest;
  signal?: AbortSignal;
  clock?: { offsetMs: number | undefined };
}

/** Whether `entry` (already the same name and size) holds the local file's content. */
export async function sameContent(provider: ProviderName, entry: DriveEntry, fp: FileFingerprint, o: CompareOptions): Promise<boolean> {
  if (entry.size !== fp.size) return false;
  return (await contentVerdict(provider, entry, fp, o)) ?? notModifiedSince(entry, fp, o.clock ?? serverClock);
}

/**
 * What the drive's own evidence of content says (x_attrs SHA-256, an MD5 or multipart ETag):
 * undefined when it gives none (Copera; an ETag that is not an MD5), and the caller decides.
 */
export async function contentVerdict(provider: ProviderName, entry: DriveEntry, fp: FileFingerprint, o: CompareOptions): Promise<boolean | undefined> {
  const sha = entry.xAttrs?.[ATTR_SHA256];
  if (provider === 'memorylake' && sha) {
    if (!o.checksum && entry.xAttrs?.[ATTR_MTIME] === String(fp.mtimeMs)) return true;
    return (await o.digest.sha256()) === sha.toLowerCase();
  }
  const etag = entry.etag !== undefined ? plainEtag(entry.etag).toLowerCase() : undefined;
  const multipart = etag !== undefined ? /^[0-9a-f]{32}-(\d+)$/.exec(etag) : null;
  if (multipart) {
    const sizes = candidatePartSizes(fp.size, Number(multipart[1]));
    return sizes.length > 0 && (await multipartEtagsOf(fp.path, sizes, o.signal)).includes(etag!);
  }
  if (etag !== undefined && /^[0-9a-f]{32}$/.test(etag)) return (await md5Of(fp.path, o.signal)) === etag;
  return undefined;
}

/** The file's mtime, by the server's clock, is no later than the item's last write. No times: name and size are all there is. */
function notModifiedSince(entry: DriveEntry, fp: FileFingerprint, clock: { offsetMs: number | undefined }): boolean {
  const touched = Math.max(entry.createdAt ?? -Infinity, entry.updatedAt ?? -Infinity);
  if (touched === -Infinity) return true;
  const margin = clock.offsetMs !== undefined ? CLOCK_MARGIN_MS : UNKNOWN_SKEW_MS;
  return fp.mtimeMs + (clock.offsetMs ?? 0) <= touched + margin;
}

/**
 * The part sizes that split `size` bytes into exactly `parts` parts (every part but the last of the
 * same size): p with (parts-1)·p < size ≤ parts·p. The sizes servers use come first (5 MiB, 10 MiB,
 * then whole MiB up), at most MAX_LAYOUTS; when no whole-MiB size fits, the smallest that does.
 */
export function candidatePartSizes(size: number, parts: number): number[] {
  if (!Number.isSafeInteger(parts) || parts < 1 || parts > size) return [];
  if (parts === 1) return [size];
  const lo = Math.ceil(size / parts);
  const hi = Math.ceil(size / (parts - 1)) - 1;
  if (lo > hi) return [];
  const fits = (p: number) => p >= lo && p <= hi;
  const out = [5 * MiB, 10 * MiB].filter(fits);
  for (let p = Math.ceil(lo / MiB) * MiB; p <= hi && out.length < MAX_LAYOUTS; p += MiB) if (!out.includes(p)) out.push(p);
  return out.length > 0 ? out.slice(0, MAX_LAYOUTS) : [lo];
}
