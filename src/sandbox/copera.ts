// Copera's drive API: start a multipart upload, get presigned URLs (again whenever they expire), finalize under S3's
// rules; plus folders, and the lookup calls (copera-lookup.ts). Two answer shapes exist (docs and SDK); see
// docs/providers.md.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';

import { ApiError, coperaDialect, dispatchApi, pathPattern, requireString } from './api.js';
import type { ApiEndpoint } from './api.js';
import { COPERA_OWNER, coperaId, coperaItem, isCoperaId } from './copera-item.js';
import { getFile, search, tree } from './copera-lookup.js';
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
const BUCKET = 'copera-sandbox';
const INVALID = coperaDialect.invalid;

const ENDPOINTS: readonly ApiEndpoint[] = [
  { name: 'copera.start', method: 'POST', match: pathPattern(`${MULTIPART}start`), run: ({ ctx, body }) => start(ctx, body) },
  { name: 'copera.presign', method: 'POST', match: pathPattern(`${MULTIPART}presigned-urls`), run: ({ ctx, req, body, shape }) => presign(ctx, req, body, shape) },
  { name: 'copera.finalize', method: 'POST', match: pathPattern(`${MULTIPART}finalize`), run: ({ ctx, body, shape }) => finalize(ctx, body, shape) },
  { name: 'copera.folder', method: 'POST', match: pathPattern('/public/v1/drive/folders'), run: ({ ctx, body, shape }) => createFolder(ctx, body, shape) },
  { name: 'copera.tree', method: 'GET', match: pathPattern('/public/v1/drive/tree'), run: tree },
  { name: 'copera.get', method: 'GET', match: pathPattern('/public/v1/drive/files/{id}'), run: getFile },
  { name: 'copera.search', method: 'GET', match: pathPattern('/public/v1/drive/search'), run: search },
];

export function handleCopera(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  return dispatchApi(ctx, req, res, url, coperaDialect, ENDPOINTS);
}

/** An optional parentId: absent/null for the root, else an existing Copera folder's 24-hex id. */
function parentFolder(ctx: SandboxContext, body: Record<string, unknown>): DriveItem | null {
  const parentId = body.parentId;
  if (parentId === undefined || parentId === null) return null;
  if (typeof parentId !== 'string' || !isCoperaId(parentId)) {
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
  if (!session || session.provider !== 'copera' || session.key !== fileKey || session.state === 'done' || (session.account ?? 0) !== ctx.account) {
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
  const fileKey = `drive/${COPERA_OWNER}/${hex(12)}${/^\.[A-Za-z0-9]{1,16}$/.test(ext) ? ext.toLowerCase() : ''}`;
  ctx.uploads.set(uploadId, {
    id: uploadId,
    provider: 'copera',
    bucket: BUCKET,
    key: fileKey,
    fileSize,
    parts: new Map(),
    state: 'open',
    account: ctx.account,
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
  const etag = multipartEtag(ordered);
  const { path, value: item } = await ctx.assemble(session, ordered, () => {
    const { item } = ctx.drive.place({
      provider: 'copera',
      type: 'file',
      name: session.fileName!,
      parent: session.parent ?? null,
      strategy: 'rename',
      naming: 'paren',
      newId: coperaId,
      size: total,
      etag,
      mimeType: session.mimeType,
    });
    return { dest: ctx.drive.absPath('copera', item.relPath), value: item };
  });
  ctx.stats.finalized({ provider: 'copera', name: item.name, path, size: total, id: item.id, parentId: item.parentId, etag });
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

/**
 * What Copera does with a duplicate folder name is not documented (docs/providers.md); the sandbox renames it
 * `name (1)` like a duplicate file, so a client that needs one folder per name must look before it creates.
 */
async function createFolder(ctx: SandboxContext, body: Record<string, unknown>, shape: CoperaShape) {
  const name = checkName(body.name, 'name');
  const parent = parentFolder(ctx, body);
  const { item } = ctx.drive.place({ provider: 'copera', type: 'folder', name, parent, strategy: 'rename', naming: 'paren', newId: coperaId });
  await ctx.mkdirFor(item);
  ctx.stats.folderCreated({ provider: 'copera', name: item.name, id: item.id, parentId: item.parentId });
  return { body: coperaItem(item, shape) };
}
