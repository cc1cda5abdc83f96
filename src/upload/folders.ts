// The drive folders of a --recursive run: found before they are made (a folder of that name in
// the parent is reused, on a first run too), each made once per run, parents before children, and
// recorded in the run's journal so that running the same command again reuses them instead of
// creating a second tree (MemoryLake would call it photos_1).
import { LakeupError, toLakeupError } from '../errors.js';
import { mayHaveActed } from '../http/api.js';
import type { DriveEntry, Provider } from '../providers/index.js';
import type { RunJournal } from '../state/journal.js';
import type { DriveIndex } from './drive-index.js';

/** A drive folder of the run that could not be found or made: the files under it are held back. */
export class FolderFailure extends LakeupError {
  constructor(
    readonly segments: string[],
    cause: LakeupError,
    message = `folder ${segments.join('/')}: ${cause.message}`,
  ) {
    super(cause.kind, message, { status: cause.status, code: cause.code, detail: cause.detail, cause });
  }

  /** The same failure, its line ending with `suffix`. */
  withSuffix(suffix: string): FolderFailure {
    return new FolderFailure(this.segments, this.cause as LakeupError, `${this.message}${suffix}`);
  }
}

/** A refused token and an interruption are the run's, not the folder's: they pass unchanged. */
function folderFailure(e: unknown, segments: string[]): unknown {
  const err = toLakeupError(e);
  return err.kind === 'auth' || err.kind === 'interrupted' ? e : new FolderFailure(segments, err);
}

export class FolderTree {
  private readonly pending = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly provider: Provider,
    private readonly index: DriveIndex,
    /** The folder the run uploads into (--parent), undefined for the drive's root. */
    private readonly base: string | undefined,
    private readonly journal: RunJournal | undefined,
    private readonly notice: (line: string) => void,
  ) {}

  /** The drive id of the folder at `segments` under the base, found or made. */
  id(segments: string[]): Promise<string | undefined> {
    if (segments.length === 0) return Promise.resolve(this.base);
    const key = JSON.stringify(segments);
    let id = this.pending.get(key);
    if (!id) {
      id = this.id(segments.slice(0, -1)).then((parent) =>
        this.findOrMake(segments, parent).catch((e) => {
          throw folderFailure(e, segments);
        }),
      );
      // A failure is kept for the run: every file under the folder (and its sub-folders) meets the
      // same one, said once, instead of asking again per file. (Calls that may be retried safely
      // were retried already; a rerun tries again.)
      id.catch(() => undefined);
      this.pending.set(key, id);
    }
    return id;
  }

  private async findOrMake(segments: string[], parent: string | undefined): Promise<string> {
    const known = this.journal?.folder(segments);
    if (known) return known; // found or made by an earlier, interrupted run of this command
    const name = segments[segments.length - 1];
    const path = segments.join('/');
    let found = await this.index.findFolder(parent, name);
    if (!found) {
      if (!this.provider.createFolder) throw new LakeupError('usage', `${this.provider.service} cannot create folders`);
      found = await this.make(name, parent, path);
    }
    await this.journal?.addFolder(segments, found.id);
    return found.id;
  }

  private async make(name: string, parent: string | undefined, path: string): Promise<DriveEntry> {
    const create = this.provider.createFolder!.bind(this.provider);
    for (let attempt = 0; ; attempt++) {
      try {
        // 'deny': when another process made it meanwhile, the server says so instead of making
        // a second one; we then use theirs.
        const made = await create(name, parent, { onConflict: 'deny' });
        if (made.name !== name || !this.provider.honoursDeny) {
          // The server cannot refuse a duplicate (Copera): another job (a --shard of the same
          // tree) may have made one too. Every job settles on the oldest folder of that name, so
          // they all end up in one; a newer one is left empty.
          const oldest = await this.index.oldestFolderNow(parent, name);
          if (oldest && oldest.id !== made.id) {
            this.notice(`another job made folder ${path} meanwhile: using it (${oldest.id}); the folder ${made.name} (${made.id}) made here stays empty`);
            return oldest;
          }
        }
        const entry: DriveEntry = { id: made.id, name: made.name, type: 'folder', parentId: parent ?? null };
        this.index.added(parent, entry);
        this.notice(`created folder ${path} (${made.id})`);
        return entry;
      } catch (e) {
        const conflict = (e as LakeupError).status === 409;
        // A 409 means it exists; a lost answer or a gateway's 5xx means it may: look before trying again.
        if (!conflict && !(mayHaveActed(e) && attempt === 0)) throw e;
        const there = await this.index.findFolderNow(parent, name);
        if (there) return there;
        if (conflict) throw e; // a file of that name, not a folder
      }
    }
  }
}
