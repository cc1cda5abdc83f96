// The sandbox's drives: each provider's files and folders, mirrored on disk under `dir/<provider>` (a folder is a
// directory, a file is written at `<dir>/<provider>/<folder path>/<name>`). The two providers are two accounts of two
// services: neither sees the other's items, so a name taken in one drive is free in the other. Within a drive names
// are unique per folder, also against anything already on disk, so a finished file never clobbers one the drive does
// not know about unless the client asked to overwrite or replace. The drive also indexes each folder's children in
// creation order: the listing and lookup calls read exactly what the upload and folder calls wrote. (Files already on
// disk that the drive did not create are only obstacles for names: they are never listed.)
import { statSync } from 'node:fs';
import { join } from 'node:path';

export type DriveProvider = 'memorylake' | 'copera';
export type ConflictStrategy = 'rename' | 'deny' | 'overwrite' | 'replace';
export const CONFLICT_STRATEGIES: readonly ConflictStrategy[] = ['rename', 'deny', 'overwrite', 'replace'];

/** How `rename` finds a free name: MemoryLake `big_1.zip`, Copera `big (1).zip`. */
export type Naming = 'underscore' | 'paren';

export interface DriveItem {
  id: string;
  provider: DriveProvider;
  type: 'file' | 'folder';
  name: string;
  /** null: the root (MemoryLake MY_SPACE, Copera's root). */
  parentId: string | null;
  /** Path in its provider's drive, '/'-separated (on disk under `dir/<provider>`). */
  relPath: string;
  size: number;
  /** Files: S3-style ETag of the whole object (md5 of the part md5s, dash, part count for multipart uploads). */
  etag?: string;
  mimeType?: string;
  xAttrs?: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
  /** Creation order across the whole drive (1, 2, …): listings are ordered by it and resume after it. */
  seq: number;
}

export class DriveConflict extends Error {}

export interface PlaceRequest {
  provider: DriveProvider;
  type: 'file' | 'folder';
  name: string;
  parent: DriveItem | null;
  strategy: ConflictStrategy;
  naming: Naming;
  newId: () => string;
  size?: number;
  etag?: string;
  mimeType?: string;
  xAttrs?: Record<string, string>;
  /** Default now (seeded items may be older). */
  createdAt?: Date;
}

/** What place() did: `created` is false when it handed back an existing item (overwrite, or a folder kept). */
export interface Placed {
  item: DriveItem;
  created: boolean;
}

/** Why a name cannot be used for a drive item, or undefined when it can. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'name must be a non-empty string';
  if (name.length > 255) return 'name must be at most 255 characters';
  if (name === '.' || name === '..') return `name cannot be "${name}"`;
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f]/.test(name)) return 'name cannot contain "/", "\\" or control characters';
  if (process.platform === 'win32' && /[<>:"|?*]/.test(name)) return 'name cannot contain <>:"|?* on Windows';
  return undefined;
}

/** Decoded path segments after `prefix`, or undefined when any is empty, `.`/`..` or otherwise not a usable name. */
export function safeSegments(pathname: string, prefix: string): string[] | undefined {
  try {
    const segments = pathname.slice(prefix.length).split('/').map(decodeURIComponent);
    return segments.every((s) => nameProblem(s) === undefined) ? segments : undefined;
  } catch {
    return undefined;
  }
}

/** `big.zip` → `big_1.zip` / `big (1).zip`; the extension is what follows the last dot (not a leading one). */
export function renamed(name: string, i: number, naming: Naming): string {
  const dot = name.lastIndexOf('.');
  const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  return naming === 'underscore' ? `${base}_${i}${ext}` : `${base} (${i})${ext}`;
}

const childrenKey = (provider: DriveProvider, parentId: string | null) => `${provider}\u0000${parentId ?? ''}`;
const pathKey = (provider: DriveProvider, relPath: string) => `${provider}\u0000${relPath}`;

export class Drive {
  private readonly byId = new Map<string, DriveItem>();
  /** Per provider and relPath. */
  private readonly byPath = new Map<string, DriveItem>();
  /** Per provider and parent folder (null = root): the children, in creation (seq) order. */
  private readonly kids = new Map<string, DriveItem[]>();
  private lastSeq = 0;

  constructor(readonly root: string) {}

  /** A folder of this provider, by id. */
  folder(provider: DriveProvider, id: string): DriveItem | undefined {
    const item = this.item(provider, id);
    return item?.type === 'folder' ? item : undefined;
  }

  /** A file or folder of this provider, by id. */
  item(provider: DriveProvider, id: string): DriveItem | undefined {
    const item = this.byId.get(id);
    return item?.provider === provider ? item : undefined;
  }

  /** Whether any item (of either provider) has this id. */
  hasId(id: string): boolean {
    return this.byId.has(id);
  }

