import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { memoryLakeLayout, memoryLakePartSize } from '../../src/sandbox/server.js';
import { api, apiGet, bytes, md5, MiB, ML_ITEMS, ML_UPLOAD, mlUpload, put, s3Code, sameBytes, sandbox, slices } from './helpers.js';

const GiB = 1024 * MiB;

describe('MemoryLake layout rule', () => {
  it('uses 5 MiB parts below 1 GiB, 10 MiB from 1 GiB, the last part taking the remainder', () => {
    expect(memoryLakeLayout(10 * MiB + 3).map((p) => p.size)).toEqual([5 * MiB, 5 * MiB, 3]);
    expect(memoryLakePartSize(GiB - 1)).toBe(5 * MiB);
    expect(memoryLakePartSize(GiB)).toBe(10 * MiB);
    const layout = memoryLakeLayout(GiB);
    expect(layout).toHaveLength(103);
    expect(layout.at(-1)!.size).toBe(GiB - 102 * 10 * MiB);
    expect(layout.map((p) => p.offset).slice(0, 3)).toEqual([0, 10 * MiB, 20 * MiB]);
  });

  it('grows the part size in whole MiB so there are never more than 10,000 parts', () => {
    for (const size of [10_000 * 10 * MiB, 10_000 * 10 * MiB + 1, 200 * GiB, 5 * 1024 * GiB + 12345]) {
      const layout = memoryLakeLayout(size);
      expect(layout.length).toBeLessThanOrEqual(10_000);
      expect(layout[0]!.size % MiB).toBe(0);
      expect(layout.reduce((s, p) => s + p.size, 0)).toBe(size);
      expect(layout.every((p, i) => p.number === i + 1 && p.size > 0)).toBe(true);
    }
    expect(memoryLakePartSize(10_000 * 10 * MiB)).toBe(10 * MiB);
    expect(memoryLakePartSize(10_000 * 10 * MiB + 1)).toBe(11 * MiB);
  });

  it('answers a huge declared size with a layout of at most 10,000 parts covering it exactly', async () => {
    const sb = await sandbox();
    const fileSize = 300 * GiB + 7;
    const r = await api(sb, ML_UPLOAD, { file_size: fileSize });
    expect(r.status).toBe(200);
    expect(r.json.success).toBe(true);
    const items: { number: number; size: number; upload_url: string }[] = r.json.data.part_items;
    expect(r.json.data.upload_id).toMatch(/^upl-/);
    expect(items.length).toBeLessThanOrEqual(10_000);
    expect(items.reduce((s, p) => s + p.size, 0)).toBe(fileSize);
    expect(items[0]!.size).toBe(31 * MiB);
    expect(items[0]!.upload_url).toMatch(
      new RegExp(`^${sb.origin}/storage/[^?]+\\?uploadId=upl-[0-9a-f]+&partNumber=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$`),
    );
  });
});

