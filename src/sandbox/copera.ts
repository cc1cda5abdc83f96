// Copera's drive API: start a multipart upload, get presigned URLs (again whenever they expire), finalize under S3's
// rules; plus folders. Two answer shapes exist (docs and SDK); see docs/providers.md.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';

import { ApiError, coperaDialect, handleApi, requireString } from './api.js';
import { hex, multipartEtag } from './context.js';
import type { SandboxContext, UploadSession } from './context.js';
import { nameProblem } from './drive.js';
import type { DriveItem } from './drive.js';
import { isPlainObject } from './http.js';
import { checkCompleteList, CompleteError, MAX_OBJECT_SIZE, MAX_PARTS } from './layout.js';
import type { StoredPart } from './parts.js';
import type { CoperaShape } from './types.js';

export const COPERA_PREFIX = '/public/v1/';
const MULTIPART = '/public/v1/drive/files/upload/multipart/';
const FOLDERS_PATH = '/public/v1/drive/folders';
const BUCKET = 'copera-sandbox';
const INVALID = coperaDialect.invalid;
const FOLDER_MIME = 'inode/directory';

/** The sandbox's one Copera user, owner of everything. */
const OWNER = hex(12);

function coperaItem(item: DriveItem, shape: CoperaShape) {
  const mimeType = item.type === 'folder' ? FOLDER_MIME : (item.mimeType ?? 'application/octet-stream');
  const createdAt = item.createdAt.toISOString();
  const updatedAt = item.updatedAt.toISOString();
  return shape === 'sdk'
    ? { id: item.id, name: item.name, type: item.type, mimeType, fileSize: item.size, parentId: item.parentId, createdAt, updatedAt }
    : { _id: item.id, name: item.name, type: item.type, mimeType, size: item.size, parent: item.parentId, owner: OWNER, createdAt, updatedAt };
}

export async function handleCopera(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const shapeOf = (asked: CoperaShape | undefined) => asked ?? ctx.opts.coperaShape;
  switch (path) {
    case `${MULTIPART}start`:
      return handleApi(ctx, req, res, 'copera.start', coperaDialect, ({ body }) => start(ctx, body));
    case `${MULTIPART}presigned-urls`:
      return handleApi(ctx, req, res, 'copera.presign', coperaDialect, ({ body, shape }) => presign(ctx, req, body, shapeOf(shape)));
    case `${MULTIPART}finalize`:
      return handleApi(ctx, req, res, 'copera.finalize', coperaDialect, ({ body, shape }) => finalize(ctx, body, shapeOf(shape)));
    case FOLDERS_PATH:
      return handleApi(ctx, req, res, 'copera.folder', coperaDialect, ({ body, shape }) => createFolder(ctx, body, shapeOf(shape)));
  }
  req.resume();
  await ctx.replyJson(res, 404, coperaDialect.error('NOT_FOUND', `no such endpoint: ${req.method} ${path}`));
}

/** An optional parentId: absent/null for the root, else an existing Copera folder's 24-hex id. */
function parentFolder(ctx: SandboxContext, body: Record<string, unknown>): DriveItem | null {
  const parentId = body.parentId;
  if (parentId === undefined || parentId === null) return null;
  if (typeof parentId !== 'string' || !/^[0-9a-f]{24}$/i.test(parentId)) {
    throw new ApiError(400, INVALID, `parentId must be a 24-character hex id (got ${JSON.stringify(parentId)})`);
  }
  const folder = ctx.drive.folder('copera', parentId);
  if (!folder) throw new ApiError(404, 'NOT_FOUND', `folder ${parentId} not found`);
  return folder;
}

function checkName(name: unknown, field: string): string {
  const problem = nameProblem(name);
  if (problem) throw new ApiError(400, INVALID, `${field}: ${problem}`);
  return name as string;
}

/** The open upload named by uploadId + fileKey. */
function openSession(ctx: SandboxContext, body: Record<string, unknown>): UploadSession {
  const uploadId = requireString(body, 'uploadId', INVALID);
  const fileKey = requireString(body, 'fileKey', INVALID);
  const session = ctx.uploads.get(uploadId);
  if (!session || session.provider !== 'copera' || session.key !== fileKey || session.state === 'done') {
    throw new ApiError(404, 'UPLOAD_NOT_FOUND', 'no open multipart upload with this uploadId and fileKey (unknown, or already finalized)');
  }
  if (session.state === 'finalizing') throw new ApiError(409, 'UPLOAD_IN_PROGRESS', 'this upload is being finalized by another request');
  return session;
}

