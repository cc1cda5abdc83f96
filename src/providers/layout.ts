// Part layouts: checking a server-decided one before a byte is sent, and choosing one for Copera.
import { LakeupError } from '../errors.js';
import { partUrlProblem } from '../http/part-url.js';
import type { PartSpec } from '../types.js';
import { MiB, GiB, formatSize } from '../util/sizes.js';

export const S3_MIN_PART = 5 * MiB;
export const S3_MAX_PART = 5 * GiB;
export const S3_MAX_PARTS = 10_000;
export const COPERA_DEFAULT_PART = 10 * MiB;

export interface ServerPart {
  number: unknown;
  size: unknown;
  upload_url: unknown;
}

/**
 * Validates a server-decided layout: at most 10,000 parts, numbers contiguous from 1, sizes positive integers summing
 * exactly to the file size, an http(s) URL each (https when the API at `apiEndpoint` is). Returns parts with offsets, in number order.
 */
export function checkServerLayout(
  items: unknown,
  fileSize: number,
  service: string,
  apiEndpoint: string,
): { parts: PartSpec[]; urls: string[] } {
  const bad = (why: string) =>
    new LakeupError('server', `${service} returned a part layout lakeup cannot use: ${why}`, { code: 'BAD_LAYOUT' });
  if (!Array.isArray(items) || items.length === 0) throw bad('no parts');
  // Checked before anything else, the sort included: a layout of millions of tiny parts would cost
  // a request and a state write each, and S3 completes at most 10,000.
  if (items.length > S3_MAX_PARTS) throw bad(`${items.length} parts, where S3 allows at most ${S3_MAX_PARTS}`);
  const sorted = [...(items as ServerPart[])].sort((a, b) => Number(a?.number) - Number(b?.number));
  const parts: PartSpec[] = [];
  const urls: string[] = [];
  let offset = 0;
  sorted.forEach((item, i) => {
    if (!item || typeof item !== 'object') throw bad(`item ${i + 1} is not an object`);
    const { number, size, upload_url: url } = item;
    if (number !== i + 1) throw bad(`part numbers are not contiguous from 1 (expected ${i + 1}, got ${String(number)})`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) throw bad(`part ${i + 1} has size ${String(size)}`);
    const why = partUrlProblem(url, apiEndpoint);
    if (why) throw bad(`part ${i + 1}'s upload_url ${why}`);
    parts.push({ number: i + 1, offset, size });
    urls.push(url as string);
    offset += size;
  });
  if (offset !== fileSize) {
    throw bad(`the parts add up to ${offset} bytes but the file has ${fileSize}`);
  }
  return { parts, urls };
}

/**
 * Copera's layout is ours to choose. The rule (also in the README's --part-size row):
 *   part = max(requested, ceil(fileSize / 10,000) rounded up to a whole MiB)
 * with `requested` = --part-size or 10 MiB, at least 5 MiB; a file that would need parts above
 * 5 GiB is refused. So 10 MiB parts up to 97.6 GiB, then the smallest whole-MiB size that fits
 * 10,000 parts (200 GiB → 21 MiB, 1 TiB → 105 MiB). Per-part overhead is one presigned URL, one
 * request and one state-file write (an fsync, ~1–3 ms): on a local sink at ~400 MB/s that was
 * ~3% of a 1 GiB upload's time at 10 MiB parts (and less at the bigger parts of bigger files,
 * less again on a real network); memory does not depend on the part size (parts are streamed), so
 * a bigger default would buy little and make a resume start further back.
 */
export function choosePartSize(fileSize: number, requested = COPERA_DEFAULT_PART): number {
  checkPartSize(requested);
  let size = requested;
  if (Math.ceil(fileSize / size) > S3_MAX_PARTS) {
    size = Math.ceil(fileSize / S3_MAX_PARTS / MiB) * MiB;
  }
  if (size > S3_MAX_PART) {
    throw new LakeupError('input', `the file is too large for 10,000 parts of at most 5 GiB (${formatSize(fileSize)})`);
  }
  return size;
}

/** A --part-size S3 accepts (5 MiB to 5 GiB), or a usage error naming the flag. */
export function checkPartSize(requested: number): void {
  if (requested < S3_MIN_PART) {
    throw new LakeupError('usage', `--part-size must be at least 5 MiB (S3 rule), got ${formatSize(requested)}`);
  }
  if (requested > S3_MAX_PART) {
    throw new LakeupError('usage', `--part-size must be at most 5 GiB (S3 rule), got ${formatSize(requested)}`);
  }
}

export function splitParts(fileSize: number, partSize: number): PartSpec[] {
  const parts: PartSpec[] = [];
  for (let offset = 0, n = 1; offset < fileSize; offset += partSize, n++) {
    parts.push({ number: n, offset, size: Math.min(partSize, fileSize - offset) });
  }
  return parts;
}

/** Reads X-Amz-Expires from a presigned URL, in ms. */
export function urlTtlMs(url: string | undefined): number | undefined {
  if (!url) return undefined;
  try {
    const v = new URL(url).searchParams.get('X-Amz-Expires');
    return v && /^\d+$/.test(v) ? Number(v) * 1000 : undefined;
  } catch {
    return undefined;
  }
}
