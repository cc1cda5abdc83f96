import { describe, expect, it } from 'vitest';

import type { SandboxHandle, SeedItem } from '../../src/sandbox/server.js';
import { api, apiGet, bytes, coperaUpload, CP_FILES, CP_FOLDERS, CP_SEARCH, CP_TREE, sandbox } from './helpers.js';

interface Node {
  _id: string;
  name: string;
  type: string;
  hasChildren: boolean;
  children: Node[];
}

const tree = (sb: SandboxHandle, query = '', headers: Record<string, string> = {}) => apiGet(sb, `${CP_TREE}${query}`, { headers });
const folder = async (sb: SandboxHandle, name: string, parentId?: string): Promise<string> => {
  const r = await api(sb, CP_FOLDERS, { name, ...(parentId ? { parentId } : {}) });
  expect(r.status).toBe(200);
  return r.json._id;
};
const files = (parentId: string, n: number, prefix: string): SeedItem[] =>
  Array.from({ length: n }, (_, i) => ({ provider: 'copera', type: 'file', name: `${prefix}-${i}.txt`, size: i + 1, parentId }));

/** Every node of a tree answer, depth-first. */
function flatten(nodes: Node[]): Node[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

describe('Copera tree', () => {
  it('caps a depth-2 tree of 3 folders × 400 files at 500 items, breadth-first; following nextParentIds finds every item', async () => {
    const sb = await sandbox();
    const top = await folder(sb, 'top');
    const subs = [await folder(sb, 's1', top), await folder(sb, 's2', top), await folder(sb, 's3', top)];
    const seeded = sb.seed(subs.flatMap((s, i) => files(s, 400, `s${i + 1}`)));

    const r = await tree(sb, `?parentId=${top}&depth=2`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ totalItems: 500, truncated: true, nextParentIds: [subs[1], subs[2]] });
    const root: Node[] = r.json.root;
    expect(root.map((n) => [n.name, n.type, n.hasChildren])).toEqual([['s1', 'folder', true], ['s2', 'folder', true], ['s3', 'folder', true]]);
    expect(root.map((n) => n.children.length)).toEqual([400, 97, 0]);
    expect(flatten(root)).toHaveLength(500);
    expect(root[0]!.children[0]).toMatchObject({ name: 's1-0.txt', type: 'file', hasChildren: false, children: [], size: 1, parent: subs[0] });
    expect(root[1]!.children.map((n) => n.name)).toEqual(Array.from({ length: 97 }, (_, i) => `s2-${i}.txt`)); // creation order

    const found = new Set(flatten(root).filter((n) => n.type === 'file').map((n) => n._id));
    for (const id of r.json.nextParentIds as string[]) {
      const more = await tree(sb, `?parentId=${id}`);
      expect(more.json).toMatchObject({ totalItems: 400, truncated: false, nextParentIds: [] });
      for (const n of flatten(more.json.root)) found.add(n._id);
    }
    expect([...found].sort()).toEqual(seeded.map((s) => s.id).sort());
  });

  it('lists a folder whose own children exceed 500 in its nextParentIds and answers the same 500 again: no cursor', async () => {
    const sb = await sandbox();
    const flat = await folder(sb, 'flat');
    const seeded = sb.seed(files(flat, 1200, 'f'));
    const first = await tree(sb, `?parentId=${flat}`);
    expect(first.json).toMatchObject({ totalItems: 500, truncated: true, nextParentIds: [flat] });
    expect(first.json.root.map((n: Node) => n._id)).toEqual(seeded.slice(0, 500).map((s) => s.id));
    const again = await tree(sb, `?parentId=${flat}&depth=10`);
    expect(again.json).toEqual(first.json);
    // What the tree cannot reach, search by name can.
    const late = await apiGet(sb, `${CP_SEARCH}?q=f-1000.txt`);
    expect(late.json.hits.map((h: Node) => h._id)).toEqual([seeded[1000]!.id]);
  });

  it('walks the root without parentId, to the depth asked, and shows what the upload flow wrote', async () => {
    const sb = await sandbox();
    const a = await folder(sb, 'a');
    const b = await folder(sb, 'b', a);
    const up = await coperaUpload(sb, 'deep.txt', bytes(12), b);
    const top = await coperaUpload(sb, 'top.txt', bytes(3));
    await folder(sb, 'empty');

    const one = await tree(sb);
    expect(one.json).toEqual({
      root: [
        expect.objectContaining({ _id: a, name: 'a', type: 'folder', hasChildren: true, children: [], parent: null, size: 0 }),
        { ...top.json, hasChildren: false, children: [] },
        expect.objectContaining({ name: 'empty', hasChildren: false, children: [] }),
      ],
      totalItems: 3,
      truncated: false,
      nextParentIds: [],
    });
    const three = await tree(sb, '?depth=3');
    expect(three.json.totalItems).toBe(5);
    expect(three.json.root[0].children[0]).toMatchObject({ _id: b, hasChildren: true });
    expect(three.json.root[0].children[0].children).toEqual([{ ...up.json, hasChildren: false, children: [] }]);
    expect(sb.stats().apiCalls['copera.tree']).toBe(2);
  });

  it('refuses a depth outside 1–10 and a malformed parentId (400), an unknown folder or a file (404)', async () => {
    const sb = await sandbox();
    const [file] = sb.seed([{ provider: 'copera', type: 'file', name: 'x' }]);
    for (const q of ['?depth=0', '?depth=11', '?depth=two', '?depth=', '?parentId=xyz']) {
      const r = await tree(sb, q);
      expect(r.status, q).toBe(400);
      expect(r.json).toEqual({ error: expect.any(String), code: 'VALIDATION_ERROR' });
    }
    for (const id of ['a'.repeat(24), file!.id]) {
      const r = await tree(sb, `?parentId=${id}`);
      expect(r.status).toBe(404);
      expect(r.json).toEqual({ error: expect.any(String), code: 'NOT_FOUND' });
    }
    expect((await tree(sb, '?depth=10')).status).toBe(200);
    expect((await apiGet(sb, CP_TREE, { token: 'cp_pat_nope' })).json.code).toBe('UNAUTHORIZED');
  });

  it('answers in the SDK shape when asked by header, option or script', async () => {
    const sb = await sandbox();
    const dir = await folder(sb, 'd');
    sb.seed([{ provider: 'copera', type: 'file', name: 'f.pdf', parentId: dir, size: 7, mimeType: 'application/pdf' }]);
    const sdkNode = (r: { json: { root: unknown[] } }) => r.json.root[0];
    const expected = {
      id: dir,
      name: 'd',
      type: 'folder',
      mimeType: expect.any(String),
      fileSize: 0,
      parentId: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      hasChildren: true,
      children: [
        { id: expect.stringMatching(/^[0-9a-f]{24}$/), name: 'f.pdf', type: 'file', mimeType: 'application/pdf', fileSize: 7, parentId: dir, createdAt: expect.any(String), updatedAt: expect.any(String), hasChildren: false, children: [] },
      ],
    };
    expect(sdkNode(await tree(sb, '?depth=2', { 'x-sandbox-shape': 'sdk' }))).toEqual(expected);
    sb.script({ route: 'copera.tree', shape: 'sdk' });
    expect(sdkNode(await tree(sb, '?depth=2'))).toEqual(expected);
    expect(sdkNode(await tree(sb, '?depth=2'))).toHaveProperty('_id', dir);
    const sdkDefault = await sandbox({ coperaShape: 'sdk' });
    await api(sdkDefault, CP_FOLDERS, { name: 'z' });
    expect(sdkNode(await tree(sdkDefault))).toMatchObject({ id: expect.any(String), name: 'z', fileSize: 0, hasChildren: false });
  });
});