async function start(ctx: SandboxContext, body: Record<string, unknown>) {
  const fileName = checkName(body.fileName, 'fileName');
  const fileSize = body.fileSize;
  if (typeof fileSize !== 'number' || !Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new ApiError(400, INVALID, `fileSize must be an integer ≥ 0 (got ${JSON.stringify(fileSize)})`);
  }
  if (fileSize > MAX_OBJECT_SIZE) throw new ApiError(400, 'FILE_TOO_LARGE', `fileSize ${fileSize} exceeds the 5 TiB limit`);
  const mimeType = requireString(body, 'mimeType', INVALID);
  const parent = parentFolder(ctx, body);
  const ext = extname(fileName);
  const uploadId = randomBytes(48).toString('base64url');
  const fileKey = `drive/${OWNER}/${hex(12)}${/^\.[A-Za-z0-9]{1,16}$/.test(ext) ? ext.toLowerCase() : ''}`;
  ctx.uploads.set(uploadId, {
    id: uploadId,
    provider: 'copera',
    bucket: BUCKET,
    key: fileKey,
    fileSize,
    parts: new Map(),
    state: 'open',
    fileName,
    mimeType,
    parent,
  });
  ctx.stats.session();
  return { body: { uploadId, fileKey } };
}

async function presign(ctx: SandboxContext, req: IncomingMessage, body: Record<string, unknown>, shape: CoperaShape) {
  const session = openSession(ctx, body);
  const parts = body.parts;
  if (typeof parts !== 'number' || !Number.isInteger(parts) || parts < 1 || parts > MAX_PARTS) {
    throw new ApiError(400, INVALID, `parts must be an integer from 1 to ${MAX_PARTS} (got ${JSON.stringify(parts)})`);
  }
  const origin = ctx.urlOrigin(req);
  const urls = Array.from({ length: parts }, (_, i) =>
    ctx.signer.sign(origin, BUCKET, session.key, { uploadId: session.id, partNumber: String(i + 1) }),
  );
  return { body: shape === 'sdk' ? { parts: urls.map((signedUrl, i) => ({ signedUrl, PartNumber: i + 1 })) } : { urls } };
}

async function finalize(ctx: SandboxContext, body: Record<string, unknown>, shape: CoperaShape) {
  const session = openSession(ctx, body);
  const ordered = checkParts(session, body.parts);
  const total = ordered.reduce((sum, p) => sum + p.size, 0);
  if (total !== session.fileSize) {
    throw new ApiError(400, 'SIZE_MISMATCH', `the parts hold ${total} bytes but fileSize was ${session.fileSize}`);
  }
  const { path, value: item } = await ctx.assemble(session, ordered, () => {
    const item = ctx.drive.place({
      provider: 'copera',
      type: 'file',
      name: session.fileName!,
      parent: session.parent ?? null,
      strategy: 'rename',
      naming: 'paren',
      newId: () => hex(12),
      size: total,
      mimeType: session.mimeType,
    });
    return { dest: ctx.drive.absPath(item.relPath), value: item };
  });
  ctx.stats.finalized({ provider: 'copera', name: item.name, path, size: total, id: item.id, etag: multipartEtag(ordered) });
  return { body: coperaItem(item, shape) };
}

/** Parses the client's part list, then applies S3's CompleteMultipartUpload rules. */
function checkParts(session: UploadSession, parts: unknown): StoredPart[] {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new ApiError(400, INVALID, 'parts must be a non-empty array of {"partNumber":n,"eTag":"…"}');
  }
  if (parts.length > MAX_PARTS) throw new ApiError(400, INVALID, `at most ${MAX_PARTS} parts`);
  const list = parts.map((entry: unknown) => {
    if (!isPlainObject(entry) || !Number.isInteger(entry.partNumber) || typeof entry.eTag !== 'string') {
      throw new ApiError(400, INVALID, `each part must be {"partNumber":<integer>,"eTag":"<string>"} (got ${JSON.stringify(entry)})`);
    }
    const number = entry.partNumber as number;
    if (number < 1 || number > MAX_PARTS) throw new ApiError(400, INVALID, `partNumber ${number} is outside 1–${MAX_PARTS}`);
    return { number, etag: entry.eTag as string };
  });
  try {
    return checkCompleteList(list, session.parts);
  } catch (err) {
    if (!(err instanceof CompleteError)) throw err;
    // InvalidPartOrder → INVALID_PART_ORDER, EntityTooSmall → ENTITY_TOO_SMALL, …
    throw new ApiError(400, err.problem.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(), err.message);
  }
}

async function createFolder(ctx: SandboxContext, body: Record<string, unknown>, shape: CoperaShape) {
  const name = checkName(body.name, 'name');
  const parent = parentFolder(ctx, body);
  const item = ctx.drive.place({ provider: 'copera', type: 'folder', name, parent, strategy: 'rename', naming: 'paren', newId: () => hex(12) });
  await ctx.mkdirFor(item);
  return { body: coperaItem(item, shape) };
}
