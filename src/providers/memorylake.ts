// MemoryLake: the server decides the layout when the session is created; there is no call to
// re-sign URLs, so an expired session is replaced by a new one. See docs/providers.md.
import { apiPost, type ApiContext } from '../http/api.js';
import { LakeupError } from '../errors.js';
import { plainEtag } from '../util/etag.js';
import type { FinishedPart, Session, UploadedItem } from '../types.js';
import { incompleteLookup } from './drive-entry.js';
import { checkServerLayout, urlTtlMs } from './layout.js';
import { getItem, listChildren, MAX_PAGES, PAGE_SIZE } from './memorylake-listing.js';
import { matchesName } from './names.js';
import type { CreateFolderOptions, DriveEntry, FolderListing, LookupOptions, PlanPreview, Provider, UploadRequest } from './provider.js';

export const MEMORYLAKE_ORIGIN = 'https://app.memorylake.ai';
const BASE = '/openapi/memorylake/api/v1';

interface Wrapped<T> {
  success?: boolean;
  data?: T;
}

interface CreateSessionData {
  upload_id?: unknown;
  part_items?: unknown;
}

interface ItemData {
  item_id?: unknown;
  name?: unknown;
  uri?: unknown;
}

export class MemoryLake implements Provider {
  readonly name = 'memorylake' as const;
  readonly service = 'MemoryLake';
  /** Whether folder creation with 'deny' refuses a name that is taken (Copera's behaviour is undocumented). */
  readonly honoursDeny = true;
  /** How the drive's root is called in plans and messages. */
  readonly rootLabel = 'MY_SPACE';
  readonly canRefreshUrls = false;

  constructor(private readonly ctx: Omit<ApiContext, 'service'>) {}

  private get api(): ApiContext {
    return { ...this.ctx, service: this.service };
  }

  preview(req: UploadRequest): PlanPreview {
    return { serverDecides: true, destination: `${req.dest.parent ?? this.rootLabel}/${req.dest.name}` };
  }

  async createSession(req: UploadRequest): Promise<Session> {
    if (req.file.size < 1) throw new LakeupError('input', 'MemoryLake cannot store empty files (file_size must be ≥ 1)');
    const res = await apiPost<Wrapped<CreateSessionData>>(this.api, {
      path: `${BASE}/drives/items/upload`,
      body: { file_size: req.file.size },
      what: 'create the upload session',
      idempotent: true, // an extra session only reserves storage that expires unused
    });
    const data = res?.data;
    if (!data || typeof data.upload_id !== 'string' || data.upload_id === '') {
      throw new LakeupError('server', 'MemoryLake answered the upload session request without an upload_id', {
        code: 'BAD_RESPONSE',
      });
    }
    const { parts, urls } = checkServerLayout(data.part_items, req.file.size, this.service, this.ctx.endpoint);
    const now = Date.now();
    return { uploadId: data.upload_id, parts, urls, urlsIssuedAt: now, urlTtlMs: urlTtlMs(urls[0]), createdAt: now };
  }

  async finalize(session: Session, parts: FinishedPart[], req: UploadRequest): Promise<UploadedItem> {
    const body: Record<string, unknown> = {
      item_type: 'file',
      parent_item_id: req.dest.parent ?? 'MY_SPACE',
      name: req.dest.name,
      from: {
        upload_id: session.uploadId,
        part_etags: [...parts].sort((a, b) => a.number - b.number).map((p) => ({ number: p.number, etag: plainEtag(p.etag) })),
      },
      name_conflict_strategy: req.dest.onConflict ?? 'rename',
    };
    if (req.attrs) body.x_attrs = req.attrs;
    const res = await apiPost<Wrapped<ItemData>>(this.api, {
      path: `${BASE}/drives/items`,
      body,
      what: `create the file item '${req.dest.name}'`,
      idempotent: false,
      finishOnInterrupt: true,
      // S3's CompleteMultipartUpload can take minutes for very large objects.
      timeoutMs: 10 * 60_000,
    });
    return itemFrom(res, this.service);
  }

  /** With onConflict 'deny', a taken name fails with a 'conflict' LakeupError (409 DRIVE_ITEM_CONFLICT). */
  async createFolder(name: string, parent: string | undefined, opts: CreateFolderOptions = {}): Promise<{ id: string; name: string }> {
    const res = await apiPost<Wrapped<ItemData>>(this.api, {
      path: `${BASE}/drives/items`,
      body: { item_type: 'folder', parent_item_id: parent ?? 'MY_SPACE', name, name_conflict_strategy: opts.onConflict ?? 'rename' },
      what: `create the folder '${name}'`,
      idempotent: false,
    });
    return itemFrom(res, this.service);
  }

  listFolder(parentId: string | undefined, opts?: LookupOptions): Promise<FolderListing> {
    return listChildren(this.api, parentId, opts);
  }

  getItem(id: string, opts?: LookupOptions): Promise<DriveEntry | undefined> {
    return getItem(this.api, id, opts);
  }

  /** MemoryLake has no search: the listing is all there is. */
  async findInFolder(parentId: string | undefined, name: string, opts?: LookupOptions): Promise<DriveEntry[]> {
    const listing = await this.listFolder(parentId, opts);
    const found = listing.entries.filter((e) => matchesName(this.name, name, e.name));
    if (found.length === 0 && !listing.complete) {
      const folder = parentId === undefined ? 'the root folder' : `folder ${parentId}`;
      const cap = (MAX_PAGES * PAGE_SIZE).toLocaleString('en-US');
      throw incompleteLookup(this.service, name, folder, `the folder holds more than ${cap} items and MemoryLake has no search`);
    }
    return found;
  }
}

function itemFrom(res: Wrapped<ItemData>, service: string): UploadedItem {
  const d = res?.data;
  if (res?.success !== true || !d || typeof d.item_id !== 'string' || typeof d.name !== 'string') {
    throw new LakeupError('server', `${service} did not confirm the item: the answer has no success, item_id and name`, {
      code: 'BAD_RESPONSE',
    });
  }
  return { id: d.item_id, name: d.name, raw: d };
}