describe('MemoryLake upload flow', () => {
  it('stores a file byte-exact from streamed parts, and counts every part once', async () => {
    const sb = await sandbox({ memorylakePartSize: 64 * 1024 });
    const data = bytes(5 * 64 * 1024 + 1234);
    const session = await api(sb, ML_UPLOAD, { file_size: data.length });
    const { upload_id, part_items } = session.json.data;
    expect(part_items.map((p: { size: number }) => p.size)).toEqual([65536, 65536, 65536, 65536, 65536, 1234]);
    const parts = slices(data, part_items);
    const etags = await Promise.all(
      part_items.map(async (p: { number: number; upload_url: string }, i: number) => {
        const r = await put(p.upload_url, parts[i]!, { 'content-type': 'application/octet-stream' });
        expect(r.status).toBe(200);
        expect(r.headers.etag).toBe(`"${md5(parts[i]!)}"`);
        return { number: p.number, etag: md5(parts[i]!) };
      }),
    );
    // Parts are on disk while the upload is open.
    expect(readdirSync(join(sb.dir, '.sandbox-parts', upload_id)).sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    const item = await api(sb, ML_ITEMS, {
      item_type: 'file',
      parent_item_id: 'MY_SPACE',
      name: 'big.zip',
      from: { upload_id, part_etags: etags.reverse() },
      x_attrs: { origin: 'test' },
    });
    expect(item.status).toBe(200);
    expect(item.json).toEqual({
      success: true,
      data: { item_id: expect.stringMatching(/^sc-[0-9a-f]+:[0-9a-f]+$/), name: 'big.zip', uri: 'drive://MY_SPACE/big.zip' },
    });
    expect(await sameBytes(join(sb.dir, 'memorylake', 'big.zip'), data)).toBe(true);
    expect(existsSync(join(sb.dir, '.sandbox-parts', upload_id))).toBe(false);

    const stats = sb.stats();
    expect(stats.partPuts[upload_id]).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1 });
    expect(stats.totalPartPuts).toBe(6);
    expect(stats.apiCalls).toMatchObject({ 'memorylake.create': 1, 'memorylake.item': 1 });
    expect(stats.bytesReceived).toBe(data.length);
    expect(stats.sessions).toBe(1);
    expect(stats.finalized).toEqual([
      { provider: 'memorylake', name: 'big.zip', path: join(sb.dir, 'memorylake', 'big.zip'), size: data.length, id: item.json.data.item_id, parentId: null, etag: expect.stringMatching(/-6$/) },
    ]);

    // An upload id can be used once.
    const again = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'x', from: { upload_id, part_etags: etags } });
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({ success: false, error_code: 'NOT_FOUND' });
    // Its part URLs are dead too.
    const late = await put(part_items[0].upload_url, parts[0]!);
    expect(late.status).toBe(404);
    expect(s3Code(late.text)).toBe('NoSuchUpload');
  });

  it('accepts quoted ETags and lets a re-sent part replace the first copy', async () => {
    const sb = await sandbox({ memorylakePartSize: 1000 });
    const data = bytes(1500);
    const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: 1500 })).json.data;
    const wrong = bytes(1000);
    const first = await put(part_items[0].upload_url, wrong);
    await put(part_items[0].upload_url, data.subarray(0, 1000));
    await put(part_items[1].upload_url, data.subarray(1000));
    const stale = await api(sb, ML_ITEMS, {
      item_type: 'file', parent_item_id: 'MY_SPACE', name: 'f.bin',
      from: { upload_id, part_etags: [{ number: 1, etag: first.headers.etag }, { number: 2, etag: md5(data.subarray(1000)) }] },
    });
    expect(stale.status).toBe(400);
    expect(stale.json.message).toMatch(/etag for part 1/);
    const ok = await api(sb, ML_ITEMS, {
      item_type: 'file', parent_item_id: 'MY_SPACE', name: 'f.bin',
      from: { upload_id, part_etags: [{ number: 1, etag: `"${md5(data.subarray(0, 1000))}"` }, { number: 2, etag: md5(data.subarray(1000)) }] },
    });
    expect(ok.status).toBe(200);
    expect(await sameBytes(join(sb.dir, 'memorylake', 'f.bin'), data)).toBe(true);
    expect(sb.stats().partPuts[upload_id]).toEqual({ 1: 2, 2: 1 });
    expect(sb.stats().partsStored[upload_id]).toEqual({ 1: 2, 2: 1 });
  });

  it('refuses bad requests with the documented error body', async () => {
    const sb = await sandbox({ memorylakePartSize: 1000 });
    for (const file_size of [0, -1, 1.5, '10', undefined]) {
      const r = await api(sb, ML_UPLOAD, { file_size });
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ success: false, message: expect.stringMatching(/file_size/), error_code: 'INVALID_ARGUMENT' });
    }
    expect((await api(sb, ML_UPLOAD, '{not json')).json.error_code).toBe('INVALID_ARGUMENT');

    const data = bytes(2500);
    const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: 2500 })).json.data;
    const etag1 = md5(data.subarray(0, 1000));
    await put(part_items[0].upload_url, data.subarray(0, 1000));
    await put(part_items[1].upload_url, data.subarray(1000, 1999)); // one byte short of its layout size
    const base = { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'a.bin' };
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ parent_item_id: undefined }, 400, /parent_item_id/],
      [{ parent_item_id: 'sc-nope:nope' }, 404, /parent folder/],
      [{ name: 'a/b' }, 400, /name/],
      [{ name_conflict_strategy: 'merge' }, 400, /name_conflict_strategy/],
      [{ from: { upload_id: 'upl-unknown', part_etags: [] } }, 404, /not found/],
      [{ from: { upload_id, part_etags: [{ number: 1, etag: etag1 }] } }, 400, /lacks part 2/],
      [{ from: { upload_id, part_etags: [{ number: 1, etag: etag1 }, { number: 1, etag: etag1 }] } }, 400, /more than once/],
      [{ from: { upload_id, part_etags: [{ number: 4, etag: etag1 }] } }, 400, /not in this upload's layout/],
      [
        { from: { upload_id, part_etags: [{ number: 1, etag: etag1 }, { number: 2, etag: md5(data.subarray(1000, 1999)) }, { number: 3, etag: 'x' }] } },
        400,
        /part 2 holds 999 bytes but the layout says 1000/,
      ],
    ];
    for (const [patch, status, message] of cases) {
      const r = await api(sb, ML_ITEMS, { ...base, ...patch });
      expect(r.status, JSON.stringify(patch)).toBe(status);
      expect(r.json.success).toBe(false);
      expect(r.json.message).toMatch(message);
    }
    await put(part_items[1].upload_url, data.subarray(1000, 2000));
    const never = await api(sb, ML_ITEMS, {
      ...base,
      from: { upload_id, part_etags: [1, 2, 3].map((n) => ({ number: n, etag: md5(data.subarray((n - 1) * 1000, n * 1000)) })) },
    });
    expect(never.json.message).toMatch(/part 3 was never uploaded/);
  });

  it('answers 401 with the gateway body for a wrong or missing token', async () => {
    const sb = await sandbox({ token: 'sk_right' });
    for (const token of ['sk_wrong', null]) {
      const r = await api(sb, ML_UPLOAD, { file_size: 1 }, { token });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ error: { message: expect.any(String), type: 'authentication_error' } });
    }
    expect((await api(sb, ML_UPLOAD, { file_size: 1 })).status).toBe(200);
  });
});

