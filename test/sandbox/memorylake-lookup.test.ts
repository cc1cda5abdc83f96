import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import type { SandboxHandle } from '../../src/sandbox/server.js';
import { api, apiGet, bytes, md5, ML_ITEMS, mlUpload, sandbox, slices } from './helpers.js';

const children = (sb: SandboxHandle, id: string, query = '') => apiGet(sb, `${ML_ITEMS}/${encodeURIComponent(id)}/children${query}`);
const item = (sb: SandboxHandle, id: string) => apiGet(sb, `${ML_ITEMS}/${encodeURIComponent(id)}`);
const folder = async (sb: SandboxHandle, name: string, parent = 'MY_SPACE', extra: Record<string, unknown> = {}) =>
  api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: parent, name, ...extra });

/** S3's multipart ETag computed from the bytes and the layout: md5 of the part md5s, dash, part count. */
function expectedEtag(data: Buffer, layout: { size: number }[]): string {
  const h = createHash('md5');
  for (const part of slices(data, layout as { number: number; size: number }[])) h.update(Buffer.from(md5(part), 'hex'));
  return `${h.digest('hex')}-${layout.length}`;
}

/** Every item of a folder, following continuation tokens; also returns the pages' sizes. */
async function walk(sb: SandboxHandle, id: string, pageSize: number) {
  const items: { item_id: string; name: string }[] = [];
  const pages: number[] = [];
  let token: string | null = null;
  do {
    const q: string = `?page_size=${pageSize}${token ? `&continuation_token=${encodeURIComponent(token)}` : ''}`;
    const r = await children(sb, id, q);
    expect(r.status).toBe(200);
    expect(r.json.success).toBe(true);
    items.push(...r.json.data.items);
    pages.push(r.json.data.items.length);
    token = r.json.data.continuation_token;
    expect(token === null || (typeof token === 'string' && token.length > 0)).toBe(true);
  } while (token !== null);
  return { items, pages };
}

