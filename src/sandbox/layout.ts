// Part-size rules the sandbox enforces: MemoryLake's server-side layout and S3's limits (which Copera inherits).
import { unquote } from './http.js';
import type { StoredPart } from './parts.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** S3 multipart limits. */
export const MAX_PARTS = 10_000;
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * GiB;
export const MAX_OBJECT_SIZE = 5 * TiB;

export interface LayoutPart {
  number: number;
  size: number;
  offset: number;
}

/**
 * MemoryLake's part size for a file: 5 MiB below 1 GiB, 10 MiB from 1 GiB, grown in whole MiB so there are never more
 * than 10,000 parts. A forced size (tests) is kept unless it too would need more than 10,000 parts.
 */
export function memoryLakePartSize(fileSize: number, forced?: number): number {
  if (forced !== undefined) return Math.max(forced, Math.ceil(fileSize / MAX_PARTS));
  const base = fileSize < GiB ? 5 * MiB : 10 * MiB;
  if (Math.ceil(fileSize / base) <= MAX_PARTS) return base;
  return Math.ceil(fileSize / (MAX_PARTS * MiB)) * MiB;
}

/** Parts 1…n of `partSize` bytes; the last one gets the remainder. */
export function memoryLakeLayout(fileSize: number, forced?: number): LayoutPart[] {
  const partSize = memoryLakePartSize(fileSize, forced);
  const parts: LayoutPart[] = [];
  for (let offset = 0, number = 1; offset < fileSize; offset += partSize, number++) {
    parts.push({ number, size: Math.min(partSize, fileSize - offset), offset });
  }
  return parts;
}

/** What S3's CompleteMultipartUpload refuses, by S3 error code. */
export type CompleteProblem = 'InvalidPartOrder' | 'InvalidPart' | 'EntityTooSmall' | 'EntityTooLarge';

export class CompleteError extends Error {
  constructor(
    readonly problem: CompleteProblem,
    message: string,
  ) {
    super(message);
  }
}

/**
 * S3's rules for completing a multipart upload from a client's part list: ascending part numbers, every part uploaded
 * with the ETag given (quoted or not), every part but the last ≥ 5 MiB, none > 5 GiB. Returns the stored parts in
 * order; throws CompleteError.
 */
export function checkCompleteList(
  list: readonly { number: number; etag: string }[],
  stored: ReadonlyMap<number, StoredPart>,
): StoredPart[] {
  let previous = 0;
  const parts = list.map(({ number, etag }) => {
    if (number <= previous) {
      throw new CompleteError('InvalidPartOrder', `parts must be listed in ascending order of part number (${number} after ${previous})`);
    }
    previous = number;
    const part = stored.get(number);
    if (!part) throw new CompleteError('InvalidPart', `part ${number} was not uploaded`);
    const given = unquote(etag);
    if (part.etag !== given) {
      throw new CompleteError('InvalidPart', `ETag for part ${number} does not match what storage returned (got ${given}, stored ${part.etag})`);
    }
    return part;
  });
  parts.forEach((part, i) => {
    const number = list[i]!.number;
    if (part.size > MAX_PART_SIZE) throw new CompleteError('EntityTooLarge', `part ${number} is ${part.size} bytes; parts are at most 5 GiB`);
    if (i < parts.length - 1 && part.size < MIN_PART_SIZE) {
      throw new CompleteError(
        'EntityTooSmall',
        `part ${number} is ${part.size} bytes; every part but the last must be at least 5 MiB (${MIN_PART_SIZE} bytes)`,
      );
    }
  });
  return parts;
}
