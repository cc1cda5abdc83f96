// Copera: we choose the part size; presigned URLs can be asked for again within the same upload,
// which is how expired URLs are replaced without losing finished parts. See docs/providers.md.
import { apiPost, type ApiContext } from '../http/api.js';
import { partUrlsProblem } from '../http/part-url.js';
import { LakeupError } from '../errors.js';
import { plainEtag } from '../util/etag.js';
import type { FinishedPart, Session, UploadedItem } from '../types.js';
import { checkCoperaFolderId } from './copera-ids.js';
import { getFile, listTree, search, TREE_LIMIT } from './copera-listing.js';
import { incompleteLookup } from './drive-entry.js';
import { choosePartSize, splitParts, urlTtlMs } from './layout.js';
import { matchesName } from './names.js';
import type { CreateFolderOptions, DriveEntry, FolderListing, LookupOptions, PlanPreview, Provider, UploadRequest } from './provider.js';

export const COPERA_ORIGIN = 'https://api.copera.ai';
const BASE = '/public/v1/drive';

export class Copera implements Provider {
  readonly name = 'copera' as const;
  readonly service = 'Copera';
  /** Whether folder creation with 'deny' refuses a name that is taken (Copera's behaviour is undocumented). */
  readonly honoursDeny = false;
  /** How the drive's root is called in plans and messages. */
  readonly rootLabel = 'root';
  readonly canRefreshUrls = true;

  constructor(private readonly ctx: Omit<ApiContext, 'service'>) {}

  private get api(): ApiContext {
    return { ...this.ctx, service: this.service };
  }

  preview(req: UploadRequest): PlanPreview {
    const partSize = choosePartSize(req.file.size, req.partSize);
    return {
      serverDecides: false,
      partSize,
      parts: splitParts(req.file.size, partSize).length,
      destination: `${req.dest.parent ?? this.rootLabel}/${req.dest.name}`,
    };
  }

  async createSession(req: UploadRequest): Promise<Session> {
    checkCoperaFolderId(req.dest.parent);
    const partSize = choosePartSize(req.file.size, req.partSize);
    const parts = splitParts(req.file.size, partSize);
    const body: Record<string, unknown> = {
      fileName: req.dest.name,
      fileSize: req.file.size,
      mimeType: req.dest.mimeType ?? 'application/octet-stream',
    };
    if (req.dest.parent !== undefined) body.parentId = req.dest.parent;
    const started = await apiPost<{ uploadId?: unknown; fileKey?: unknown }>(this.api, {
      path: `${BASE}/files/upload/multipart/start`,
      body,
      what: 'start the upload',
      idempotent: true, // an unused multipart upload is harmless
    });
    if (typeof started?.uploadId !== 'string' || typeof started?.fileKey !== 'string' || !started.uploadId) {
      throw new LakeupError('server', 'Copera answered the upload start without uploadId and fileKey', { code: 'BAD_RESPONSE' });
    }
    const now = Date.now();
    const session: Session = { uploadId: started.uploadId, fileKey: started.fileKey, parts, urls: [], urlsIssuedAt: now, createdAt: now };
    Object.assign(session, await this.refreshUrls(session));
    return session;
  }

  async refreshUrls(session: Session): Promise<Pick<Session, 'urls' | 'urlsIssuedAt' | 'urlTtlMs'>> {
    const n = session.parts.length;
    const res = await apiPost<unknown>(this.api, {
      path: `${BASE}/files/upload/multipart/presigned-urls`,
      body: { uploadId: session.uploadId, fileKey: session.fileKey, parts: n },
      what: 'get presigned part URLs',
      idempotent: true,
    });
    const urls = presignedUrls(res, n, this.ctx.endpoint);
    return { urls, urlsIssuedAt: Date.now(), urlTtlMs: urlTtlMs(urls[0]) };
  }

  async finalize(session: Session, parts: FinishedPart[], req: UploadRequest): Promise<UploadedItem> {
    const res = await apiPost<Record<string, unknown>>(this.api, {
      path: `${BASE}/files/upload/multipart/finalize`,
      body: {
        uploadId: session.uploadId,
        fileKey: session.fileKey,
        parts: [...parts].sort((a, b) => a.number - b.number).map((p) => ({ partNumber: p.number, eTag: plainEtag(p.etag) })),
      },
      what: 'finalize the upload',
      idempotent: false,
      finishOnInterrupt: true,
      // S3's CompleteMultipartUpload can take minutes for very large objects.
      timeoutMs: 10 * 60_000,
    });
    const item = driveItem(res, this.service);
    // The server's word on the size must match what we sent: never report a truncated file as done.
    const size = res?.size ?? res?.fileSize;
    if (typeof size === 'number' && size !== req.file.size) {
      throw new LakeupError('integrity', `Copera stored ${size} bytes but the file has ${req.file.size}: the upload is not intact`, {
        code: 'SIZE_MISMATCH',
      });
    }
    return item;
  }

