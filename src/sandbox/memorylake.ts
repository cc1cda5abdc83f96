// MemoryLake's drive API: create an upload session (the server decides the part layout), then Create Item (file from
// an upload, or folder). Shapes and errors follow docs/providers.md.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { ApiError, handleApi, memoryLakeDialect, requireString } from './api.js';
import { hex, multipartEtag } from './context.js';
import type { SandboxContext, UploadSession } from './context.js';
import { CONFLICT_STRATEGIES, DriveConflict, nameProblem } from './drive.js';
import type { ConflictStrategy, DriveItem } from './drive.js';
import { isPlainObject, unquote } from './http.js';
import { memoryLakeLayout } from './layout.js';
import type { StoredPart } from './parts.js';

export const ML_PREFIX = '/openapi/memorylake/';
const UPLOAD_PATH = '/openapi/memorylake/api/v1/drives/items/upload';
const ITEMS_PATH = '/openapi/memorylake/api/v1/drives/items';
export const ML_ROOT = 'MY_SPACE';
const BUCKET = 'memorylake-sandbox';
const INVALID = memoryLakeDialect.invalid;

const itemId = () => `sc-${hex(4)}:${hex(12)}`;

function itemData(item: DriveItem) {
  const uri = `drive://${ML_ROOT}/${item.relPath.split('/').map(encodeURIComponent).join('/')}`;
  return { success: true, data: { item_id: item.id, name: item.name, uri } };
}

export async function handleMemoryLake(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (path === UPLOAD_PATH) return handleApi(ctx, req, res, 'memorylake.create', memoryLakeDialect, ({ body }) => createUpload(ctx, req, body));
  if (path === ITEMS_PATH) return handleApi(ctx, req, res, 'memorylake.item', memoryLakeDialect, ({ body }) => createItem(ctx, body));
  req.resume();
  await ctx.replyJson(res, 404, memoryLakeDialect.error('NOT_FOUND', `no such endpoint: ${req.method} ${path}`));
}

async function createUpload(ctx: SandboxContext, req: IncomingMessage, body: Record<string, unknown>) {
  const fileSize = body.file_size;
  if (typeof fileSize !== 'number' || !Number.isSafeInteger(fileSize) || fileSize < 1) {
    throw new ApiError(400, INVALID, `file_size must be an integer ≥ 1 (empty files cannot be uploaded); got ${JSON.stringify(fileSize)}`);
  }
  const id = `upl-${hex(12)}`;
  const session: UploadSession = {
    id,
    provider: 'memorylake',
    bucket: BUCKET,
    key: `uploads/${id}`,
    fileSize,
    layout: memoryLakeLayout(fileSize, ctx.opts.memorylakePartSize),
    parts: new Map(),
    state: 'open',
  };
  ctx.uploads.set(id, session);
  ctx.stats.session();
  const origin = ctx.urlOrigin(req);
  const part_items = session.layout!.map((p) => ({
    number: p.number,
    size: p.size,
    upload_url: ctx.signer.sign(origin, BUCKET, session.key, { uploadId: id, partNumber: String(p.number) }),
  }));
  return { body: { success: true, data: { upload_id: id, part_items } } };
}

