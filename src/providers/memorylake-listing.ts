// MemoryLake lookups: a folder's children page by page (50 at most a page, no filter by name, no
// search), and one item by id. Items answer `type: "directory"` for folders. See docs/providers.md.
import { apiGet, type ApiContext } from '../http/api.js';
import { LakeupError } from '../errors.js';
import { badResponse, byteSize, compact, entryBase, entryType, epochMs, isRecord, unlessNotFound } from './drive-entry.js';
import type { DriveEntry, FolderListing, LookupOptions } from './provider.js';

const ITEMS = '/openapi/memorylake/api/v1/drives/items';
export const MY_SPACE = 'MY_SPACE';
export const PAGE_SIZE = 50;
/** 2,000 pages of 50: 100,000 children, over three minutes of the 600 calls/min budget. Beyond, the listing is incomplete. */
export const MAX_PAGES = 2000;

/** Every child of a folder, following continuation tokens until one is absent or null. */
export async function listChildren(
  api: ApiContext,
  parentId: string | undefined,
  opts: LookupOptions & { maxPages?: number } = {},
): Promise<FolderListing> {
  const folder = parentId ?? MY_SPACE;
  const what = parentId === undefined ? 'the listing of the root folder (MY_SPACE)' : `the listing of folder ${folder}`;
  const entries: DriveEntry[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  for (let page = 1; page <= (opts.maxPages ?? MAX_PAGES); page++) {
    const res = await apiGet<unknown>(api, {
      path: `${ITEMS}/${encodeURIComponent(folder)}/children`,
      query: { page_size: PAGE_SIZE, continuation_token: token },
      what: parentId === undefined ? 'list the root folder' : `list folder ${folder}`,
      signal: opts.signal,
    });
    const bad = (why: string) => badResponse(api.service, `${what} (page ${page})`, why);
    const data = isRecord(res) ? res.data : undefined;
    if (!isRecord(data)) throw bad('no "data" object');
    if (!Array.isArray(data.items)) throw bad('"items" is not an array');
    data.items.forEach((item, i) => entries.push(memoryLakeEntry(item, bad, i, parentId ?? null)));
    const next = data.continuation_token;
    if (next === undefined || next === null || next === '') return { entries, complete: true };
    if (typeof next !== 'string') throw bad('"continuation_token" is not a string');
    if (seen.has(next)) {
      throw new LakeupError('server', `MemoryLake sent the same continuation token twice in ${what}: stopped rather than list forever`, {
        code: 'BAD_PAGING',
      });
    }
    seen.add(next);
    token = next;
  }
  return { entries, complete: false };
}

/** One item by id (`data.item`); undefined on 404. */
export async function getItem(api: ApiContext, id: string, opts: LookupOptions = {}): Promise<DriveEntry | undefined> {
  const res = await unlessNotFound(
    apiGet<unknown>(api, { path: `${ITEMS}/${encodeURIComponent(id)}`, what: `look up item ${id}`, signal: opts.signal }),
  );
  if (res === undefined) return undefined;
  const bad = (why: string) => badResponse(api.service, `the lookup of item ${id}`, why);
  const data = isRecord(res) ? res.data : undefined;
  if (!isRecord(data) || !isRecord(data.item)) throw bad('no "data.item" object');
  return memoryLakeEntry(data.item, bad);
}

/**
 * `{item_id, name, type: "file"|"directory", size, etag, parent_item_id, created_at}`; a missing
 * parent is the folder listed (`listedIn`), MY_SPACE is the root (null).
 */
export function memoryLakeEntry(o: unknown, bad: (why: string) => LakeupError, i?: number, listedIn?: string | null): DriveEntry {
  const base = entryBase(o, isRecord(o) ? o.item_id : undefined, bad, i);
  const item = o as Record<string, unknown>;
  const parent = item.parent_item_id;
  return compact({
    ...base,
    type: entryType(item.type),
    size: byteSize(item.size),
    etag: typeof item.etag === 'string' && item.etag !== '' ? item.etag : undefined,
    parentId: parent === MY_SPACE || parent === null ? null : typeof parent === 'string' && parent !== '' ? parent : listedIn,
    xAttrs: stringMap(item.x_attrs),
    createdAt: epochMs(item.created_at),
    updatedAt: epochMs(item.updated_at),
  });
}

/** x_attrs as a string map; anything else (absent, empty, odd values) is none. */
function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined;
  const out = Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
  return Object.keys(out).length > 0 ? out : undefined;
}
