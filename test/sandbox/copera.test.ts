import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { SandboxHandle } from '../../src/sandbox/server.js';
import { api, bytes, CP, CP_FOLDERS, md5, MiB, put, s3Code, sameBytes, sandbox } from './helpers.js';

async function start(sb: SandboxHandle, fileName: string, fileSize: number, extra: Record<string, unknown> = {}) {
  return api(sb, `${CP}/start`, { fileName, fileSize, mimeType: 'application/pdf', ...extra });
}

/** Uploads `chunks` as parts 1…n of a started upload; returns the finalize part list. */
async function sendParts(sb: SandboxHandle, uploadId: string, fileKey: string, chunks: Buffer[]) {
  const urls: string[] = (await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: chunks.length })).json.urls;
  return Promise.all(
    chunks.map(async (chunk, i) => {
      const r = await put(urls[i]!, chunk);
      expect(r.status).toBe(200);
      return { partNumber: i + 1, eTag: String(r.headers.etag) };
    }),
  );
}

async function coperaUpload(sb: SandboxHandle, fileName: string, data: Buffer, extra: Record<string, unknown> = {}) {
  const { uploadId, fileKey } = (await start(sb, fileName, data.length, extra)).json;
  const parts = await sendParts(sb, uploadId, fileKey, [data]);
  return api(sb, `${CP}/finalize`, { uploadId, fileKey, parts });
}

