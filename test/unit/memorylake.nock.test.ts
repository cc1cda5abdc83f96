import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryLake, MEMORYLAKE_ORIGIN } from '../../src/providers/memorylake.js';
import type { UploadRequest } from '../../src/providers/provider.js';
import type { FinishedPart, Session } from '../../src/types.js';
import { registerSecret } from '../../src/util/redact.js';
import { MiB } from '../../src/util/sizes.js';
import { compareShape } from '../contract/shape.js';
import { fixture } from './fixtures.js';
import { closedPort, rejection } from './helpers.js';
import { capture, useNock } from './nock.js';

const ML = 'https://ml.test';
const TOKEN = 'sk_test_123';
const UPLOAD = '/openapi/memorylake/api/v1/drives/items/upload';
const ITEMS = '/openapi/memorylake/api/v1/drives/items';
const AUTH = { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } };

const provider = (over: Record<string, unknown> = {}) => new MemoryLake({ endpoint: ML, token: TOKEN, minBackoffMs: 1, retries: 3, ...over });

function req(size: number, dest: Partial<UploadRequest['dest']> = {}): UploadRequest {
  return { file: { path: '/tmp/big.zip', size, mtimeMs: 1 }, dest: { name: 'big.zip', ...dest } };
}

const s3url = (n: number) =>
  `https://bucket.s3.test/k?partNumber=${n}&uploadId=u&X-Amz-Expires=3600&X-Amz-Signature=sig${n}`;

function session(parts = 2): Session {
  return {
    uploadId: 'upl-42',
    parts: Array.from({ length: parts }, (_, i) => ({ number: i + 1, offset: i * 5 * MiB, size: 5 * MiB })),
    urls: Array.from({ length: parts }, (_, i) => s3url(i + 1)),
    urlsIssuedAt: 0,
    createdAt: 0,
  };
}

beforeAll(() => {
  registerSecret(TOKEN);
});
useNock({ loopback: true });

describe('MemoryLake: create the upload session', () => {
  it('sends exactly {"file_size":N} with the bearer token and maps the server layout', async () => {
    const size = 5 * MiB + 100;
    const c = capture();
    const scope = nock(ML, AUTH)
      .post(UPLOAD, c.fn)
      .reply(200, {
        success: true,
        data: {
          upload_id: 'upl-abc',
          part_items: [
            { number: 2, size: 100, upload_url: s3url(2) },
            { number: 1, size: 5 * MiB, upload_url: s3url(1) },
          ],
        },
      });
    const s = await provider().createSession(req(size));
    expect(scope.isDone()).toBe(true);
    expect(JSON.stringify(c.body)).toBe(`{"file_size":${size}}`);
    expect(s.uploadId).toBe('upl-abc');
    expect(s.fileKey).toBeUndefined();
    expect(s.parts).toEqual([
      { number: 1, offset: 0, size: 5 * MiB },
      { number: 2, offset: 5 * MiB, size: 100 },
    ]);
    expect(s.urls).toEqual([s3url(1), s3url(2)]);
    expect(s.urlTtlMs).toBe(3_600_000);
  });

  it('sends the recorded request and reads the recorded answer (fixtures/memorylake)', async () => {
    const answer = fixture('memorylake/session-created.json');
    const c = capture();
    nock(ML, AUTH).post(UPLOAD, c.fn).reply(200, answer);
    const s = await provider().createSession(req(10 * MiB));
    expect(c.body).toEqual(fixture('memorylake/create-session-request.json'));
    expect(s.uploadId).toBe(answer.data.upload_id);
    expect(s.parts).toEqual([
      { number: 1, offset: 0, size: 5 * MiB },
      { number: 2, offset: 5 * MiB, size: 5 * MiB },
    ]);
    expect(s.urls).toEqual(answer.data.part_items.map((p: { upload_url: string }) => p.upload_url));
    expect(s.urlTtlMs).toBe(3_600_000);
  });

  it('refuses an empty file before calling the API', async () => {
    const scope = nock(ML).post(UPLOAD).reply(200, {});
    const e = await rejection(provider().createSession(req(0)));
    expect(e.kind).toBe('input');
    expect(e.message).toContain('empty');
    expect(scope.isDone()).toBe(false);
  });

  it('rejects an answer without upload_id', async () => {
    nock(ML).post(UPLOAD).reply(200, { success: true, data: { part_items: [] } });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('upload_id');
  });

  it('rejects a layout that does not cover the file before a byte is sent', async () => {
    nock(ML)
      .post(UPLOAD)
      .reply(200, { success: true, data: { upload_id: 'u', part_items: [{ number: 1, size: 9, upload_url: s3url(1) }] } });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.code).toBe('BAD_LAYOUT');
    expect(e.message).toContain('MemoryLake');
  });

  it('retries a 429 after its Retry-After and then succeeds', async () => {
    const scope = nock(ML)
      .post(UPLOAD)
      .reply(429, fixture('memorylake/error-rate-limited.json'), { 'Retry-After': '0.05' })
      .post(UPLOAD)
      .reply(200, { success: true, data: { upload_id: 'u2', part_items: [{ number: 1, size: 10, upload_url: s3url(1) }] } });
    const s = await provider().createSession(req(10));
    expect(s.uploadId).toBe('u2');
    expect(scope.isDone()).toBe(true);
  });

  it('uses the documented default endpoint', () => {
    expect(MEMORYLAKE_ORIGIN).toBe('https://app.memorylake.ai');
  });
});