  /** A folder's children (null = the provider's root), oldest first. The array is the drive's own: do not modify. */
  children(provider: DriveProvider, parentId: string | null): readonly DriveItem[] {
    return this.kids.get(childrenKey(provider, parentId)) ?? [];
  }

  /** Every item of a provider, oldest first. */
  all(provider: DriveProvider): DriveItem[] {
    return [...this.byId.values()].filter((i) => i.provider === provider).sort((a, b) => a.seq - b.seq);
  }

  /** The items of a provider that `keep` accepts, in no particular order. */
  matching(provider: DriveProvider, keep: (i: DriveItem) => boolean): DriveItem[] {
    const out: DriveItem[] = [];
    for (const i of this.byId.values()) if (i.provider === provider && keep(i)) out.push(i);
    return out;
  }

  /** Where an item of a provider's drive is on disk: `<dir>/<provider>/<relPath>`. */
  absPath(provider: DriveProvider, relPath: string): string {
    return join(this.root, provider, ...relPath.split('/'));
  }

  /**
   * Gives the item its name under `parent` following the conflict strategy, and registers it. Throws DriveConflict
   * for `deny`, or when overwrite/replace would swap a file for a folder. Folders asked to overwrite/replace an
   * existing folder get that folder back (its contents stay).
   */
  place(req: PlaceRequest): Placed {
    const parentRel = req.parent?.relPath ?? '';
    const rel = (n: string) => (parentRel ? `${parentRel}/${n}` : n);
    const where = req.parent ? `folder "${req.parent.name}"` : 'the root folder';
    let name = req.name;
    const occupant = this.occupant(req.provider, rel(name));
    if (occupant) {
      switch (req.strategy) {
        case 'deny':
          throw new DriveConflict(`an item named "${name}" already exists in ${where}`);
        case 'rename':
          for (let i = 1; ; i++) {
            const candidate = renamed(req.name, i, req.naming);
            if (!this.occupant(req.provider, rel(candidate))) {
              name = candidate;
              break;
            }
          }
          break;
        case 'overwrite':
        case 'replace': {
          if (occupant.type !== req.type) {
            throw new DriveConflict(`cannot ${req.strategy} the ${occupant.type} "${name}" in ${where} with a ${req.type}`);
          }
          const old = occupant.item;
          if (old && (req.type === 'folder' || req.strategy === 'overwrite')) {
            if (req.type === 'file') {
              old.size = req.size ?? old.size;
              old.etag = req.etag ?? old.etag;
              old.mimeType = req.mimeType ?? old.mimeType;
              old.xAttrs = req.xAttrs ?? old.xAttrs;
              old.updatedAt = new Date();
            }
            return { item: old, created: false };
          }
          if (old) this.remove(old);
          break;
        }
      }
    }
    const created = req.createdAt ?? new Date();
    const item: DriveItem = {
      id: req.newId(),
      provider: req.provider,
      type: req.type,
      name,
      parentId: req.parent?.id ?? null,
      relPath: rel(name),
      size: req.type === 'folder' ? 0 : (req.size ?? 0),
      etag: req.type === 'folder' ? undefined : req.etag,
      mimeType: req.mimeType,
      xAttrs: req.xAttrs,
      createdAt: created,
      updatedAt: new Date(created),
      seq: ++this.lastSeq,
    };
    this.byId.set(item.id, item);
    this.byPath.set(pathKey(item.provider, item.relPath), item);
    const key = childrenKey(item.provider, item.parentId);
    const siblings = this.kids.get(key);
    if (siblings) siblings.push(item);
    else this.kids.set(key, [item]);
    return { item, created: true };
  }

  /** Forgets an item (replaced by another, or a test seed rolled back). */
  remove(item: DriveItem): void {
    if (this.byId.get(item.id) === item) this.byId.delete(item.id);
    const at = pathKey(item.provider, item.relPath);
    if (this.byPath.get(at) === item) this.byPath.delete(at);
    const key = childrenKey(item.provider, item.parentId);
    const siblings = this.kids.get(key);
    const i = siblings?.indexOf(item) ?? -1;
    if (i >= 0) siblings!.splice(i, 1);
    if (siblings?.length === 0) this.kids.delete(key);
  }

  /** What holds a path of a provider's drive: its item, or a file/directory on disk the drive does not know. */
  private occupant(provider: DriveProvider, relPath: string): { type: 'file' | 'folder'; item?: DriveItem } | undefined {
    const item = this.byPath.get(pathKey(provider, relPath));
    if (item) return { type: item.type, item };
    const st = statSync(this.absPath(provider, relPath), { throwIfNoEntry: false });
    if (st) return { type: st.isDirectory() ? 'folder' : 'file' };
    return undefined;
  }
}