describe('Copera upload flow', () => {
  it('stores an 11 MiB file byte-exact from 5 MiB parts and answers the documented drive item', async () => {
    const sb = await sandbox();
    const data = bytes(11 * MiB + 17);
    const started = await start(sb, 'report.pdf', data.length);
    expect(started.status).toBe(200);
    expect(started.json).toEqual({ uploadId: expect.any(String), fileKey: expect.any(String) });
    const { uploadId, fileKey } = started.json;

    const presigned = await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 3 });
    expect(presigned.status).toBe(200);
    expect(Object.keys(presigned.json)).toEqual(['urls']);
    expect(presigned.json.urls).toHaveLength(3);
    expect(presigned.json.urls[2]).toMatch(/[?&]partNumber=3&.*X-Amz-Expires=3600.*X-Amz-Signature=[0-9a-f]{64}$/);
    const chunks = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    const parts = await Promise.all(
      chunks.map(async (chunk, i) => ({ partNumber: i + 1, eTag: String((await put(presigned.json.urls[i], chunk)).headers.etag) })),
    );
    expect(parts[0]!.eTag).toBe(`"${md5(chunks[0]!)}"`);

    const done = await api(sb, `${CP}/finalize`, { uploadId, fileKey, parts });
    expect(done.status).toBe(200);
    expect(done.json).toEqual({
      _id: expect.stringMatching(/^[0-9a-f]{24}$/),
      name: 'report.pdf',
      type: 'file',
      mimeType: 'application/pdf',
      size: data.length,
      parent: null,
      owner: expect.stringMatching(/^[0-9a-f]{24}$/),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(await sameBytes(join(sb.dir, 'copera', 'report.pdf'), data)).toBe(true);
    const stats = sb.stats();
    expect(stats.partPuts[uploadId]).toEqual({ 1: 1, 2: 1, 3: 1 });
    expect(stats.apiCalls).toMatchObject({ 'copera.start': 1, 'copera.presign': 1, 'copera.finalize': 1 });
    expect(stats.finalized[0]).toMatchObject({ provider: 'copera', name: 'report.pdf', size: data.length, id: done.json._id });

    const again = await api(sb, `${CP}/finalize`, { uploadId, fileKey, parts });
    expect(again.status).toBe(404);
    expect(again.json).toEqual({ error: expect.any(String), code: 'UPLOAD_NOT_FOUND' });
  });

  it('answers the SDK shape when asked by header, by option or by script', async () => {
    const sb = await sandbox();
    const data = bytes(1000);
    const { uploadId, fileKey } = (await start(sb, 'a.txt', 1000, { mimeType: 'text/plain' })).json;
    const sdk = { 'x-sandbox-shape': 'sdk' };
    const presigned = await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 1 }, { headers: sdk });
    expect(presigned.json).toEqual({ parts: [{ signedUrl: expect.stringContaining('/storage/'), PartNumber: 1 }] });
    const etag = (await put(presigned.json.parts[0].signedUrl, data)).headers.etag;
    const done = await api(sb, `${CP}/finalize`, { uploadId, fileKey, parts: [{ partNumber: 1, eTag: etag }] }, { headers: sdk });
    expect(done.json).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      name: 'a.txt',
      type: 'file',
      mimeType: 'text/plain',
      fileSize: 1000,
      parentId: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    const sdkByDefault = await sandbox({ coperaShape: 'sdk' });
    const s2 = (await start(sdkByDefault, 'b.txt', 10)).json;
    expect(Object.keys((await api(sdkByDefault, `${CP}/presigned-urls`, { ...s2, parts: 2 })).json)).toEqual(['parts']);
    expect(Object.keys((await api(sdkByDefault, `${CP}/presigned-urls`, { ...s2, parts: 2 }, { headers: { 'x-sandbox-shape': 'docs' } })).json)).toEqual(['urls']);

    sb.script({ route: 'copera.presign', shape: 'sdk' });
    const s3 = (await start(sb, 'c.txt', 10)).json;
    expect(Object.keys((await api(sb, `${CP}/presigned-urls`, { ...s3, parts: 1 })).json)).toEqual(['parts']);
    expect(Object.keys((await api(sb, `${CP}/presigned-urls`, { ...s3, parts: 1 })).json)).toEqual(['urls']);
  });

  it('gives fresh URLs for the same upload after the old ones expired, keeping finished parts', async () => {
    const sb = await sandbox();
    const data = bytes(6 * MiB);
    const { uploadId, fileKey } = (await start(sb, 'v.mp4', data.length)).json;
    const first: string[] = (await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 2 })).json.urls;
    const e1 = (await put(first[0]!, data.subarray(0, 5 * MiB))).headers.etag;
    sb.expireAllUrls();
    const expired = await put(first[1]!, data.subarray(5 * MiB));
    expect(expired.status).toBe(403);
    expect(expired.headers['content-type']).toBe('application/xml');
    expect(s3Code(expired.text)).toBe('AccessDenied');
    expect(expired.text).toContain('<Message>Request has expired</Message>');
    const fresh: string[] = (await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 2 })).json.urls;
    const e2 = (await put(fresh[1]!, data.subarray(5 * MiB))).headers.etag;
    const done = await api(sb, `${CP}/finalize`, { uploadId, fileKey, parts: [{ partNumber: 1, eTag: e1 }, { partNumber: 2, eTag: e2 }] });
    expect(done.status).toBe(200);
    expect(await sameBytes(join(sb.dir, 'copera', 'v.mp4'), data)).toBe(true);
  });

  it('applies S3 completion rules: EntityTooSmall, wrong ETag, order, size mismatch', async () => {
    const sb = await sandbox();
    const data = bytes(3 * MiB);
    const { uploadId, fileKey } = (await start(sb, 'x.bin', data.length)).json;
    const parts = await sendParts(sb, uploadId, fileKey, [data.subarray(0, MiB), data.subarray(MiB, 2 * MiB), data.subarray(2 * MiB)]);
    const finalize = (list: unknown) => api(sb, `${CP}/finalize`, { uploadId, fileKey, parts: list });

    const small = await finalize(parts);
    expect(small.status).toBe(400);
    expect(small.json).toEqual({ error: expect.stringMatching(/at least 5 MiB/), code: 'ENTITY_TOO_SMALL' });
    const wrongTag = await finalize([parts[0], parts[1], { partNumber: 3, eTag: md5(Buffer.from('nope')) }]);
    expect(wrongTag.json.code).toBe('INVALID_PART');
    const order = await finalize([parts[1], parts[0], parts[2]]);
    expect(order.json.code).toBe('INVALID_PART_ORDER');
    const missing = await finalize([{ partNumber: 4, eTag: 'x' }]);
    expect(missing.json.code).toBe('INVALID_PART');
    const short = await finalize([parts[2]]);
    expect(short.json).toEqual({ error: expect.stringMatching(/fileSize/), code: 'SIZE_MISMATCH' });
    for (const bad of [undefined, [], [{ partNumber: 'one', eTag: 'x' }]]) {
      expect((await finalize(bad)).json.code).toBe('VALIDATION_ERROR');
    }
  });

  it('checks required fields and parentId', async () => {
    const sb = await sandbox();
    for (const body of [
      { fileSize: 1, mimeType: 'a/b' },
      { fileName: 'a', mimeType: 'a/b' },
      { fileName: 'a', fileSize: 1 },
      { fileName: 'a', fileSize: -1, mimeType: 'a/b' },
      { fileName: 'a', fileSize: 1, mimeType: 'a/b', parentId: 'not-hex' },
    ]) {
      const r = await api(sb, `${CP}/start`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json).toEqual({ error: expect.any(String), code: 'VALIDATION_ERROR' });
    }
    const unknown = await start(sb, 'a', 1, { parentId: 'a'.repeat(24) });
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('NOT_FOUND');
    const { uploadId, fileKey } = (await start(sb, 'a', 1)).json;
    for (const parts of [0, 10_001, 2.5]) {
      expect((await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts })).status).toBe(400);
    }
    expect((await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey: 'other', parts: 1 })).status).toBe(404);
    expect((await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 10_000 })).json.urls).toHaveLength(10_000);
  });

  it('answers 401 {"error","code":"UNAUTHORIZED"} for a wrong or missing token', async () => {
    const sb = await sandbox();
    for (const token of ['cp_pat_wrong', null]) {
      const r = await api(sb, `${CP}/start`, { fileName: 'a', fileSize: 1, mimeType: 'a/b' }, { token });
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ error: expect.any(String), code: 'UNAUTHORIZED' });
    }
  });
});