describe('MemoryLake children listing', () => {
  it('walks 1,200 items of one folder in 24 pages of 50, every item exactly once', async () => {
    const sb = await sandbox();
    const dir = (await folder(sb, 'big')).json.data.item_id;
    const seeded = sb.seed(Array.from({ length: 1200 }, (_, i) => ({ provider: 'memorylake' as const, type: 'file' as const, name: `f${i}.bin`, size: i, parentId: dir })));
    const { items, pages } = await walk(sb, dir, 50);
    expect(pages).toEqual(Array(24).fill(50));
    expect(items.map((i) => i.item_id).sort()).toEqual(seeded.map((s) => s.id).sort());
    expect(new Set(items.map((i) => i.name)).size).toBe(1200);
    // Without page_size the page is 50; the order is the same on a second walk.
    const first = await children(sb, dir);
    expect(first.json.data.items).toHaveLength(50);
    expect(first.json.data.items.map((i: { item_id: string }) => i.item_id)).toEqual(items.slice(0, 50).map((i) => i.item_id));
    const odd = await walk(sb, dir, 7);
    expect(odd.pages).toHaveLength(Math.ceil(1200 / 7));
    expect(odd.items.map((i) => i.item_id)).toEqual(items.map((i) => i.item_id));
  });

  it('lists what the upload flow wrote, with the documented item fields', async () => {
    const sb = await sandbox({ memorylakePartSize: 1000 });
    const docs = await folder(sb, 'docs');
    const docsId = docs.json.data.item_id;
    const data = bytes(2500);
    const layout = [{ size: 1000 }, { size: 1000 }, { size: 500 }]; // the layout at memorylakePartSize 1000
    const up = await mlUpload(sb, 'report.pdf', data, { parent_item_id: docsId, x_attrs: { source: 'test' } });
    const small = bytes(10);
    const one = await mlUpload(sb, 'one.txt', small);

    const root = await children(sb, 'MY_SPACE');
    expect(root.status).toBe(200);
    expect(root.json.data.continuation_token).toBeNull();
    const byName = Object.fromEntries(root.json.data.items.map((i: { name: string }) => [i.name, i]));
    expect(Object.keys(byName).sort()).toEqual(['docs', 'one.txt']);
    expect(byName.docs).toEqual({
      uri: 'drive://MY_SPACE/docs',
      item_id: docsId,
      name: 'docs',
      type: 'directory',
      size: 0,
      parent_item_id: 'MY_SPACE',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.any(String),
      x_attrs: {},
    });
    // A single-part upload is still multipart here: `<md5 of the one part md5>-1`.
    expect(byName['one.txt']).toMatchObject({ type: 'file', size: 10, etag: expectedEtag(small, [{ size: 10 }]), item_id: one.json.data.item_id });

    const inDocs = await children(sb, docsId);
    expect(inDocs.json.data.items).toEqual([
      {
        uri: 'drive://MY_SPACE/docs/report.pdf',
        item_id: up.json.data.item_id,
        name: 'report.pdf',
        type: 'file',
        size: 2500,
        etag: expectedEtag(data, layout),
        parent_item_id: docsId,
        created_at: expect.any(String),
        updated_at: expect.any(String),
        x_attrs: { source: 'test' },
      },
    ]);
    expect(expectedEtag(data, layout)).toMatch(/-3$/);
    expect(sb.stats().finalized.find((f) => f.name === 'report.pdf')!.etag).toBe(expectedEtag(data, layout));
  });

  it('refuses page_size outside 1–50, a bad continuation token, and unknown folders or files', async () => {
    const sb = await sandbox();
    const dir = (await folder(sb, 'd')).json.data.item_id;
    sb.seed(Array.from({ length: 3 }, (_, i) => ({ provider: 'memorylake' as const, type: 'file' as const, name: `${i}`, parentId: dir })));
    for (const size of ['0', '51', '-1', 'ten', '', '2.5']) {
      const r = await children(sb, dir, `?page_size=${size}`);
      expect(r.status, size).toBe(400);
      expect(r.json).toEqual({ success: false, message: expect.stringMatching(/page_size/), error_code: 'INVALID_ARGUMENT' });
    }
    expect((await children(sb, dir, '?page_size=1')).json.data.items).toHaveLength(1);
    expect((await children(sb, dir, '?page_size=50')).json.data.items).toHaveLength(3);

    const token = (await children(sb, dir, '?page_size=1')).json.data.continuation_token;
    for (const bad of ['garbage', 'eyJmIjoxfQ', Buffer.from(JSON.stringify({ f: 'MY_SPACE', a: 1 })).toString('base64url')]) {
      const r = await children(sb, dir, `?continuation_token=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.error_code).toBe('INVALID_ARGUMENT');
    }
    // A token belongs to its folder's listing.
    expect((await children(sb, 'MY_SPACE', `?continuation_token=${token}`)).status).toBe(400);

    const file = (await mlUpload(sb, 'x.bin', bytes(5))).json.data.item_id;
    for (const id of [file, 'sc-nope:nope']) {
      const r = await children(sb, id);
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ success: false, message: expect.any(String), error_code: 'NOT_FOUND' });
    }
    const unauth = await apiGet(sb, `${ML_ITEMS}/MY_SPACE/children`, { token: null });
    expect(unauth.status).toBe(401);
    expect(unauth.json.error.type).toBe('authentication_error');
    expect(sb.stats().apiCalls['memorylake.children']).toBeGreaterThan(10);
  });

  it('keeps a listing stable while items are added and replaced during it', async () => {
    const sb = await sandbox({ memorylakePartSize: 1000 });
    sb.seed(Array.from({ length: 5 }, (_, i) => ({ provider: 'memorylake' as const, type: 'file' as const, name: `n${i}`, size: 1 })));
    const page1 = await children(sb, 'MY_SPACE', '?page_size=2');
    const seen = page1.json.data.items.map((i: { name: string }) => i.name);
    // n0 is replaced (new id, listed last) and one file is added while the client pages.
    await mlUpload(sb, 'n0', bytes(3), { name_conflict_strategy: 'replace' });
    await mlUpload(sb, 'late', bytes(3));
    let token = page1.json.data.continuation_token;
    while (token) {
      const r = await children(sb, 'MY_SPACE', `?page_size=2&continuation_token=${token}`);
      seen.push(...r.json.data.items.map((i: { name: string }) => i.name));
      token = r.json.data.continuation_token;
    }
    expect(seen).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n0', 'late']);
  });
});

describe('MemoryLake item lookup', () => {
  it('answers {"success":true,"data":{"item":…}} for files, folders and MY_SPACE; 404 NOT_FOUND when unknown', async () => {
    const sb = await sandbox();
    const dir = (await folder(sb, 'docs')).json.data.item_id;
    const file = await mlUpload(sb, 'a.txt', bytes(20), { parent_item_id: dir });
    const got = await item(sb, file.json.data.item_id);
    expect(got.status).toBe(200);
    expect(got.json).toEqual({ success: true, data: { item: expect.objectContaining({ item_id: file.json.data.item_id, name: 'a.txt', type: 'file', size: 20, parent_item_id: dir, etag: expect.stringMatching(/^[0-9a-f]{32}-1$/) }) } });
    const dirItem = (await item(sb, dir)).json.data.item;
    expect(dirItem).toMatchObject({ type: 'directory', size: 0, name: 'docs' });
    expect(dirItem).not.toHaveProperty('etag');
    expect((await item(sb, 'MY_SPACE')).json.data.item).toMatchObject({ item_id: 'MY_SPACE', type: 'directory' });
    for (const id of ['sc-0000:0000', 'upload']) {
      const r = await item(sb, id);
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ success: false, message: expect.any(String), error_code: 'NOT_FOUND' });
    }
    // Copera's items are not MemoryLake's.
    const [cp] = sb.seed([{ provider: 'copera', type: 'file', name: 'c.txt' }]);
    expect((await item(sb, cp!.id)).status).toBe(404);
    expect(sb.stats().apiCalls['memorylake.get']).toBe(6);
  });

  it('answers 405 with Allow for a method a known path does not take', async () => {
    const sb = await sandbox();
    const r = await api(sb, `${ML_ITEMS}/MY_SPACE/children`, {});
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET');
    expect(r.json.error_code).toBe('METHOD_NOT_ALLOWED');
    expect((await apiGet(sb, ML_ITEMS)).headers.allow).toBe('POST');
  });
});

describe('MemoryLake folder name conflicts', () => {
  it('answers 409 DRIVE_ITEM_CONFLICT for deny when a folder or a file of that name is in the parent', async () => {
    const sb = await sandbox();
    const docs = await folder(sb, 'docs', 'MY_SPACE', { name_conflict_strategy: 'deny' });
    expect(docs.status).toBe(200);
    const again = await folder(sb, 'docs', 'MY_SPACE', { name_conflict_strategy: 'deny' });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ success: false, message: expect.stringContaining('docs'), error_code: 'DRIVE_ITEM_CONFLICT' });
    await mlUpload(sb, 'notes', bytes(3));
    expect((await folder(sb, 'notes', 'MY_SPACE', { name_conflict_strategy: 'deny' })).json.error_code).toBe('DRIVE_ITEM_CONFLICT');
    // Same name elsewhere is fine; rename (the default) still renames.
    expect((await folder(sb, 'docs', docs.json.data.item_id, { name_conflict_strategy: 'deny' })).status).toBe(200);
    expect((await folder(sb, 'docs')).json.data.name).toBe('docs_1');
    const created = sb.stats().foldersCreated;
    expect(created).toEqual([
      { provider: 'memorylake', name: 'docs', id: docs.json.data.item_id, parentId: null },
      { provider: 'memorylake', name: 'docs', id: expect.any(String), parentId: docs.json.data.item_id },
      { provider: 'memorylake', name: 'docs_1', id: expect.any(String), parentId: null },
    ]);
    // A folder handed back for overwrite is not a new folder.
    expect((await folder(sb, 'docs', 'MY_SPACE', { name_conflict_strategy: 'overwrite' })).json.data.item_id).toBe(docs.json.data.item_id);
    expect(sb.stats().foldersCreated).toHaveLength(3);
  });
});
