import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import { Copera, COPERA_ORIGIN, presignedUrls } from '../../src/providers/copera.js';
import type { UploadRequest } from '../../src/providers/provider.js';
import type { FinishedPart, Session } from '../../src/types.js';
import { registerSecret } from '../../src/util/redact.js';
import { MiB } from '../../src/util/sizes.js';
import { compareShape } from '../contract/shape.js';
import { fixture } from './fixtures.js';
import { closedPort, rejection, thrown } from './helpers.js';
import { capture, useNock } from './nock.js';

const CP = 'https://cp.test';
const TOKEN = 'cp_pat_0123456789abcdef';
const START = '/public/v1/drive/files/upload/multipart/start';
const PRESIGN = '/public/v1/drive/files/upload/multipart/presigned-urls';
const FINALIZE = '/public/v1/drive/files/upload/multipart/finalize';
const AUTH = { reqheaders: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } };
const PARENT = '65a1b2c3d4e5f60718293a4b';

const provider = (over: Record<string, unknown> = {}) => new Copera({ endpoint: CP, token: TOKEN, minBackoffMs: 1, retries: 3, ...over });

function req(size: number, dest: Partial<UploadRequest['dest']> = {}, partSize?: number): UploadRequest {
  return { file: { path: '/tmp/report.pdf', size, mtimeMs: 1 }, dest: { name: 'report.pdf', mimeType: 'application/pdf', ...dest }, partSize };
}

const s3url = (n: number) => `https://bucket.s3-accelerate.amazonaws.com/k?partNumber=${n}&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=s${n}`;

function session(n = 3): Session {
  return {
    uploadId: 'up-1',
    fileKey: 'fk/1',
    parts: Array.from({ length: n }, (_, i) => ({ number: i + 1, offset: i * 10 * MiB, size: 10 * MiB })),
    urls: [],
    urlsIssuedAt: 0,
    createdAt: 0,
  };
}

beforeAll(() => {
  registerSecret(TOKEN);
});
useNock({ loopback: true });

