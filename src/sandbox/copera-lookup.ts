// Copera's lookup calls (docs/providers.md, "Look items up"): the tree under a folder, one item, search by name.
import { ApiError, coperaDialect } from './api.js';
import type { ApiRequest, ApiResult } from './api.js';
import { coperaItem, isCoperaId } from './copera-item.js';
import type { TreeNode } from './listing.js';
import { breadthFirstTree, searchByName } from './listing.js';
import type { CoperaShape } from './types.js';

const INVALID = coperaDialect.invalid;
/** At most this many items in one tree answer, counted over every level. */
export const TREE_CAP = 500;
const DEPTH_MAX = 10;
const SEARCH_MAX = 50;
const SEARCH_DEFAULT = 20;

/** An integer query parameter within [min, max], `fallback` when absent; 400 otherwise. */
function intParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new ApiError(400, INVALID, `${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return n;
}

function treeNode(node: TreeNode, shape: CoperaShape): unknown {
  return { ...coperaItem(node.item, shape), hasChildren: node.hasChildren, children: node.children.map((c) => treeNode(c, shape)) };
}

/**
 * `GET /public/v1/drive/tree?parentId=<id>&depth=1..10` (no parentId: the root; depth default 1). Our reading of
 * "at most 500 items an answer; when truncated, call again with each of nextParentIds" (docs/providers.md):
 * - items are taken breadth-first, level by level, each folder's children in creation order, until 500 are taken
 *   (counted over the whole nested answer); `totalItems` is the number of items in the answer;
 * - once the cap cuts the walk short, `truncated` is true and `nextParentIds` lists every folder whose children the
 *   answer does not hold in full within the depth asked, `parentId` itself included when its own direct children
 *   exceed 500;
 * - there is no cursor: calling again with such a `parentId` returns the same first 500. A client must notice that
 *   (its own parentId comes back in nextParentIds, or the root's listing is truncated: the root has no id to list)
 *   and find the rest with search.
 * Every item carries `hasChildren` and `children` (empty below the depth asked). Unknown parent (or a file) → 404.
 */
export async function tree({ ctx, query, shape }: ApiRequest): Promise<ApiResult> {
  const rawParent = query.get('parentId');
  let parentId: string | null = null;
  if (rawParent !== null && rawParent !== '') {
    if (!isCoperaId(rawParent)) throw new ApiError(400, INVALID, `parentId must be a 24-character hex id (got ${JSON.stringify(rawParent)})`);
    if (!ctx.drive.folder('copera', rawParent)) throw new ApiError(404, 'NOT_FOUND', `folder ${rawParent} not found`);
    parentId = rawParent;
  }
  const depth = intParam(query, 'depth', 1, DEPTH_MAX, 1);
  const t = breadthFirstTree(ctx.drive, 'copera', parentId, depth, TREE_CAP);
  return {
    body: { root: t.root.map((n) => treeNode(n, shape)), totalItems: t.totalItems, truncated: t.truncated, nextParentIds: t.nextParentIds },
  };
}

/** `GET /public/v1/drive/files/{id}` → the item, file or folder; 404 when unknown (or not a 24-hex id). */
export async function getFile({ ctx, params, shape }: ApiRequest): Promise<ApiResult> {
  const [id] = params as [string];
  const item = isCoperaId(id) ? ctx.drive.item('copera', id) : undefined;
  if (!item) throw new ApiError(404, 'NOT_FOUND', `file ${id} not found`);
  return { body: coperaItem(item, shape) };
}

/**
 * `GET /public/v1/drive/search?q=…&limit=1..50` (default 20) → `{"hits","totalHits","query"}`. Ours is a
 * case-insensitive substring match on names (files and folders) over the whole Copera drive, newest first, no folder
 * filter; `totalHits` counts every match, `hits` at most `limit`. A missing or empty q → 400.
 */
export async function search({ ctx, query, shape }: ApiRequest): Promise<ApiResult> {
  const q = query.get('q');
  if (q === null || q.trim() === '') throw new ApiError(400, INVALID, 'q is required and must not be empty');
  const limit = intParam(query, 'limit', 1, SEARCH_MAX, SEARCH_DEFAULT);
  const { hits, total } = searchByName(ctx.drive, 'copera', q, limit);
  return { body: { hits: hits.map((i) => coperaItem(i, shape)), totalHits: total, query: q } };
}
