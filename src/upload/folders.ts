// The drive folders of a --recursive run: each made once per run, parents before children, and
// recorded in the run's journal so that running the same command again reuses them instead of
// creating a second tree (MemoryLake would call it photos_1).
import { LakeupError } from '../errors.js';
import type { Provider } from '../providers/index.js';
import type { RunJournal } from '../state/journal.js';

export class FolderTree {
  private readonly pending = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly provider: Provider,
    /** The folder the run uploads into (--parent), undefined for the drive's root. */
    private readonly base: string | undefined,
    private readonly journal: RunJournal | undefined,
    private readonly notice: (line: string) => void,
  ) {}

  /** The drive id of the folder at `segments` under the base, made if need be. */
  id(segments: string[]): Promise<string | undefined> {
    if (segments.length === 0) return Promise.resolve(this.base);
    const key = JSON.stringify(segments);
    let id = this.pending.get(key);
    if (!id) {
      id = this.id(segments.slice(0, -1)).then((parent) => this.make(segments, parent));
      // A failure is not cached for good: the next file under this folder tries again.
      id.catch(() => this.pending.delete(key));
      this.pending.set(key, id);
    }
    return id;
  }

  private async make(segments: string[], parent: string | undefined): Promise<string> {
    const known = this.journal?.folder(segments);
    if (known) return known; // made by an earlier, interrupted run of this command
    if (!this.provider.createFolder) {
      throw new LakeupError('usage', `${this.provider.service} cannot create folders`);
    }
    const made = await this.provider.createFolder(segments[segments.length - 1], parent);
    await this.journal?.addFolder(segments, made.id);
    this.notice(`created folder ${segments.join('/')} (${made.id})`);
    return made.id;
  }
}