describe('MemoryLake name conflicts and folders', () => {
  it('renames (default), denies, overwrites (same id) and replaces (new id)', async () => {
    const sb = await sandbox({ memorylakePartSize: 1024 });
    const v1 = bytes(100);
    const first = await mlUpload(sb, 'big.zip', v1);
    const firstId = first.json.data.item_id;

    const renamed = await mlUpload(sb, 'big.zip', bytes(10));
    expect(renamed.json.data.name).toBe('big_1.zip');
    expect((await mlUpload(sb, 'big.zip', bytes(10), { name_conflict_strategy: 'rename' })).json.data.name).toBe('big_2.zip');
    expect((await mlUpload(sb, 'README', bytes(1))).json.data.name).toBe('README');
    expect((await mlUpload(sb, 'README', bytes(1))).json.data.name).toBe('README_1');

    const denied = await mlUpload(sb, 'big.zip', bytes(10), { name_conflict_strategy: 'deny' });
    expect(denied.status).toBe(409);
    expect(denied.json).toMatchObject({ success: false, error_code: 'DRIVE_ITEM_CONFLICT' });
    expect(await sameBytes(join(sb.dir, 'memorylake', 'big.zip'), v1)).toBe(true);

    const v2 = bytes(300);
    const over = await mlUpload(sb, 'big.zip', v2, { name_conflict_strategy: 'overwrite' });
    expect(over.json.data).toMatchObject({ item_id: firstId, name: 'big.zip' });
    expect(await sameBytes(join(sb.dir, 'memorylake', 'big.zip'), v2)).toBe(true);

    const v3 = bytes(5000);
    const replaced = await mlUpload(sb, 'big.zip', v3, { name_conflict_strategy: 'replace' });
    expect(replaced.json.data.name).toBe('big.zip');
    expect(replaced.json.data.item_id).not.toBe(firstId);
    expect(await sameBytes(join(sb.dir, 'memorylake', 'big.zip'), v3)).toBe(true);
    expect(readdirSync(join(sb.dir, 'memorylake')).filter((n) => !n.startsWith('.')).sort()).toEqual(['README', 'README_1', 'big.zip', 'big_1.zip', 'big_2.zip']);
  });

  it('keeps a session usable after a 409 so the client can retry with another strategy', async () => {
    const sb = await sandbox({ memorylakePartSize: 1024 });
    await mlUpload(sb, 'a.txt', bytes(5));
    const data = bytes(50);
    const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: 50 })).json.data;
    await put(part_items[0].upload_url, data);
    const from = { upload_id, part_etags: [{ number: 1, etag: md5(data) }] };
    const denied = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'a.txt', from, name_conflict_strategy: 'deny' });
    expect(denied.status).toBe(409);
    const renamed = await api(sb, ML_ITEMS, { item_type: 'file', parent_item_id: 'MY_SPACE', name: 'a.txt', from });
    expect(renamed.json.data.name).toBe('a_1.txt');
    expect(await sameBytes(join(sb.dir, 'memorylake', 'a_1.txt'), data)).toBe(true);
  });

  it('creates folders and writes files inside them under <dir>/memorylake/<folder path>/<name>', async () => {
    const sb = await sandbox({ memorylakePartSize: 1024 });
    const docs = await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'docs' });
    expect(docs.status).toBe(200);
    // A folder's Create Item answer is {item_id, name} (a file's adds uri); its uri shows in the lookups.
    expect(docs.json.data).toEqual({ item_id: expect.stringMatching(/^sc-[0-9a-f]+:[0-9a-f]+$/), name: 'docs' });
    const sub = await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: docs.json.data.item_id, name: '2025 q1' });
    const subItem = await apiGet(sb, `${ML_ITEMS}/${encodeURIComponent(sub.json.data.item_id)}`);
    expect(subItem.json.data.item.uri).toBe('drive://MY_SPACE/docs/2025%20q1');
    const again = await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'docs' });
    expect(again.json.data.name).toBe('docs_1');

    const data = bytes(3000);
    const r = await mlUpload(sb, 'report.pdf', data, { parent_item_id: sub.json.data.item_id });
    expect(r.json.data.uri).toBe('drive://MY_SPACE/docs/2025%20q1/report.pdf');
    expect(await sameBytes(join(sb.dir, 'memorylake', 'docs', '2025 q1', 'report.pdf'), data)).toBe(true);

    const fileAsParent = await mlUpload(sb, 'x.bin', bytes(5), { parent_item_id: r.json.data.item_id });
    expect(fileAsParent.status).toBe(404);
    const fileOverFolder = await mlUpload(sb, 'docs', bytes(5), { name_conflict_strategy: 'overwrite' });
    expect(fileOverFolder.status).toBe(409);
  });
});
