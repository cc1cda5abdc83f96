// "Is this file there already?" before a file of a `put` is sent, so that the same command run twice
// leaves one copy of an unchanged file:
// 1. the ledger (state/ledger.ts): this machine uploaded exactly this file to exactly this place
//    under this token, and the file has not changed since (same size and mtime, and ctime and inode
//    vouch for it, or its SHA-256 is the one recorded) → no API call at all;
// 2. the drive: its destination folder's listing (one per folder per run, drive-index.ts) holds a
//    file of that name (or a renamed form) and size whose content is the same (same-content.ts).
//    A single file on MemoryLake lists at most SINGLE_FILE_PAGES pages (no search there): past them
//    it is sent. A file an earlier attempt left pending (a state, a cut-off finalize) is not looked
//    up: resuming it is what finishes it.
// --again skips both (a deliberate second copy); --skip-existing keeps its rule: name and size only.
import type { Provider } from '../providers/index.js';
import { ledgerKey, Ledger, type LedgerEntry } from '../state/ledger.js';
import type { FileFingerprint, SkippedResult } from '../types.js';
import { DriveIndex, isUnknown } from './drive-index.js';
import { identityVouches } from './local-file.js';
import type { PutPlan } from './plan.js';
import { accountOf } from './run-journal.js';
import { LocalDigest, sameContent } from './same-content.js';
import type { Source } from './sources.js';

/** A single MemoryLake file looks at up to 1,000 items of its folder (20 calls of 50) before it is sent. */
export const SINGLE_FILE_PAGES = 20;

export class RerunCheck {
  readonly ledger: Ledger;
  private readonly account: string;

  constructor(
    private readonly plan: PutPlan,
    private readonly index: DriveIndex,
    private readonly notice: (line: string) => void,
    private readonly signal?: AbortSignal,
  ) {
    this.ledger = Ledger.open(plan.stateDir);
    this.account = accountOf(plan.token);
  }

  /** The drive index a run's check uses: a single file's is on a page budget. */
  static indexFor(lookups: Provider, isRun: boolean, signal?: AbortSignal): DriveIndex {
    return new DriveIndex(lookups, signal, isRun ? undefined : SINGLE_FILE_PAGES);
  }

  digestOf(fp: FileFingerprint): LocalDigest {
    return new LocalDigest(fp.path, this.signal, fp.size);
  }

  private key(src: Source, fp: FileFingerprint, parent: string | undefined): string {
    const p = this.plan;
    return ledgerKey({ provider: p.provider, endpoint: p.endpoint, account: this.account, file: fp.path, parent, to: src.name });
  }

  /**
   * What to report instead of sending the file, or undefined to send it. `pending`: an earlier
   * attempt left this file something to resume (then only --skip-existing looks in the drive).
   */
  async find(src: Source, fp: FileFingerprint, parent: string | undefined, digest: LocalDigest, pending: boolean): Promise<SkippedResult | undefined> {
    if (this.plan.again) return undefined;
    const key = this.key(src, fp, parent);
    const e = this.ledger.get(key);
    if (e && (await this.stillTheSame(e, fp, digest))) {
      if (!this.vouches(e, fp)) this.ledger.touch(key, fp);
      return this.skipped('already-uploaded', src, fp, e);
    }
    if (pending && !this.plan.skipExisting) return undefined;
    // The ledger knew this file and it changed since: the drive's cheap rule (the mtime in x_attrs)
    // could take the old copy for it, so its content decides.
    const checksum = this.plan.checksum || e !== undefined;
    if (this.plan.skipExisting) {
      // Name and size, as --skip-existing always meant: cheap, content not compared.
      const there = await this.index.findFile(parent, src.name, fp.size);
      if (isUnknown(there)) return this.cannotTell(src);
      return there ? this.found(key, src, fp, parent, there, digest) : undefined;
    }
    const candidates = await this.index.candidates(parent, src.name, fp.size);
    if (isUnknown(candidates)) return this.cannotTell(src);
    for (const c of candidates) {
      if (await sameContent(this.plan.provider, c, fp, { checksum, digest, signal: this.signal })) {
        return this.found(key, src, fp, parent, c, digest);
      }
    }
    return undefined;
  }

  /** Remembers a file just sent. */
  record(src: Source, fp: FileFingerprint, parent: string | undefined, item: { id: string; name: string }, digest?: LocalDigest): void {
    const key = this.key(src, fp, parent);
    this.ledger.record(key, this.entryOf(src, fp, parent, item, digest));
  }

  flush(): Promise<void> {
    return this.ledger.flush();
  }

  private async stillTheSame(e: LedgerEntry, fp: FileFingerprint, digest: LocalDigest): Promise<boolean> {
    if (e.size !== fp.size || e.mtimeMs !== fp.mtimeMs) return false;
    if (!this.plan.checksum && this.vouches(e, fp)) return true;
    // ctime or inode moved (or --checksum): the content decides, where it was recorded.
    return e.sha256 !== undefined && (await digest.sha256()) === e.sha256;
  }

  private vouches(e: LedgerEntry, fp: FileFingerprint): boolean {
    return identityVouches({ path: e.file, size: e.size, mtimeMs: e.mtimeMs, ctimeMs: e.ctimeMs, ino: e.ino }, fp);
  }

  private found(key: string, src: Source, fp: FileFingerprint, parent: string | undefined, item: { id: string; name: string }, digest: LocalDigest): SkippedResult {
    // Name and size alone (--skip-existing) prove no content: not remembered as this file's upload.
    if (!this.plan.skipExisting) this.ledger.record(key, this.entryOf(src, fp, parent, item, digest));
    return this.skipped('exists', src, fp, item);
  }

  private cannotTell(src: Source): undefined {
    this.notice(`${src.display}: cannot tell whether the drive has it (the folder listing is incomplete): uploading it`);
    return undefined;
  }

  private entryOf(src: Source, fp: FileFingerprint, parent: string | undefined, item: { id: string; name: string }, digest?: LocalDigest): Omit<LedgerEntry, 'at'> {
    const p = this.plan;
    return { provider: p.provider, file: fp.path, parent, to: src.name, size: fp.size, mtimeMs: fp.mtimeMs, ctimeMs: fp.ctimeMs, ino: fp.ino, sha256: digest?.value, id: item.id, name: item.name, account: this.account };
  }

  private skipped(reason: SkippedResult['reason'], src: Source, fp: FileFingerprint, item: { id: string; name: string }): SkippedResult {
    return { ok: true, skipped: true, reason, provider: this.plan.provider, file: src.display, name: item.name, id: item.id, size: fp.size };
  }
}