describe('Copera: start and presigned URLs', () => {
  it('starts with fileName, fileSize, mimeType (no parentId when none is given), then asks for N URLs', async () => {
    const size = 25 * MiB;
    const start = capture();
    const presign = capture();
    const started = fixture('copera/start.json');
    const { urls } = fixture('copera/presigned-urls.json');
    const scope = nock(CP, AUTH)
      .post(START, start.fn)
      .reply(200, started)
      .post(PRESIGN, presign.fn)
      .reply(200, { urls });
    const s = await provider().createSession(req(size));
    expect(scope.isDone()).toBe(true);
    expect(JSON.stringify(start.body)).toBe(`{"fileName":"report.pdf","fileSize":${size},"mimeType":"application/pdf"}`);
    expect(presign.body).toEqual({ uploadId: started.uploadId, fileKey: started.fileKey, parts: 3 });
    expect(presign.body).toEqual(fixture('copera/presigned-urls-request.json'));
    expect(s.uploadId).toBe(started.uploadId);
    expect(s.fileKey).toBe(started.fileKey);
    expect(s.parts).toEqual([
      { number: 1, offset: 0, size: 10 * MiB },
      { number: 2, offset: 10 * MiB, size: 10 * MiB },
      { number: 3, offset: 20 * MiB, size: 5 * MiB },
    ]);
    expect(s.urls).toEqual(urls);
    expect(s.urlTtlMs).toBe(3_600_000);
  });

  it('sends parentId when a folder is given and honours the requested part size', async () => {
    const start = capture();
    const presign = capture();
    nock(CP)
      .post(START, start.fn)
      .reply(200, fixture('copera/start.json'))
      .post(PRESIGN, presign.fn)
      .reply(200, { urls: [s3url(1), s3url(2)] });
    const s = await provider().createSession(req(12 * MiB, { parent: PARENT }, 6 * MiB));
    expect(start.body).toMatchObject({ parentId: PARENT });
    expect(compareShape(fixture('copera/start-request.json'), start.body)).toEqual([]);
    expect(presign.body).toMatchObject({ parts: 2 });
    expect(s.parts.map((p) => p.size)).toEqual([6 * MiB, 6 * MiB]);
  });

  it('defaults the MIME type to application/octet-stream', async () => {
    const start = capture();
    nock(CP).post(START, start.fn).reply(200, { uploadId: 'u', fileKey: 'k' }).post(PRESIGN).reply(200, { urls: [s3url(1)] });
    await provider().createSession({ file: { path: '/x', size: 3, mtimeMs: 0 }, dest: { name: 'x' } });
    expect(start.body).toMatchObject({ mimeType: 'application/octet-stream' });
  });

  it('rejects a parent that is not a 24-hex id before calling the API', async () => {
    const scope = nock(CP).post(START).reply(200, {});
    const e = await rejection(provider().createSession(req(10, { parent: 'Documents' })));
    expect(e.kind).toBe('usage');
    expect(e.message).toContain('24 hex');
    expect(scope.isDone()).toBe(false);
  });

  it('rejects a start answer without uploadId and fileKey', async () => {
    nock(CP).post(START).reply(200, { uploadId: 'u' });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.code).toBe('BAD_RESPONSE');
  });

  it('reads the SDK shape {parts:[{signedUrl,PartNumber}]} out of order', async () => {
    const sdk = fixture('copera/presigned-urls-sdk.json');
    const inOrder = sdk.parts.map((p: { signedUrl: string }) => p.signedUrl);
    sdk.parts = [sdk.parts[2], sdk.parts[0], sdk.parts[1]];
    nock(CP).post(PRESIGN).reply(200, sdk);
    const r = await provider().refreshUrls(session(3));
    expect(r.urls).toEqual(inOrder);
    expect(r.urls).toEqual(fixture('copera/presigned-urls.json').urls);
    expect(r.urlTtlMs).toBe(3_600_000);
  });

  it('refreshUrls asks again for the same upload (fresh URLs, same session)', async () => {
    const presign = capture();
    nock(CP, AUTH).post(PRESIGN, presign.fn).reply(200, { urls: [s3url(1), s3url(2)] });
    const before = Date.now();
    const r = await provider().refreshUrls(session(2));
    expect(presign.body).toEqual({ uploadId: 'up-1', fileKey: 'fk/1', parts: 2 });
    expect(r.urlsIssuedAt).toBeGreaterThanOrEqual(before);
  });

  it.each([
    ['too few urls', { urls: [s3url(1), s3url(2)] }],
    ['too many urls', { urls: [s3url(1), s3url(2), s3url(3), s3url(4)] }],
    ['too few parts', { parts: [{ signedUrl: s3url(1), PartNumber: 1 }] }],
    ['a repeated part number', { parts: [1, 1, 2].map((n) => ({ signedUrl: s3url(n), PartNumber: n })) }],
    ['numbers not from 1', { parts: [2, 3, 4].map((n) => ({ signedUrl: s3url(n), PartNumber: n })) }],
    ['a URL that is not http(s)', { urls: [s3url(1), 'file:///etc/passwd', s3url(3)] }],
    ['neither shape', { signed: [] }],
  ])('rejects %s as a server error', async (_n, body) => {
    nock(CP).post(PRESIGN).reply(200, body);
    const e = await rejection(provider().refreshUrls(session(3)));
    expect(e.kind).toBe('server');
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('presigned');
  });

  it('refuses plain http URLs from its https API, naming the part, in one line', async () => {
    nock(CP).post(PRESIGN).reply(200, { urls: [s3url(1), s3url(2).replace(/^https:/, 'http:'), s3url(3)] });
    const e = await rejection(provider().refreshUrls(session(3)));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toBe(
      "Copera returned presigned URLs lakeup cannot use: part 2's upload URL is plain http:// while the API is https://: lakeup does not send a file unencrypted",
    );
  });

  it('names the counts when the number of URLs is wrong', () => {
    expect(thrown(() => presignedUrls({ urls: ['https://a'] }, 2, COPERA_ORIGIN)).message).toContain('asked for 2 URLs, got 1');
  });

  it('uses the documented default endpoint', () => {
    expect(COPERA_ORIGIN).toBe('https://api.copera.ai');
  });
});

