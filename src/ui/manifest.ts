// --manifest FILE: every file's outcome as one JSON line (the records of --json, with a `status`),
// written to `FILE.partial` as the run goes and renamed to FILE when the run ends, whatever its
// outcome (failed files, Ctrl-C). So FILE, when it exists, is a whole run's: an earlier run's FILE
// is removed as this one starts, and a run that is killed leaves `FILE.partial` with the records
// of the files it finished (the next run with that manifest starts it over).
import fs from 'node:fs';
import { LakeupError } from '../errors.js';
import { renameWithRetrySync } from '../state/atomic-write.js';
import type { FailedResult, LeftOutResult, PutResult, SkippedResult } from '../types.js';
import { redact } from '../util/redact.js';
import type { ResultTap } from './results.js';

/** A record's status: sent now, already in the drive (this run's journal or --skip-existing), left out, failed. */
export type ManifestStatus = 'uploaded' | 'already-there' | 'skipped' | 'failed';

export const PARTIAL_SUFFIX = '.partial';

export class ManifestWriter implements ResultTap {
  private fd: number | undefined;
  private broken: string | undefined;

  /** Opens `FILE.partial` and removes an earlier run's FILE; a place that cannot be written is bad input (exit 2). */
  constructor(
    readonly file: string,
    private readonly notice: (line: string) => void,
  ) {
    try {
      this.fd = fs.openSync(this.partial, 'w', 0o644);
      fs.rmSync(file, { force: true });
    } catch (e) {
      throw new LakeupError('input', `--manifest: cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
    }
  }

  get partial(): string {
    return `${this.file}${PARTIAL_SUFFIX}`;
  }

  uploaded(r: PutResult): void {
    this.record('uploaded', r);
  }
  skipped(r: SkippedResult): void {
    this.record('already-there', r);
  }
  leftOut(r: LeftOutResult): void {
    this.record('skipped', r);
  }
  failed(r: FailedResult): void {
    this.record('failed', r);
  }

  /** Completes the manifest: FILE appears whole. One that lost a write stays `.partial`, said once. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.fsyncSync(fd);
    } catch {
      /* the rename still makes it whole for every reader of this machine */
    }
    fs.closeSync(fd);
    if (this.broken) return this.notice(`lakeup: the manifest is incomplete (${this.broken}): left as ${this.partial}`);
    try {
      renameWithRetrySync(this.partial, this.file);
    } catch (e) {
      this.notice(`lakeup: cannot complete the manifest ${this.file} (${(e as NodeJS.ErrnoException).code ?? 'error'}): left as ${this.partial}`);
    }
  }

  private record(status: ManifestStatus, r: object): void {
    if (this.fd === undefined || this.broken) return;
    try {
      // Redacted as every line lakeup writes is (failure messages are already; names pass through).
      fs.writeSync(this.fd, `${redact(JSON.stringify({ status, ...r }))}\n`);
    } catch (e) {
      this.broken = (e as NodeJS.ErrnoException).code ?? 'write error';
    }
  }
}