describe('Copera folders and name conflicts', () => {
  it('creates folders usable as parentId and renames duplicates "name (1).ext"', async () => {
    const sb = await sandbox();
    const folder = await api(sb, CP_FOLDERS, { name: 'Reports' });
    expect(folder.status).toBe(200);
    expect(folder.json).toMatchObject({ _id: expect.stringMatching(/^[0-9a-f]{24}$/), name: 'Reports', type: 'folder', parent: null });
    const sub = await api(sb, CP_FOLDERS, { name: 'Q1', parentId: folder.json._id });
    expect(sub.json.parent).toBe(folder.json._id);
    expect((await api(sb, CP_FOLDERS, { name: 'Reports' })).json.name).toBe('Reports (1)');
    expect((await api(sb, CP_FOLDERS, { name: 'x', parentId: 'b'.repeat(24) })).status).toBe(404);

    const a = bytes(10);
    const b = bytes(20);
    const first = await coperaUpload(sb, 'sum.pdf', a, { parentId: sub.json._id });
    expect(first.json).toMatchObject({ name: 'sum.pdf', parent: sub.json._id });
    const second = await coperaUpload(sb, 'sum.pdf', b, { parentId: sub.json._id });
    expect(second.json.name).toBe('sum (1).pdf');
    expect(await sameBytes(join(sb.dir, 'copera', 'Reports', 'Q1', 'sum.pdf'), a)).toBe(true);
    expect(await sameBytes(join(sb.dir, 'copera', 'Reports', 'Q1', 'sum (1).pdf'), b)).toBe(true);
    expect((await coperaUpload(sb, 'Makefile', a)).json.name).toBe('Makefile');
    expect((await coperaUpload(sb, 'Makefile', a)).json.name).toBe('Makefile (1)');
  });
});