describe('Copera file lookup', () => {
  it('answers the item a finalize answered, in either shape; folders too; 404 when unknown', async () => {
    const sb = await sandbox();
    const done = await coperaUpload(sb, 'r.txt', bytes(9));
    const got = await apiGet(sb, `${CP_FILES}/${done.json._id}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(done.json);
    const sdk = await apiGet(sb, `${CP_FILES}/${done.json._id}`, { headers: { 'x-sandbox-shape': 'sdk' } });
    expect(sdk.json).toMatchObject({ id: done.json._id, fileSize: 9, parentId: null });
    expect(sdk.json).not.toHaveProperty('_id');
    const dir = await folder(sb, 'f');
    expect((await apiGet(sb, `${CP_FILES}/${dir}`)).json).toMatchObject({ _id: dir, type: 'folder' });
    for (const id of ['b'.repeat(24), 'not-an-id', 'upload']) {
      const r = await apiGet(sb, `${CP_FILES}/${id}`);
      expect(r.status, id).toBe(404);
      expect(r.json).toEqual({ error: expect.any(String), code: 'NOT_FOUND' });
    }
    expect(sb.stats().apiCalls['copera.get']).toBe(6);
  });
});

describe('Copera search', () => {
  it('matches names case-insensitively over the whole drive, newest first, limit 1–50 (default 20)', async () => {
    const sb = await sandbox();
    const dir = await folder(sb, 'Reports');
    const t0 = Date.parse('2025-01-01T00:00:00Z');
    sb.seed([
      ...Array.from({ length: 30 }, (_, i): SeedItem => ({ provider: 'copera', type: 'file', name: `Report-${i}.PDF`, parentId: dir, createdAt: t0 + i * 1000 })),
      { provider: 'copera', type: 'file', name: 'other.txt' },
      { provider: 'memorylake', type: 'file', name: 'report-ml.pdf' },
    ]);
    const r = await apiGet(sb, `${CP_SEARCH}?q=rEpOrT`);
    expect(r.status).toBe(200);
    expect(r.json.query).toBe('rEpOrT');
    expect(r.json.totalHits).toBe(31); // 30 files and the folder; never MemoryLake's items
    expect(r.json.hits).toHaveLength(20);
    // The folder was created now, the seeded files in 2025: newest first.
    expect(r.json.hits.map((h: Node) => h.name).slice(0, 4)).toEqual(['Reports', 'Report-29.PDF', 'Report-28.PDF', 'Report-27.PDF']);
    expect((await apiGet(sb, `${CP_SEARCH}?q=report&limit=50`)).json.hits).toHaveLength(31);
    expect((await apiGet(sb, `${CP_SEARCH}?q=report-3.pdf&limit=1`)).json).toMatchObject({ totalHits: 1, hits: [{ name: 'Report-3.PDF', parent: dir }] });
    expect((await apiGet(sb, `${CP_SEARCH}?q=nothing`)).json).toEqual({ hits: [], totalHits: 0, query: 'nothing' });
    expect((await apiGet(sb, `${CP_SEARCH}?q=other`, { headers: { 'x-sandbox-shape': 'sdk' } })).json.hits[0]).toHaveProperty('fileSize', 0);
    for (const q of ['', '?q=', '?q=a&limit=0', '?q=a&limit=51', '?q=a&limit=x']) {
      const bad = await apiGet(sb, `${CP_SEARCH}${q}`);
      expect(bad.status, q).toBe(400);
      expect(bad.json.code).toBe('VALIDATION_ERROR');
    }
    expect(sb.stats().apiCalls['copera.search']).toBe(10);
  });
});

describe('Copera folders', () => {
  it('renames a duplicate folder "name (1)" (undocumented upstream) and records created folders', async () => {
    const sb = await sandbox();
    const a = await api(sb, CP_FOLDERS, { name: 'Dup' });
    const b = await api(sb, CP_FOLDERS, { name: 'Dup' });
    expect(b.json.name).toBe('Dup (1)');
    expect(sb.stats().foldersCreated).toEqual([
      { provider: 'copera', name: 'Dup', id: a.json._id, parentId: null },
      { provider: 'copera', name: 'Dup (1)', id: b.json._id, parentId: null },
    ]);
  });
});