describe('Copera: finalize', () => {
  const parts: FinishedPart[] = [
    { number: 3, etag: 'cc', size: 5 * MiB },
    { number: 1, etag: 'aa', size: 10 * MiB },
    { number: 2, etag: '"bb"', size: 10 * MiB },
  ];

  it('sends every part in order as {partNumber, eTag}, unquoted', async () => {
    const c = capture();
    const scope = nock(CP, AUTH).post(FINALIZE, c.fn).reply(200, fixture('copera/finalized.json'));
    await provider().finalize(session(3), parts, req(25 * MiB));
    expect(scope.isDone()).toBe(true);
    expect(JSON.stringify(c.body)).toBe(
      '{"uploadId":"up-1","fileKey":"fk/1","parts":[{"partNumber":1,"eTag":"aa"},{"partNumber":2,"eTag":"bb"},{"partNumber":3,"eTag":"cc"}]}',
    );
    expect(compareShape(fixture('copera/finalize-request.json'), c.body)).toEqual([]);
  });

  it.each([
    ['{_id, name, …} (fixtures/copera/finalized.json)', fixture('copera/finalized.json'), '65a1b2c3d4e5f60718293b02'],
    ['{id, name, …} (fixtures/copera/finalized-sdk.json)', fixture('copera/finalized-sdk.json'), '65a1b2c3d4e5f60718293b02'],
    ['{_id, name, …} at the root (parent null)', { ...fixture('copera/finalized.json'), _id: 'aaaaaaaaaaaaaaaaaaaaaaaa', parent: null }, 'aaaaaaaaaaaaaaaaaaaaaaaa'],
    ['{id, name, …} at the root (parentId null)', { ...fixture('copera/finalized-sdk.json'), id: 'bbbbbbbbbbbbbbbbbbbbbbbb', parentId: null }, 'bbbbbbbbbbbbbbbbbbbbbbbb'],
  ])('maps the item shape %s', async (_n, body, id) => {
    nock(CP).post(FINALIZE).reply(200, body);
    const item = await provider().finalize(session(3), parts, req(25 * MiB));
    expect(item.id).toBe(id);
    expect(item.name).toBe('report.pdf');
    expect(item.raw).toEqual(body);
  });

  it.each([
    ['size', { ...fixture('copera/finalized.json'), size: 25 * MiB - 1 }],
    ['fileSize', { ...fixture('copera/finalized-sdk.json'), fileSize: 25 * MiB + 1 }],
  ])('rejects an item whose %s disagrees with the file as an integrity error', async (_n, body) => {
    nock(CP).post(FINALIZE).reply(200, body);
    const e = await rejection(provider().finalize(session(3), parts, req(25 * MiB)));
    expect(e).toMatchObject({ kind: 'integrity', code: 'SIZE_MISMATCH' });
  });

  it('rejects an answer without an id', async () => {
    nock(CP).post(FINALIZE).reply(200, { name: 'report.pdf' });
    const e = await rejection(provider().finalize(session(3), parts, req(25 * MiB)));
    expect(e.code).toBe('BAD_RESPONSE');
  });

  it.each([500, 503])('is not retried after a %d (a gateway may answer it after the origin acted)', async (status) => {
    const scope = nock(CP).post(FINALIZE).reply(status, fixture('copera/error-internal.json')).post(FINALIZE).reply(200, fixture('copera/finalized.json'));
    const e = await rejection(provider().finalize(session(3), parts, req(25 * MiB)));
    expect(e.status).toBe(status);
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it.each([429])('is retried after a %d', async (status) => {
    const scope = nock(CP)
      .post(FINALIZE)
      .reply(status, fixture('copera/error-rate-limited.json'), { 'Retry-After': '0' })
      .post(FINALIZE)
      .reply(200, fixture('copera/finalized-sdk.json'));
    await expect(provider().finalize(session(3), parts, req(25 * MiB))).resolves.toMatchObject({ id: '65a1b2c3d4e5f60718293b02', name: 'report.pdf' });
    expect(scope.isDone()).toBe(true);
  });

  it('creates a folder with name and parentId', async () => {
    const c = capture();
    nock(CP).post('/public/v1/drive/folders', c.fn).reply(200, fixture('copera/folder.json'));
    await expect(provider().createFolder('reports', PARENT)).resolves.toMatchObject({ id: '65a1b2c3d4e5f60718293b01', name: 'reports' });
    expect(c.body).toEqual({ name: 'reports', parentId: PARENT });
    expect(c.body).toEqual(fixture('copera/folder-request.json'));
  });

  it('reads a created folder in the SDK spelling', async () => {
    nock(CP).post('/public/v1/drive/folders').reply(200, fixture('copera/folder-sdk.json'));
    await expect(provider().createFolder('reports', PARENT)).resolves.toMatchObject({ id: '65a1b2c3d4e5f60718293b01', name: 'reports' });
  });
});

describe('Copera: errors', () => {
  it.each([
    [400, 'error-validation.json', 'fileSize must be positive', 'INVALID_FILE_SIZE', 'server', 1],
    [401, 'error-token-expired.json', 'Token expired', 'TOKEN_EXPIRED', 'auth', 3],
    [403, 'error-scope.json', 'Missing scope drive', 'INSUFFICIENT_SCOPE', 'auth', 3],
    [404, 'error-not-found-message.json', 'Folder not found', 'NOT_FOUND', 'server', 1],
    [404, 'error-not-found.json', 'File not found', 'NOT_FOUND', 'server', 1],
    [409, 'error-conflict.json', 'A file with this name exists', 'CONFLICT', 'conflict', 1],
  ])('HTTP %d (fixtures/copera/%s) becomes one line with message, code and status', async (status, file, message, code, kind, exit) => {
    nock(CP).post(START).reply(status, fixture(`copera/${file}`));
    const e = await rejection(provider().createSession(req(10)));
    expect(e.kind).toBe(kind);
    expect(e.exitCode).toBe(exit);
    expect(e.message).toContain('Copera');
    expect(e.message).toContain(message);
    expect(e.message).toContain(code);
    expect(e.message).toContain(`HTTP ${status}`);
    expect(e.message).not.toMatch(/[\r\n]/);
  });

  it('retries a 429 with Retry-After and then succeeds', async () => {
    const scope = nock(CP)
      .post(START)
      .reply(429, fixture('copera/error-rate-limited.json'), { 'Retry-After': '0.05', 'x-ratelimit-remaining': '0' })
      .post(START)
      .reply(200, fixture('copera/start.json'))
      .post(PRESIGN)
      .reply(200, { urls: [s3url(1)] });
    await expect(provider().createSession(req(10))).resolves.toMatchObject({ uploadId: fixture('copera/start.json').uploadId });
    expect(scope.isDone()).toBe(true);
  });

  it('a non-JSON 200 is a server error mentioning "not JSON"', async () => {
    nock(CP).post(START).reply(200, '<!doctype html><title>Login</title>');
    const e = await rejection(provider().createSession(req(10)));
    expect(e.message).toContain('not JSON');
  });

  it('never shows the token', async () => {
    nock(CP).post(START).reply(401, { error: `token ${TOKEN} expired`, code: 'TOKEN_EXPIRED' });
    const e = await rejection(provider().createSession(req(10)));
    expect(e.message).not.toContain(TOKEN);
    expect(e.message).not.toContain('0123456789abcdef');
  });

  it('a refused connection is a "could not connect" network error', async () => {
    const port = await closedPort();
    const e = await rejection(provider({ endpoint: `http://127.0.0.1:${port}`, retries: 1 }).createSession(req(10)));
    expect(e.kind).toBe('network');
    expect(e.message).toContain('could not connect to Copera');
    expect(e.message).not.toContain(TOKEN);
  });
});

describe('Copera: preview (for --dry-run, no API call)', () => {
  it('shows the part size and count lakeup will use', () => {
    expect(provider().preview(req(25 * MiB))).toEqual({ serverDecides: false, partSize: 10 * MiB, parts: 3, destination: 'root/report.pdf' });
    expect(provider().preview(req(25 * MiB, { parent: PARENT }, 5 * MiB))).toMatchObject({ partSize: 5 * MiB, parts: 5, destination: `${PARENT}/report.pdf` });
  });
});
