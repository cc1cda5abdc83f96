// TEST CONTROL (SandboxHandle.seed, POST /_sandbox/seed), not a provider call: places items straight into the drive so
// a test can list 1,200 files without uploading them. Seeded items live in the same Drive the upload and folder calls
// write, so listing, lookup and search cannot tell them apart; they are not counted as finalized or created, and a
// seeded file has no bytes on disk.
import { coperaId, isCoperaId } from './copera-item.js';
import type { SandboxContext } from './context.js';
import { hex } from './context.js';
import { DriveConflict, nameProblem } from './drive.js';
import type { DriveItem } from './drive.js';
import { isPlainObject } from './http.js';
import { ML_ROOT, mlItemId } from './memorylake-item.js';
import type { SeededItem, SeedItem } from './types.js';

const KEYS = ['provider', 'type', 'name', 'parentId', 'id', 'size', 'etag', 'mimeType', 'xAttrs', 'createdAt'];

/** Checks one seed item (from code or JSON); throws a one-line message naming the item on anything odd. */
function validateSeedItem(input: unknown, i: number): SeedItem {
  const fail = (message: string): never => {
    throw new TypeError(`seed item ${i}: ${message}`);
  };
  if (!isPlainObject(input)) return fail('must be an object like {"provider":"copera","type":"file","name":"a.txt"}');
  const unknown = Object.keys(input).find((k) => !KEYS.includes(k));
  if (unknown) fail(`unknown field "${unknown}" (known: ${KEYS.join(', ')})`);
  const { provider, type, name, parentId, id, size, etag, mimeType, xAttrs, createdAt } = input;
  if (provider !== 'memorylake' && provider !== 'copera') fail(`provider must be "memorylake" or "copera" (got ${JSON.stringify(provider)})`);
  if (type !== 'file' && type !== 'folder') fail(`type must be "file" or "folder" (got ${JSON.stringify(type)})`);
  const problem = nameProblem(name);
  if (problem) fail(problem);
  if (parentId !== undefined && parentId !== null && (typeof parentId !== 'string' || parentId === '')) fail('parentId must be a folder id or null');
  if (id !== undefined) {
    const ok = typeof id === 'string' && (provider === 'copera' ? isCoperaId(id) : /^[^/\s]+$/.test(id) && id !== ML_ROOT);
    if (!ok) fail(`id ${JSON.stringify(id)} is not a ${provider === 'copera' ? '24-hex Copera id' : 'usable MemoryLake item id'}`);
  }
  if (type === 'folder' && (size !== undefined || etag !== undefined || mimeType !== undefined)) fail('size, etag and mimeType only apply to files');
  if (size !== undefined && !(Number.isSafeInteger(size) && (size as number) >= 0)) fail(`size must be an integer ≥ 0 (got ${JSON.stringify(size)})`);
  if (etag !== undefined && (typeof etag !== 'string' || etag === '')) fail('etag must be a non-empty string');
  if (mimeType !== undefined && (typeof mimeType !== 'string' || mimeType === '')) fail('mimeType must be a non-empty string');
  if (xAttrs !== undefined && !(isPlainObject(xAttrs) && Object.values(xAttrs).every((v) => typeof v === 'string'))) fail('xAttrs must be an object of strings');
  if (createdAt !== undefined && ((typeof createdAt !== 'string' && typeof createdAt !== 'number') || Number.isNaN(new Date(createdAt).getTime()))) {
    fail(`createdAt must be an ISO 8601 string or epoch ms (got ${JSON.stringify(createdAt)})`);
  }
  return input as unknown as SeedItem;
}

/** Places every item in order (an item may name an earlier one as parent); all or nothing. */
export function seedDrive(ctx: SandboxContext, input: unknown): SeededItem[] {
  if (!Array.isArray(input)) throw new TypeError('seed takes an array of items');
  const items = input.map(validateSeedItem);
  const placed: DriveItem[] = [];
  try {
    for (const [i, s] of items.entries()) {
      const parent = s.parentId ? ctx.drive.folder(s.provider, s.parentId) : null;
      if (parent === undefined) throw new TypeError(`seed item ${i}: parent folder ${s.parentId} not found among ${s.provider} folders`);
      if (s.id !== undefined && ctx.drive.hasId(s.id)) throw new TypeError(`seed item ${i}: id ${s.id} is taken`);
      const newId = s.id !== undefined ? () => s.id! : s.provider === 'copera' ? coperaId : mlItemId;
      try {
        const { item } = ctx.drive.place({
          provider: s.provider,
          type: s.type,
          name: s.name,
          parent,
          strategy: 'deny',
          naming: 'underscore',
          newId,
          size: s.size,
          etag: s.type === 'file' ? (s.etag ?? `${hex(16)}-1`) : undefined,
          mimeType: s.mimeType,
          xAttrs: s.xAttrs,
          createdAt: s.createdAt === undefined ? undefined : new Date(s.createdAt),
        });
        placed.push(item);
      } catch (err) {
        throw err instanceof DriveConflict ? new TypeError(`seed item ${i}: ${err.message}`) : err;
      }
    }
  } catch (err) {
    for (const item of placed.reverse()) ctx.drive.remove(item);
    throw err;
  }
  return placed.map((item) => ({ id: item.id, name: item.name }));
}
