// What a `put` run was asked to do, checked: the one value the CLI hands to the upload layer.
import type { ConflictStrategy, ProgressMode, ProviderName } from '../types.js';
import type { FilterRule } from './filters.js';

/** Everything a run needs, checked. */
export interface PutPlan {
  provider: ProviderName;
  endpoint: string;
  token: string;
  files: string[];
  name?: string;
  parent?: string;
  onConflict?: ConflictStrategy;
  partSize?: number;
  mimeType?: string;
  /** Parts in flight (shared by all files): a number pins it, 'auto' finds the link's best (--concurrency auto). */
  concurrency: number | 'auto';
  jobs: number;
  retries: number;
  stallTimeoutMs: number;
  verify: boolean;
  resume: boolean;
  stateDir: string;
  json: boolean;
  progress: ProgressMode;
  progressIntervalMs?: number;
  verbose: boolean;
  dryRun: boolean;
  limitRate?: number;
  recursive: boolean;
  /** --skip-existing: a file of the same name and size in its destination folder is not sent again. */
  skipExisting: boolean;
  /** --again: send every file even when the ledger or the drive says it is there already (a deliberate second copy). */
  again: boolean;
  /** --checksum: compare content wherever the drive allows it, even when the recorded times agree. */
  checksum: boolean;
  /** --shard K/N: only the files whose path relative to the source hashes into shard K (1-based) of N. */
  shard?: { index: number; count: number };
  /** --include / --exclude, in the order given (filters.ts says how they combine). */
  filters: FilterRule[];
  /** Follow symbolic links inside a --recursive folder (the default); --no-follow-symlinks leaves them out, counted. */
  followSymlinks: boolean;
  /** --files-from: a list of paths (one a line, or NUL-separated), '-' for standard input; read into `files` before the run. */
  filesFrom?: string;
  /** --manifest: where every file's outcome is written as NDJSON (absolute). */
  manifest?: string;
}

