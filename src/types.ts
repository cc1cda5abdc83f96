// Shared shapes of lakeup. Modules import their types from here so that a Plan, a Part and a
// State file mean the same thing everywhere.

export type ProviderName = 'memorylake' | 'copera';
export const PROVIDERS: readonly ProviderName[] = ['memorylake', 'copera'];

/** How progress is shown; `github`: plain lines at a log's pace, chosen (not typed) when GITHUB_ACTIONS=true. */
export type ProgressMode = 'bar' | 'plain' | 'github' | 'json' | 'none';

export type ConflictStrategy = 'rename' | 'deny' | 'overwrite' | 'replace';

/** One part of the file: `size` bytes starting at byte `offset`, numbered from 1. */
export interface PartSpec {
  number: number;
  offset: number;
  size: number;
}

/** A part the storage accepted. `etag` is unquoted; `md5` is the hex MD5 we computed while sending. */
export interface FinishedPart {
  number: number;
  etag: string;
  md5?: string;
  size: number;
}

/** What the local file looked like when an upload started: a change means the state no longer applies. */
export interface FileFingerprint {
  path: string; // absolute
  size: number;
  mtimeMs: number;
  /** The last change of content or metadata (which `touch -r` or `cp -p` cannot put back); absent in older states. */
  ctimeMs?: number;
  /** The inode (the file id on Windows): another one means the file was replaced. Absent in older states. */
  ino?: number;
}

/** Where the upload goes, as the user asked for it. */
export interface Destination {
  name: string;
  parent?: string;
  onConflict?: ConflictStrategy;
  mimeType?: string;
}

/**
 * A provider's upload session: everything needed to send the parts and finalize, and to resume later.
 * `urls[i]` is the presigned URL of part `parts[i]`.
 */
export interface Session {
  uploadId: string;
  fileKey?: string;
  parts: PartSpec[];
  urls: string[];
  urlsIssuedAt: number; // epoch ms
  /** Lifetime of the URLs when the provider tells us (X-Amz-Expires), in ms. */
  urlTtlMs?: number;
  createdAt: number;
}

/** What the server says the finished file is. */
export interface UploadedItem {
  id: string;
  name: string;
  raw: unknown;
}

/** The result of one `put`, as printed by `--json`. */
export interface PutResult {
  ok: true;
  provider: ProviderName;
  file: string;
  name: string;
  id: string;
  size: number;
  parts: number;
  elapsedMs: number;
  bytesPerSecond: number;
  resumed: boolean;
  /** Resumed: the bytes an earlier attempt had sent (`size` less them is what this one sent). */
  resumedBytes?: number;
  /** A finalize cut off by an earlier run had made the item: found in the drive, not sent again. */
  recovered?: boolean;
  /** The S3 multipart ETag of the parts sent (MD5 of their MD5s, `-N`): the file's checksum, where the parts' ETags are MD5s. */
  etag?: string;
}

/**
 * A file of a run that was not sent: the run's journal says an earlier attempt uploaded it
 * (`already-uploaded`), or `--skip-existing` found a file of that name and size (`exists`).
 */
export interface SkippedResult {
  ok: true;
  skipped: true;
  reason: 'already-uploaded' | 'exists';
  provider: ProviderName;
  file: string;
  name: string;
  id?: string;
  size: number;
}

/**
 * Why a file of a run is left out (upload/left-out.ts): excluded by --include/--exclude; an empty
 * file inside a folder (neither provider stores one); a symlink left out by --no-follow-symlinks; a
 * link back to a folder it is in (a loop); a FIFO, socket or device inside a folder (special).
 */
export type LeftOutReason = 'excluded' | 'empty' | 'symlink' | 'loop' | 'special';

/** A left-out file's JSON line: `size` only where it is known (0 for an empty file). */
export interface LeftOutResult {
  ok: true;
  skipped: true;
  reason: LeftOutReason;
  provider: ProviderName;
  file: string;
  name: string;
  size?: number;
}

/** A file that failed, as its --json line says it (the message is one line, redacted). */
export interface FailedResult {
  ok: false;
  /** None for a failure of the run itself (its journal could not be opened). */
  file?: string;
  error: { kind: string; message: string };
}
