// MemoryLake's lookup calls (docs/providers.md, "Look items up"): a folder's children page by page, and one item.
// There is no search by name.
import { ApiError, memoryLakeDialect } from './api.js';
import type { ApiRequest, ApiResult } from './api.js';
import type { DriveItem } from './drive.js';
import { pageAfter } from './listing.js';
import { ML_ROOT, mlItem, mlRootItem } from './memorylake-item.js';

const INVALID = memoryLakeDialect.invalid;
const PAGE_MAX = 50;

/** The folder an item id names: null for MY_SPACE; 404 for an unknown id or a file. */
function folderOf({ ctx }: ApiRequest, id: string): DriveItem | null {
  if (id === ML_ROOT) return null;
  const folder = ctx.drive.folder('memorylake', id);
  if (!folder) {
    const what = ctx.drive.item('memorylake', id) ? 'is a file, not a folder' : 'not found';
    throw new ApiError(404, 'NOT_FOUND', `folder ${id} ${what}`);
  }
  return folder;
}

/**
 * The continuation token: opaque to clients, in fact the folder and the creation number of the last item returned,
 * so the next page starts right after it whatever was added or removed meanwhile.
 */
function encodeToken(folderId: string, afterSeq: number): string {
  return Buffer.from(JSON.stringify({ f: folderId, a: afterSeq })).toString('base64url');
}

function decodeToken(token: string, folderId: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const { f, a } = (parsed ?? {}) as { f?: unknown; a?: unknown };
  if (f !== folderId || !Number.isSafeInteger(a) || (a as number) < 0) {
    throw new ApiError(400, INVALID, 'continuation_token is not one this listing returned');
  }
  return a as number;
}

/**
 * `GET …/drives/items/{item_id}/children?page_size=N&continuation_token=…`: page_size 1–50 (default 50), items in
 * creation order, `continuation_token` null on the last page.
 */
export async function listChildren(request: ApiRequest): Promise<ApiResult> {
  const [id] = request.params as [string];
  const folder = folderOf(request, id);
  const rawSize = request.query.get('page_size');
  const pageSize = rawSize === null ? PAGE_MAX : /^\d{1,3}$/.test(rawSize) ? Number(rawSize) : NaN;
  if (!(pageSize >= 1 && pageSize <= PAGE_MAX)) {
    throw new ApiError(400, INVALID, `page_size must be an integer from 1 to ${PAGE_MAX} (got ${JSON.stringify(rawSize)})`);
  }
  const token = request.query.get('continuation_token');
  const after = token ? decodeToken(token, id) : 0;
  const children = request.ctx.drive.children('memorylake', folder?.id ?? null);
  const { page, more } = pageAfter(children, after, pageSize);
  const last = page.at(-1);
  return {
    body: {
      success: true,
      data: { items: page.map(mlItem), continuation_token: more && last ? encodeToken(id, last.seq) : null },
    },
  };
}

/** `GET …/drives/items/{item_id}` → `{"success":true,"data":{"item":{…}}}`; MY_SPACE answers the root directory. */
export async function getItem({ ctx, params }: ApiRequest): Promise<ApiResult> {
  const [id] = params as [string];
  if (id === ML_ROOT) return { body: { success: true, data: { item: mlRootItem() } } };
  const item = ctx.drive.item('memorylake', id);
  if (!item) throw new ApiError(404, 'NOT_FOUND', `item ${id} not found`);
  return { body: { success: true, data: { item: mlItem(item) } } };
}
