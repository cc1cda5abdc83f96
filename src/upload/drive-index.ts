// What a run knows of the drive: the listing of each destination folder, asked for once per run
// (--skip-existing and finding folders before creating them share it), and kept up to date with
// the folders the run makes.
import { LakeupError, toLakeupError } from '../errors.js';
import type { DriveEntry, FolderListing, Provider } from '../providers/index.js';
import { matchesName } from '../providers/names.js';

/** "It may be there, but the API cannot tell": the listing was cut and there is no search to fall back on. */
export const UNKNOWN = Symbol('unknown');

/**
 * A destination folder the API would not list (a --parent that is not there, a server that keeps
 * failing): every file of that folder meets it, so a run says it once for all of them (run.ts).
 * A refused token and an interruption are the run's and pass unchanged.
 */
export class ListingFailure extends LakeupError {
  constructor(
    readonly parent: string | undefined,
    cause: LakeupError,
  ) {
    super(cause.kind, cause.message, { status: cause.status, code: cause.code, detail: cause.detail, cause });
  }
}

export class DriveIndex {
  private readonly listings = new Map<string, Promise<FolderListing>>();
  private readonly names = new WeakMap<FolderListing, Map<string, DriveEntry[]>>();
  private readonly sizes = new WeakMap<FolderListing, Map<number, DriveEntry[]>>();

  constructor(
    private readonly provider: Provider,
    private readonly signal?: AbortSignal,
    /** MemoryLake: list at most this many pages of a folder; beyond, a file's lookup is UNKNOWN (a single file's budget). */
    private readonly maxPages?: number,
  ) {}

  /** The children of a folder (undefined: the root), listed once per run. */
  listing(parent: string | undefined): Promise<FolderListing> {
    const key = parent ?? '';
    let l = this.listings.get(key);
    if (!l) {
      l = this.provider.listFolder(parent, { signal: this.signal, maxPages: this.maxPages }).catch((e: unknown) => {
        const err = toLakeupError(e);
        throw err.kind === 'auth' || err.kind === 'interrupted' ? e : new ListingFailure(parent, err);
      });
      l.catch(() => this.listings.delete(key)); // a failure is not remembered: the next file asks again
      this.listings.set(key, l);
    }
    return l;
  }

  /** A folder's entries by name, built once per listing: thousands of files look up in O(1). */
  private byName(listing: FolderListing): Map<string, DriveEntry[]> {
    return indexed(this.names, listing, (e) => e.name);
  }

  /** A folder's entries by size, built once per listing: renamed copies of a file are found without a scan. */
  private bySize(listing: FolderListing): Map<number, DriveEntry[]> {
    return indexed(this.sizes, listing, (e) => e.size ?? -1);
  }

  /** A file named exactly `name` of exactly `size` bytes in the folder, if the drive has one. */
  async findFile(parent: string | undefined, name: string, size: number): Promise<DriveEntry | undefined | typeof UNKNOWN> {
    const same = (e: DriveEntry) => e.type === 'file' && e.name === name && e.size === size;
    const listing = await this.listing(parent);
    const hit = (this.byName(listing).get(name) ?? []).find(same);
    if (hit || listing.complete) return hit;
    try {
      return (await this.provider.findInFolder(parent, name, { signal: this.signal })).find(same);
    } catch (e) {
      if ((e as LakeupError).code === 'LOOKUP_INCOMPLETE') return UNKNOWN;
      throw e;
    }
  }

  /**
   * The files of `size` bytes in the folder named `name` or a renamed form of it (an earlier rerun's
   * copy, `big_1.zip`), the exact name first: the ones whose content may be the file's.
   */
  async candidates(parent: string | undefined, name: string, size: number): Promise<DriveEntry[] | typeof UNKNOWN> {
    const fits = (e: DriveEntry) => e.type === 'file' && e.size === size && matchesName(this.provider.name, name, e.name);
    const hits = await this.lookup(parent, name, (l) => this.bySize(l).get(size) ?? [], fits);
    return hits === UNKNOWN ? hits : hits.sort((a, b) => Number(b.name === name) - Number(a.name === name));
  }