  /** `_opts` is ignored: what Copera does with a taken folder name is not documented. */
  async createFolder(name: string, parent: string | undefined, _opts?: CreateFolderOptions): Promise<{ id: string; name: string }> {
    const body: Record<string, unknown> = { name };
    if (parent !== undefined) body.parentId = parent;
    const res = await apiPost<Record<string, unknown>>(this.api, {
      path: `${BASE}/folders`,
      body,
      what: `create the folder '${name}'`,
      idempotent: false,
    });
    return driveItem(res, this.service);
  }

  async listFolder(parentId: string | undefined, opts?: LookupOptions): Promise<FolderListing> {
    checkCoperaFolderId(parentId);
    return listTree(this.api, parentId, opts);
  }

  getItem(id: string, opts?: LookupOptions): Promise<DriveEntry | undefined> {
    return getFile(this.api, id, opts);
  }

  /**
   * From the listing; when it is incomplete, also from a search for the name, keeping the hits in
   * this folder (a hit that does not say where it is gets looked up by id).
   */
  async findInFolder(parentId: string | undefined, name: string, opts?: LookupOptions): Promise<DriveEntry[]> {
    const listing = await this.listFolder(parentId, opts);
    const found = listing.entries.filter((e) => matchesName(this.name, name, e.name));
    if (listing.complete) return found;
    const { hits, exhaustive } = await search(this.api, name, opts);
    const known = new Set(found.map((e) => e.id));
    let unplaced = 0; // hits with the name whose folder nobody would tell
    for (const hit of hits) {
      if (known.has(hit.id) || !matchesName(this.name, name, hit.name)) continue;
      const entry = hit.parentId === undefined ? await this.getItem(hit.id, opts) : hit;
      if (entry && entry.parentId === undefined) unplaced++;
      if (entry && entry.parentId === (parentId ?? null)) {
        found.push(entry);
        known.add(entry.id);
      }
    }
    if (found.length === 0 && (!exhaustive || unplaced > 0)) {
      const folder = parentId === undefined ? 'the root folder' : `folder ${parentId}`;
      const why = !exhaustive
        ? `the folder holds more than ${TREE_LIMIT} items and the search returned only ${hits.length} of its hits`
        : `the folder holds more than ${TREE_LIMIT} items and ${unplaced} search hit(s) do not say which folder they are in`;
      throw incompleteLookup(this.service, name, folder, why);
    }
    return found;
  }
}


/** Both response shapes: the docs' {"urls":[…]} and the SDK's {"parts":[{"signedUrl","PartNumber"}]}. */
export function presignedUrls(res: unknown, expected: number, apiEndpoint: string): string[] {
  const bad = (why: string) =>
    new LakeupError('server', `Copera returned presigned URLs lakeup cannot use: ${why}`, { code: 'BAD_RESPONSE' });
  const o = (res ?? {}) as { urls?: unknown; parts?: unknown };
  let urls: unknown[];
  if (Array.isArray(o.urls)) {
    urls = o.urls;
  } else if (Array.isArray(o.parts)) {
    const byNumber = new Map<number, unknown>();
    for (const p of o.parts as Array<Record<string, unknown>>) {
      const n = Number(p?.PartNumber ?? p?.partNumber);
      if (!Number.isInteger(n) || byNumber.has(n)) throw bad(`a part number is missing or repeated (${String(n)})`);
      byNumber.set(n, p?.signedUrl ?? p?.url);
    }
    urls = Array.from({ length: byNumber.size }, (_, i) => byNumber.get(i + 1));
  } else {
    throw bad('the answer has neither "urls" nor "parts"');
  }
  if (urls.length !== expected) throw bad(`asked for ${expected} URLs, got ${urls.length}`);
  const why = partUrlsProblem(urls, apiEndpoint);
  if (why) throw bad(why);
  return urls as string[];
}

/** Both finalize shapes: {_id,name,…} and {id,name,…}. */
function driveItem(res: Record<string, unknown> | undefined, service: string): UploadedItem {
  const id = res?._id ?? res?.id;
  const name = res?.name;
  if (typeof id !== 'string' || !id || typeof name !== 'string') {
    throw new LakeupError('server', `${service} did not confirm the file: the answer has no id and name`, { code: 'BAD_RESPONSE' });
  }
  return { id, name, raw: res };
}
