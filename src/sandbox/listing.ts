// Walks over the drive for the listing and lookup calls of both providers: pages of a folder's children resumable
// after the last item seen, a breadth-first tree capped at a number of items, and search by name.
import type { Drive, DriveItem, DriveProvider } from './drive.js';

/**
 * Up to `size` children after the one with creation number `afterSeq` (0: from the start). Children are kept in
 * creation order, so a listing is stable while it is paged even when items are added (they come last) or removed
 * (nothing shifts).
 */
export function pageAfter(children: readonly DriveItem[], afterSeq: number, size: number): { page: DriveItem[]; more: boolean } {
  let lo = 0;
  let hi = children.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (children[mid]!.seq <= afterSeq) lo = mid + 1;
    else hi = mid;
  }
  return { page: children.slice(lo, lo + size), more: lo + size < children.length };
}

export interface TreeNode {
  item: DriveItem;
  hasChildren: boolean;
  children: TreeNode[];
}

export interface Tree {
  root: TreeNode[];
  /** Items in the answer, over every level. */
  totalItems: number;
  truncated: boolean;
  /** Folders whose children the answer does not hold in full, in the order they were met. */
  nextParentIds: string[];
}

/**
 * The items under `parentId` (null: the root) down to `depth` levels, taken breadth-first — level by level, each
 * folder's children in creation order — until `cap` items are taken. When the cap cuts the walk short the tree is
 * `truncated` and `nextParentIds` lists every folder whose children were not returned in full within the depth asked
 * (the folder being filled when the cap was hit, and every folder after it that has children and was due to be
 * expanded), `parentId` itself included when its own children exceed the cap (the root has no id to list). There is
 * no cursor: asking again for such a folder returns the same first `cap` items.
 */
export function breadthFirstTree(drive: Drive, provider: DriveProvider, parentId: string | null, depth: number, cap: number): Tree {
  const root: TreeNode[] = [];
  const next: string[] = [];
  let taken = 0;
  let level: { id: string | null; into: TreeNode[] }[] = [{ id: parentId, into: root }];
  for (let d = 1; d <= depth && level.length > 0; d++) {
    const below: typeof level = [];
    for (let i = 0; i < level.length; i++) {
      const { id, into } = level[i]!;
      const kids = drive.children(provider, id);
      const room = cap - taken;
      for (const kid of kids.slice(0, room)) {
        const node: TreeNode = { item: kid, hasChildren: drive.children(provider, kid.id).length > 0, children: [] };
        into.push(node);
        if (kid.type === 'folder' && d < depth) below.push({ id: kid.id, into: node.children });
      }
      taken += Math.min(room, kids.length);
      if (kids.length > room) {
        // The cap was hit here: this folder and every later one due to be expanded are incomplete.
        const pending = [...level.slice(i), ...below].map((f) => f.id).filter((f): f is string => f !== null);
        for (const f of pending) if (f === id || drive.children(provider, f).length > 0) next.push(f);
        return { root, totalItems: taken, truncated: true, nextParentIds: next };
      }
    }
    level = below;
  }
  return { root, totalItems: taken, truncated: false, nextParentIds: [] };
}

/** Items of a provider whose name contains `q` (case-insensitive), newest first; `total` counts every match. */
export function searchByName(drive: Drive, provider: DriveProvider, q: string, limit: number): { hits: DriveItem[]; total: number } {
  const needle = q.toLowerCase();
  // Only the matches are sorted: a search costs one pass over the drive, not a sort of all of it.
  const matches = drive
    .matching(provider, (i) => i.name.toLowerCase().includes(needle))
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.seq - a.seq);
  return { hits: matches.slice(0, limit), total: matches.length };
}
