// MemoryLake's drive API: create an upload session (the server decides the part layout), then Create Item (file from
// an upload, or folder); and the lookup calls (memorylake-lookup.ts). Shapes and errors follow docs/providers.md.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { ApiError, dispatchApi, memoryLakeDialect, pathPattern, requireString } from './api.js';
import type { ApiEndpoint } from './api.js';
import { hex, multipartEtag } from './context.js';
import type { SandboxContext, UploadSession } from './context.js';
import { CONFLICT_STRATEGIES, DriveConflict, nameProblem } from './drive.js';
import type { ConflictStrategy, DriveItem, Placed } from './drive.js';
import { isPlainObject, unquote } from './http.js';
import { memoryLakeLayout } from './layout.js';
import { ML_ROOT, mlCreated, mlItemId } from './memorylake-item.js';
import { getItem, listChildren } from './memorylake-lookup.js';
import type { StoredPart } from './parts.js';

export const ML_PREFIX = '/openapi/memorylake/';
const ITEMS_PATH = '/openapi/memorylake/api/v1/drives/items';
const BUCKET = 'memorylake-sandbox';
const INVALID = memoryLakeDialect.invalid;

// `…/items/upload` is both the POST that creates a session and, read as GET, an item id nobody has (404).
const ENDPOINTS: readonly ApiEndpoint[] = [
  { name: 'memorylake.create', method: 'POST', match: pathPattern(`${ITEMS_PATH}/upload`), run: ({ ctx, req, body }) => createUpload(ctx, req, body) },
  { name: 'memorylake.item', method: 'POST', match: pathPattern(ITEMS_PATH), run: ({ ctx, body }) => createItem(ctx, body) },
  { name: 'memorylake.children', method: 'GET', match: pathPattern(`${ITEMS_PATH}/{item_id}/children`), run: listChildren },
  { name: 'memorylake.get', method: 'GET', match: pathPattern(`${ITEMS_PATH}/{item_id}`), run: getItem },
];

export function handleMemoryLake(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  return dispatchApi(ctx, req, res, url, memoryLakeDialect, ENDPOINTS);
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
    account: ctx.account,
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
  const place = { provider: 'memorylake' as const, name, parent, strategy, naming: 'underscore' as const, newId: mlItemId };

  if (type === 'folder') {
    // `deny` refuses any item of that name in the parent, folder or file (DRIVE_ITEM_CONFLICT).
    const { item, created } = conflictAs409(() => ctx.drive.place({ ...place, type: 'folder' }));
    await ctx.mkdirFor(item);
    if (created) ctx.stats.folderCreated({ provider: 'memorylake', name: item.name, id: item.id, parentId: item.parentId });
    return { body: mlCreated(item) };
  }

  const from = body.from;
  if (!isPlainObject(from)) throw new ApiError(400, INVALID, 'from is required for a file: {"upload_id":…,"part_etags":[…]}');
  const uploadId = requireString(from, 'upload_id', INVALID);
  const session = ctx.uploads.get(uploadId);
  if (!session || session.provider !== 'memorylake' || session.state === 'done' || (session.account ?? 0) !== ctx.account) {
    throw new ApiError(404, 'NOT_FOUND', `upload session ${uploadId} not found (unknown, or already used by Create Item)`);
  }
  if (session.state === 'finalizing') throw new ApiError(409, 'UPLOAD_IN_PROGRESS', `upload ${uploadId} is being finalized by another request`);
  const ordered = checkPartEtags(session, from.part_etags);
  // Even a one-part upload is multipart here: its etag is `<md5 of the part md5>-1`.
  const etag = multipartEtag(ordered);
  const { path, value: item } = await ctx.assemble(session, ordered, () => {
    const { item } = conflictAs409(() =>
      ctx.drive.place({ ...place, type: 'file', size: session.fileSize, etag, xAttrs: (xAttrs ?? undefined) as Record<string, string> | undefined }),
    );
    return { dest: ctx.drive.absPath('memorylake', item.relPath), value: item };
  });
  ctx.stats.finalized({ provider: 'memorylake', name: item.name, path, size: session.fileSize!, id: item.id, parentId: item.parentId, etag });
  return { body: mlCreated(item) };
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

function conflictAs409(fn: () => Placed): Placed {
  try {
    return fn();
  } catch (err) {
    if (err instanceof DriveConflict) throw new ApiError(409, 'DRIVE_ITEM_CONFLICT', err.message);
    throw err;
  }
}
