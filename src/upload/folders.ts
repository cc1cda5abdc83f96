// The drive folders of a --recursive run: found before they are made (a folder of that name in
// the parent is reused, on a first run too), each made once per run, parents before children, and
// recorded in the run's journal so that running the same command again reuses them instead of
// creating a second tree (MemoryLake would call it photos_1).
import { LakeupError } from '../errors.js';
import type { Provider } from '../providers/index.js';
import type { RunJournal } from '../state/journal.js';
import type { DriveIndex } from './drive-index.js';

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
      id = this.id(segments.slice(0, -1)).then((parent) => this.findOrMake(segments, parent));
      // A failure is not cached for good: the next file under this folder tries again.
      id.catch(() => this.pending.delete(key));
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
      try {
        // 'deny': when another process made it meanwhile, the server says so instead of making
        // a second one; we then use theirs.
        const made = await this.provider.createFolder(name, parent, { onConflict: 'deny' });
        // Renamed (Copera has no 'deny'): a folder of that name appeared since it was looked for,
        // made by another lakeup or by the late creation of one that was killed. The files go there;
        // the one just made stays empty.
        const theirs = made.name !== name ? await this.index.findFolderNow(parent, name) : undefined;
        if (theirs) {
          found = theirs;
          this.notice(`folder ${path} appeared while lakeup was creating it: using it (the empty folder '${made.name}' it made can be removed)`);
        } else {
          found = { id: made.id, name: made.name, type: 'folder', parentId: parent ?? null };
          this.index.added(parent, found);
          this.notice(`created folder ${path} (${made.id})`);
        }
      } catch (e) {
        if ((e as LakeupError).status !== 409) throw e;
        found = await this.index.findFolderNow(parent, name);
        if (!found) throw e;
      }
    }
    await this.journal?.addFolder(segments, found.id);
    return found.id;
  }
}
