// The sandbox's drive: files and folders of both providers, mirrored on disk under `dir` (a folder is a directory,
// a file is written at `<dir>/<folder path>/<name>`). Names are unique per folder, across both providers and across
// anything already on disk, so a finished file never clobbers one the drive does not know about unless the client
// asked to overwrite or replace.
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
  /** Path under `dir`, '/'-separated. */
  relPath: string;
  size: number;
  mimeType?: string;
  xAttrs?: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
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
  mimeType?: string;
  xAttrs?: Record<string, string>;
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

export class Drive {
  private readonly byId = new Map<string, DriveItem>();
  private readonly byPath = new Map<string, DriveItem>();

  constructor(readonly root: string) {}

  /** A folder of this provider, by id. */
  folder(provider: DriveProvider, id: string): DriveItem | undefined {
    const item = this.byId.get(id);
    return item && item.provider === provider && item.type === 'folder' ? item : undefined;
  }

  absPath(relPath: string): string {
    return join(this.root, ...relPath.split('/'));
  }

  /**
   * Gives the item its name under `parent` following the conflict strategy, and registers it. Throws DriveConflict
   * for `deny`, or when overwrite/replace would swap a file for a folder. Folders asked to overwrite/replace an
   * existing folder get that folder back (its contents stay).
   */
  place(req: PlaceRequest): DriveItem {
    const parentRel = req.parent?.relPath ?? '';
    const rel = (n: string) => (parentRel ? `${parentRel}/${n}` : n);
    const where = req.parent ? `folder "${req.parent.name}"` : 'the root folder';
    let name = req.name;
    const occupant = this.occupant(rel(name));
    if (occupant) {
      switch (req.strategy) {
        case 'deny':
          throw new DriveConflict(`an item named "${name}" already exists in ${where}`);
        case 'rename':
          for (let i = 1; ; i++) {
            const candidate = renamed(req.name, i, req.naming);
            if (!this.occupant(rel(candidate))) {
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
          if (old && old.provider === req.provider && (req.type === 'folder' || req.strategy === 'overwrite')) {
            if (req.type === 'file') {
              old.size = req.size ?? old.size;
              old.mimeType = req.mimeType ?? old.mimeType;
              old.xAttrs = req.xAttrs ?? old.xAttrs;
              old.updatedAt = new Date();
            }
            return old;
          }
          if (old) this.remove(old);
          break;
        }
      }
    }
    const now = new Date();
    const item: DriveItem = {
      id: req.newId(),
      provider: req.provider,
      type: req.type,
      name,
      parentId: req.parent?.id ?? null,
      relPath: rel(name),
      size: req.size ?? 0,
      mimeType: req.mimeType,
      xAttrs: req.xAttrs,
      createdAt: now,
      updatedAt: now,
    };
    this.byId.set(item.id, item);
    this.byPath.set(item.relPath, item);
    return item;
  }

  /** Forgets an item (a failed write). */
  remove(item: DriveItem): void {
    if (this.byId.get(item.id) === item) this.byId.delete(item.id);
    if (this.byPath.get(item.relPath) === item) this.byPath.delete(item.relPath);
  }

  /** What holds a path: a drive item, or a file/directory on disk the drive does not know. */
  private occupant(relPath: string): { type: 'file' | 'folder'; item?: DriveItem } | undefined {
    const item = this.byPath.get(relPath);
    if (item) return { type: item.type, item };
    const st = statSync(this.absPath(relPath), { throwIfNoEntry: false });
    if (st) return { type: st.isDirectory() ? 'folder' : 'file' };
    return undefined;
  }
}
