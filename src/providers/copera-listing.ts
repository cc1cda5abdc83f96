// Copera lookups: one folder's children from the tree call, one item by id, and the full-text
// search that stands in when a folder has more children than one tree answer holds. Items come in
// two spellings (the docs' `_id`/`size`/`parent`, the SDK's `id`/`fileSize`/`parentId`): both are
// read everywhere. See docs/providers.md.
import { apiGet, type ApiContext } from '../http/api.js';
import type { LakeupError } from '../errors.js';
import { badResponse, byteSize, compact, entryBase, entryType, epochMs, isRecord, unlessNotFound } from './drive-entry.js';
import type { DriveEntry, FolderListing, LookupOptions } from './provider.js';

const DRIVE = '/public/v1/drive';
/** Items in one tree answer at most. */
export const TREE_LIMIT = 500;
export const SEARCH_LIMIT = 50;

/**
 * The direct children of a folder (undefined: the root): `GET /drive/tree?parentId=…&depth=1`, one
 * call. How truncation reads (undocumented; the sandbox does the same): items are taken
 * breadth-first, so a folder's own children come before any deeper item, and `nextParentIds`
 * names the folders whose children were not all returned. Asking again with one of our child
 * folders would list grandchildren, and asking again with the folder itself returns the same first
 * 500 (there is no cursor), so a listing is never continued: it is complete unless the answer was
 * truncated at our own level, i.e. unless `nextParentIds` names anything but a child folder it
 * returned (the folder itself, a root placeholder, nothing at all) or the answer is full.
 */
export async function listTree(api: ApiContext, parentId: string | undefined, opts: LookupOptions = {}): Promise<FolderListing> {
  const res = await apiGet<unknown>(api, {
    path: `${DRIVE}/tree`,
    query: { parentId, depth: 1 },
    what: parentId === undefined ? 'list the root folder' : `list folder ${parentId}`,
    signal: opts.signal,
  });
  return treeListing(res, parentId, api.service);
}

/** Reads a tree answer `{root:[…], totalItems, truncated, nextParentIds}` for the folder asked about. */
export function treeListing(res: unknown, parentId: string | undefined, service: string): FolderListing {
  const bad = (why: string) =>
    badResponse(service, parentId === undefined ? 'the listing of the root folder' : `the listing of folder ${parentId}`, why);
  if (!isRecord(res)) throw bad('the answer is not an object');
  if (!Array.isArray(res.root)) throw bad('"root" is not an array');
  let items: unknown[] = res.root;
  // Some answers may nest the folder asked about at the top with its children under it: an item is
  // never its own child, so a single top item with the folder's id is the folder, not a child.
  const only = items.length === 1 && isRecord(items[0]) ? items[0] : undefined;
  if (parentId !== undefined && only && (only._id ?? only.id) === parentId) {
    if (only.children !== undefined && !Array.isArray(only.children)) throw bad('"children" is not an array');
    items = (only.children as unknown[] | undefined) ?? [];
  }
  const entries = items.map((item, i) => coperaEntry(item, bad, i, parentId ?? null));
  if (res.truncated !== true) return { entries, complete: true };
  const childFolders = new Set(entries.filter((e) => e.type === 'folder').map((e) => e.id));
  const next = res.nextParentIds;
  const onlyDeeper = Array.isArray(next) && next.length > 0 && next.every((id) => typeof id === 'string' && childFolders.has(id));
  return { entries, complete: onlyDeeper && entries.length < TREE_LIMIT };
}

/** One item by id; undefined on 404. */
export async function getFile(api: ApiContext, id: string, opts: LookupOptions = {}): Promise<DriveEntry | undefined> {
  const res = await unlessNotFound(
    apiGet<unknown>(api, { path: `${DRIVE}/files/${encodeURIComponent(id)}`, what: `look up item ${id}`, signal: opts.signal }),
  );
  if (res === undefined) return undefined;
  return coperaEntry(res, (why) => badResponse(api.service, `the lookup of item ${id}`, why));
}

export interface SearchResult {
  /** Each hit's parentId is undefined when the hit did not say where it is. */
  hits: DriveEntry[];
  /** Whether these are all the hits (the search returns at most 50). */
  exhaustive: boolean;
}

/** Full-text search over the whole drive: `GET /drive/search?q=…&limit=50` → `{hits, totalHits, query}`. */
export async function search(api: ApiContext, q: string, opts: LookupOptions = {}): Promise<SearchResult> {
  const res = await apiGet<unknown>(api, {
    path: `${DRIVE}/search`,
    query: { q, limit: SEARCH_LIMIT },
    what: `search the drive for '${q}'`,
    signal: opts.signal,
  });
  const bad = (why: string) => badResponse(api.service, `the search for '${q}'`, why);
  if (!isRecord(res)) throw bad('the answer is not an object');
  if (!Array.isArray(res.hits)) throw bad('"hits" is not an array');
  const hits = res.hits.map((hit, i) => coperaEntry(hit, bad, i));
  const total = res.totalHits;
  const exhaustive = typeof total === 'number' ? total <= hits.length : hits.length < SEARCH_LIMIT;
  return { hits, exhaustive };
}

/**
 * `{_id|id, name, type, size|fileSize, parent|parentId, createdAt}`. A parent that is null or empty
 * is the root (null); an absent one is the folder listed (`listedIn`), or unknown (undefined).
 */
export function coperaEntry(o: unknown, bad: (why: string) => LakeupError, i?: number, listedIn?: string | null): DriveEntry {
  const item = isRecord(o) ? o : {};
  const base = entryBase(o, item._id ?? item.id, bad, i);
  const has = (k: string) => Object.prototype.hasOwnProperty.call(item, k);
  const parent = has('parent') ? item.parent : has('parentId') ? item.parentId : undefined;
  return compact({
    ...base,
    type: entryType(item.type),
    size: byteSize(item.size ?? item.fileSize),
    parentId: parent === undefined ? listedIn : parentOf(parent),
    createdAt: epochMs(item.createdAt),
    updatedAt: epochMs(item.updatedAt),
  });
}

/** A parent field: an id, null or '' for the root, or a populated object carrying an id. */
function parentOf(v: unknown): string | null | undefined {
  if (v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (isRecord(v)) {
    const id = v._id ?? v.id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  }
  return undefined;
}
