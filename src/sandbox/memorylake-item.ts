// How MemoryLake names and shows drive items: ids, the root, drive:// URIs, and the item of the lookup calls
// (docs/providers.md, "Look items up").
import { hex } from './context.js';
import type { DriveItem } from './drive.js';

/** The root folder's id. */
export const ML_ROOT = 'MY_SPACE';

export const mlItemId = (): string => `sc-${hex(4)}:${hex(12)}`;

export function mlUri(item: DriveItem): string {
  return `drive://${ML_ROOT}/${item.relPath.split('/').map(encodeURIComponent).join('/')}`;
}

/** Create Item's answer: `{item_id, name, uri}` for a file, `{item_id, name}` for a folder (docs/providers.md). */
export function mlCreated(item: DriveItem) {
  const data = item.type === 'folder' ? { item_id: item.id, name: item.name } : { item_id: item.id, name: item.name, uri: mlUri(item) };
  return { success: true, data };
}

/**
 * An item as the lookup calls answer it. `type` is "directory" for a folder (Create Item says "folder"); folders have
 * size 0 and no etag; a file's etag is the multipart `<md5 of part md5s>-<count>`; a root item's parent is MY_SPACE.
 */
export function mlItem(item: DriveItem) {
  return {
    uri: mlUri(item),
    item_id: item.id,
    name: item.name,
    type: item.type === 'folder' ? 'directory' : 'file',
    size: item.type === 'folder' ? 0 : item.size,
    ...(item.type === 'file' && item.etag !== undefined ? { etag: item.etag } : {}),
    parent_item_id: item.parentId ?? ML_ROOT,
    created_at: item.createdAt.toISOString(),
    updated_at: item.updatedAt.toISOString(),
    x_attrs: item.xAttrs ?? {},
  };
}

/** GET of MY_SPACE itself: a directory with no parent and no times (those fields are optional). */
export function mlRootItem() {
  return { uri: `drive://${ML_ROOT}`, item_id: ML_ROOT, name: ML_ROOT, type: 'directory', size: 0, x_attrs: {} };
}