  /** Every item named exactly `name` in the folder (`lakeup check`); UNKNOWN when the API cannot tell. */
  named(parent: string | undefined, name: string): Promise<DriveEntry[] | typeof UNKNOWN> {
    return this.lookup(parent, name, (l) => this.byName(l).get(name) ?? [], (e) => e.name === name);
  }

  /**
   * The entries `keep` accepts among those `pick` gives of the folder's listing; when the listing
   * is not complete and has none, the provider's search for `name`. Copera has search; MemoryLake
   * would list the whole folder again, past a single file's budget of pages: UNKNOWN then.
   */
  private async lookup(
    parent: string | undefined,
    name: string,
    pick: (l: FolderListing) => DriveEntry[],
    keep: (e: DriveEntry) => boolean,
  ): Promise<DriveEntry[] | typeof UNKNOWN> {
    const listing = await this.listing(parent);
    const hits = pick(listing).filter(keep);
    if (hits.length > 0 || listing.complete) return hits;
    if (this.maxPages !== undefined && this.provider.name === 'memorylake') return UNKNOWN;
    try {
      return (await this.provider.findInFolder(parent, name, { signal: this.signal })).filter(keep);
    } catch (e) {
      if ((e as LakeupError).code === 'LOOKUP_INCOMPLETE') return UNKNOWN;
      throw e;
    }
  }

  /** A folder named exactly `name` in `parent`, if there is one. */
  async findFolder(parent: string | undefined, name: string): Promise<DriveEntry | undefined> {
    const isIt = (e: DriveEntry) => e.type === 'folder' && e.name === name;
    const listing = await this.listing(parent);
    const hit = (this.byName(listing).get(name) ?? []).find(isIt);
    if (hit || listing.complete) return hit;
    try {
      return (await this.provider.findInFolder(parent, name, { signal: this.signal })).find(isIt);
    } catch (e) {
      // Create it: MemoryLake's 'deny' refuses a clash; on Copera the jobs settle on the oldest (folders.ts).
      if ((e as LakeupError).code === 'LOOKUP_INCOMPLETE') return undefined;
      throw e;
    }
  }

  /** Fresh from the drive, not from this run's cache: whether a folder of that name exists now. */
  async findFolderNow(parent: string | undefined, name: string): Promise<DriveEntry | undefined> {
    const found = await this.provider.findInFolder(parent, name, { signal: this.signal });
    return found.find((e) => e.type === 'folder' && e.name === name);
  }

  /** Of the folders named exactly `name` in `parent` now, the oldest (ties: the smallest id), so that jobs agree. */
  async oldestFolderNow(parent: string | undefined, name: string): Promise<DriveEntry | undefined> {
    const found = (await this.provider.findInFolder(parent, name, { signal: this.signal })).filter((e) => e.type === 'folder' && e.name === name);
    found.sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return found[0];
  }

  /** A folder made by this run: later lookups in its parent see it, and it starts empty. */
  added(parent: string | undefined, entry: DriveEntry): void {
    const key = parent ?? '';
    const l = this.listings.get(key);
    if (l) this.listings.set(key, l.then((x) => ({ ...x, entries: [...x.entries, entry] })));
    this.listings.set(entry.id, Promise.resolve({ entries: [], complete: true }));
  }
}

export function isUnknown(x: unknown): x is typeof UNKNOWN {
  return x === UNKNOWN;
}


/** `listing`'s entries grouped by `key`, built once and kept in `cache`. */
function indexed<K>(cache: WeakMap<FolderListing, Map<K, DriveEntry[]>>, listing: FolderListing, key: (e: DriveEntry) => K): Map<K, DriveEntry[]> {
  let m = cache.get(listing);
  if (!m) {
    m = new Map();
    for (const e of listing.entries) {
      const k = key(e);
      const list = m.get(k);
      if (list) list.push(e);
      else m.set(k, [e]);
    }
    cache.set(listing, m);
  }
  return m;
}