async function createItem(ctx: SandboxContext, body: Record<string, unknown>) {
  const type = body.item_type;
  if (type !== 'file' && type !== 'folder') {
    throw new ApiError(400, INVALID, `item_type must be "file" or "folder" (got ${JSON.stringify(type)})`);
  }
  const parentId = requireString(body, 'parent_item_id', INVALID);
  let parent: DriveItem | null = null;
  if (parentId !== ML_ROOT) {
    parent = ctx.drive.folder('memorylake', parentId) ?? null;
    if (!parent) throw new ApiError(404, 'NOT_FOUND', `parent folder ${parentId} not found (use "${ML_ROOT}" for the root)`);
  }
  const problem = nameProblem(body.name);
  if (problem) throw new ApiError(400, INVALID, problem);
  const name = body.name as string;
  const strategy = (body.name_conflict_strategy ?? 'rename') as ConflictStrategy;
  if (!CONFLICT_STRATEGIES.includes(strategy)) {
    throw new ApiError(400, INVALID, `name_conflict_strategy must be one of ${CONFLICT_STRATEGIES.join(', ')} (got ${JSON.stringify(strategy)})`);
  }
  const xAttrs = body.x_attrs;
  if (xAttrs !== undefined && xAttrs !== null && !(isPlainObject(xAttrs) && Object.values(xAttrs).every((v) => typeof v === 'string'))) {
    throw new ApiError(400, INVALID, 'x_attrs must be an object of string values');
  }
  const place = { provider: 'memorylake' as const, name, parent, strategy, naming: 'underscore' as const, newId: itemId };

  if (type === 'folder') {
    const item = conflictAs409(() => ctx.drive.place({ ...place, type: 'folder' }));
    await ctx.mkdirFor(item);
    return { body: itemData(item) };
  }

  const from = body.from;
  if (!isPlainObject(from)) throw new ApiError(400, INVALID, 'from is required for a file: {"upload_id":…,"part_etags":[…]}');
  const uploadId = requireString(from, 'upload_id', INVALID);
  const session = ctx.uploads.get(uploadId);
  if (!session || session.provider !== 'memorylake' || session.state === 'done') {
    throw new ApiError(404, 'NOT_FOUND', `upload session ${uploadId} not found (unknown, or already used by Create Item)`);
  }
  if (session.state === 'finalizing') throw new ApiError(409, 'UPLOAD_IN_PROGRESS', `upload ${uploadId} is being finalized by another request`);
  const ordered = checkPartEtags(session, from.part_etags);
  const { path, value: item } = await ctx.assemble(session, ordered, () => {
    const item = conflictAs409(() =>
      ctx.drive.place({ ...place, type: 'file', size: session.fileSize, xAttrs: (xAttrs ?? undefined) as Record<string, string> | undefined }),
    );
    return { dest: ctx.drive.absPath(item.relPath), value: item };
  });
  ctx.stats.finalized({ provider: 'memorylake', name: item.name, path, size: session.fileSize!, id: item.id, etag: multipartEtag(ordered) });
  return { body: itemData(item) };
}

/** Every layout part listed once with the ETag storage returned, and stored with exactly its layout size. */
function checkPartEtags(session: UploadSession, partEtags: unknown): StoredPart[] {
  const layout = session.layout!;
  if (!Array.isArray(partEtags)) throw new ApiError(400, INVALID, 'from.part_etags must be an array of {"number":n,"etag":"…"}');
  const given = new Map<number, string>();
  for (const entry of partEtags) {
    if (!isPlainObject(entry) || !Number.isInteger(entry.number) || typeof entry.etag !== 'string') {
      throw new ApiError(400, INVALID, `each part_etags entry must be {"number":<integer>,"etag":"<string>"} (got ${JSON.stringify(entry)})`);
    }
    const n = entry.number as number;
    if (n < 1 || n > layout.length) throw new ApiError(400, INVALID, `part ${n} is not in this upload's layout (parts 1–${layout.length})`);
    if (given.has(n)) throw new ApiError(400, INVALID, `part ${n} is listed more than once in part_etags`);
    given.set(n, unquote(entry.etag));
  }
  return layout.map(({ number, size }) => {
    const etag = given.get(number);
    if (etag === undefined) throw new ApiError(400, INVALID, `part_etags lacks part ${number} (the layout has ${layout.length} parts)`);
    const stored = session.parts.get(number);
    if (!stored) throw new ApiError(400, INVALID, `part ${number} was never uploaded`);
    if (stored.size !== size) throw new ApiError(400, INVALID, `part ${number} holds ${stored.size} bytes but the layout says ${size}`);
    if (stored.etag !== etag) throw new ApiError(400, INVALID, `etag for part ${number} does not match what storage returned (got ${etag}, stored ${stored.etag})`);
    return stored;
  });
}

function conflictAs409<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DriveConflict) throw new ApiError(409, 'DRIVE_ITEM_CONFLICT', err.message);
    throw err;
  }
}
