// How Copera shows drive items, in both shapes seen (docs/providers.md): the docs' `_id`/`size`/`parent`/`owner` and
// the Node SDK's `id`/`fileSize`/`parentId`.
import { hex } from './context.js';
import type { DriveItem } from './drive.js';
import type { CoperaShape } from './types.js';

const FOLDER_MIME = 'inode/directory';

/** The sandbox's one Copera user, owner of everything. */
export const COPERA_OWNER = hex(12);

/** Copera ids are 24 hex characters. */
export const coperaId = (): string => hex(12);
export const isCoperaId = (s: string): boolean => /^[0-9a-f]{24}$/i.test(s);

export function coperaItem(item: DriveItem, shape: CoperaShape) {
  const mimeType = item.type === 'folder' ? FOLDER_MIME : (item.mimeType ?? 'application/octet-stream');
  const createdAt = item.createdAt.toISOString();
  const updatedAt = item.updatedAt.toISOString();
  return shape === 'sdk'
    ? { id: item.id, name: item.name, type: item.type, mimeType, fileSize: item.size, parentId: item.parentId, createdAt, updatedAt }
    : { _id: item.id, name: item.name, type: item.type, mimeType, size: item.size, parent: item.parentId, owner: COPERA_OWNER, createdAt, updatedAt };
}