describe('MemoryLake: Create Item (finalize)', () => {
  const finished: FinishedPart[] = [
    { number: 2, etag: 'bbbb', size: 5 * MiB },
    { number: 1, etag: 'aaaa', size: 5 * MiB },
  ];

  it('sends item_type, parent MY_SPACE, name, upload_id, part_etags sorted, strategy rename by default', async () => {
    const c = capture();
    const created = fixture('memorylake/item-created.json');
    const scope = nock(ML, AUTH).post(ITEMS, c.fn).reply(200, created);
    const item = await provider().finalize(session(), finished, req(10 * MiB));
    expect(scope.isDone()).toBe(true);
    expect(c.body).toEqual({
      item_type: 'file',
      parent_item_id: 'MY_SPACE',
      name: 'big.zip',
      from: {
        upload_id: 'upl-42',
        part_etags: [
          { number: 1, etag: 'aaaa' },
          { number: 2, etag: 'bbbb' },
        ],
      },
      name_conflict_strategy: 'rename',
    });
    expect(compareShape(fixture('memorylake/create-item-file-request.json'), c.body)).toEqual([]);
    expect(item.id).toBe(created.data.item_id);
    expect(item.name).toBe('big_1.zip'); // the name the server chose
    expect(created.data.name).toBe('big_1.zip');
  });

  it('sends ETags unquoted even when given quoted ones', async () => {
    const c = capture();
    nock(ML).post(ITEMS, c.fn).reply(200, fixture('memorylake/item-created.json'));
    await provider().finalize(
      session(),
      [
        { number: 1, etag: '"d41d8cd98f00b204e9800998ecf8427e"', size: 5 * MiB },
        { number: 2, etag: 'W/"abc"', size: 5 * MiB },
      ],
      req(10 * MiB),
    );
    const body = c.body as { from: { part_etags: Array<{ etag: string }> } };
    expect(body.from.part_etags.map((p) => p.etag)).toEqual(['d41d8cd98f00b204e9800998ecf8427e', 'abc']);
  });

  it('sends the parent folder and the conflict strategy given', async () => {
    const c = capture();
    nock(ML).post(ITEMS, c.fn).reply(200, fixture('memorylake/item-created.json'));
    await provider().finalize(session(), finished, req(10 * MiB, { parent: 'fold-9', onConflict: 'overwrite', name: 'x.bin' }));
    expect(c.body).toMatchObject({ parent_item_id: 'fold-9', name: 'x.bin', name_conflict_strategy: 'overwrite' });
  });

  it('a 409 DRIVE_ITEM_CONFLICT (strategy deny) is a conflict error with the server message', async () => {
    const conflict = fixture('memorylake/error-conflict.json');
    nock(ML).post(ITEMS).reply(409, conflict);
    const e = await rejection(provider().finalize(session(), finished, req(10 * MiB, { onConflict: 'deny' })));
    expect(e.kind).toBe('conflict');
    expect(e.message).toContain(conflict.message);
    expect(conflict.message).toContain('already exists');
    expect(e.message).toContain('DRIVE_ITEM_CONFLICT');
    expect(e.message).toContain('HTTP 409');
  });

  it.each([500, 503])('is not retried after a %d (the item may have been created)', async (status) => {
    const scope = nock(ML)
      .post(ITEMS)
      .reply(status, fixture('memorylake/error-internal.json'))
      .post(ITEMS)
      .reply(200, fixture('memorylake/item-created.json'));
    const e = await rejection(provider().finalize(session(), finished, req(10 * MiB)));
    expect(e.status).toBe(status);
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it.each([429])('is retried after a %d', async (status) => {
    const scope = nock(ML)
      .post(ITEMS)
      .reply(status, fixture('memorylake/error-rate-limited.json'))
      .post(ITEMS)
      .reply(200, fixture('memorylake/item-created.json'));
    const item = await provider().finalize(session(), finished, req(10 * MiB));
    expect(item).toMatchObject({ id: 'sc-7f3a:itm-0002', name: 'big_1.zip' });
    expect(scope.isDone()).toBe(true);
  });

  it('rejects an answer without item_id and name', async () => {
    nock(ML).post(ITEMS).reply(200, { success: true, data: { uri: 'drive://x' } });
    const e = await rejection(provider().finalize(session(), finished, req(10 * MiB)));
    expect(e.code).toBe('BAD_RESPONSE');
  });

  it('creates folders under MY_SPACE with item_type folder', async () => {
    const c = capture();
    const created = fixture('memorylake/folder-created.json');
    nock(ML).post(ITEMS, c.fn).reply(200, created);
    await expect(provider().createFolder('reports', undefined)).resolves.toEqual({ id: 'sc-7f3a:fld-reports', name: 'reports', raw: created.data });
    expect(c.body).toEqual({ item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'reports', name_conflict_strategy: 'rename' });
    expect(c.body).toEqual(fixture('memorylake/create-item-folder-request.json'));
  });
});

describe('MemoryLake: every error body becomes one line with message, code and status', () => {
  it.each([
    ['success:false with error_code', 400, 'error-invalid-argument.json', 'file_size must be >= 1', 'INVALID_ARGUMENT', 'server'],
    ['older deployments: code', 404, 'error-older-code.json', 'parent not found', 'NOT_FOUND', 'server'],
    ['the auth gateway 401', 401, 'error-unauthorized.json', 'Invalid API key provided', 'authentication_error', 'auth'],
    ['a 403', 403, 'error-forbidden.json', 'forbidden', 'PERMISSION_DENIED', 'auth'],
    ['a 402 quota', 402, 'error-quota.json', 'storage quota exceeded', 'QUOTA_EXCEEDED', 'server'],
  ])('%s (HTTP %i, fixtures/memorylake/%s)', async (_n, status, file, message, code, kind) => {
    nock(ML).post(UPLOAD).reply(status, fixture(`memorylake/${file}`));
    const e = await rejection(provider().createSession(req(10)));
    expect(e.kind).toBe(kind);
    expect(e.status).toBe(status);
    expect(e.message).toContain('MemoryLake');
    expect(e.message).toContain(message);
    expect(e.message).toContain(code);
    expect(e.message).toContain(`HTTP ${status}`);
    expect(e.message).not.toMatch(/[\r\n]/);
    if (kind === 'auth') expect(e.exitCode).toBe(3);
  });

  it('a 200 with success:false is an error', async () => {
    nock(ML).post(UPLOAD).reply(200, { success: false, message: 'file too large', error_code: 'FILE_TOO_LARGE' });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.message).toContain('file too large');
    expect(e.message).toContain('FILE_TOO_LARGE');
  });

  it('a 200 that is not JSON is a server error mentioning "not JSON"', async () => {
    nock(ML).post(UPLOAD).reply(200, 'Service temporarily unavailable', { 'content-type': 'text/plain' });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.kind).toBe('server');
    expect(e.message).toContain('not JSON');
  });

  it('never shows the token, even when the server echoes it', async () => {
    nock(ML).post(UPLOAD).reply(401, { error: { message: `API key ${TOKEN} is revoked`, type: 'authentication_error' } });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.message).not.toContain(TOKEN);
    expect(e.message).toContain('revoked');
  });

  it('a refused connection is a "could not connect" network error, quickly, without the token', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const e = await rejection(provider({ endpoint: `http://127.0.0.1:${port}` }).createSession(req(10)));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(e.kind).toBe('network');
    expect(e.message).toContain('could not connect');
    expect(e.message).toContain('MemoryLake');
    expect(e.message).not.toContain(TOKEN);
  });
});

describe('MemoryLake: preview (for --dry-run, no API call)', () => {
  it('says the server decides the layout', () => {
    expect(provider().preview(req(10))).toEqual({ serverDecides: true, destination: 'MY_SPACE/big.zip' });
    expect(provider().preview(req(10, { parent: 'f-1' })).destination).toBe('f-1/big.zip');
  });
});
