// The sandbox answers in the shapes the client is tested against. The nock unit tests feed the
// recorded bodies in fixtures/ to the providers' code; this test makes each documented call to a
// real `lakeup sandbox` (in-process, real sockets), with the recorded request bodies where there is
// one, and checks every answer against the recording of that answer: the same keys, the same value
// types, recursively (arrays by the merged shape of their elements; see shape.ts), and S3 XML errors
// by their elements and their Code and Message. A mismatch names the path that differs. So the
// client and the sandbox cannot drift apart without one of the two suites failing.
import { describe, expect, it } from 'vitest';

import type { SandboxOptions } from '../../src/sandbox/server.js';
import type { SandboxHandle } from '../../src/sandbox/server.js';
import { api, apiGet, bytes, CP, CP_FILES, CP_FOLDERS, CP_SEARCH, CP_TREE, md5, MiB, ML_ITEMS, ML_UPLOAD, mlUpload, put, sandbox } from '../sandbox/helpers.js';
import type { Answer } from '../sandbox/helpers.js';
import { fixture, fixtureText } from '../unit/fixtures.js';
import { compareShape, compareXmlError } from './shape.js';

/** `a` has status `status`, is JSON, and has the shape of `body` (by default fixtures/<file>). */
function expectLike(a: Answer, status: number, file: string, body: unknown = fixture(file)): void {
  expect(a.status, `status of the answer compared with fixtures/${file} (body: ${a.text.slice(0, 300)})`).toBe(status);
  expect(a.headers['content-type'], `content type of the answer compared with fixtures/${file}`).toMatch(/^application\/json\b/);
  expect(compareShape(body, a.json), `where the answer departs from fixtures/${file}`).toEqual([]);
}

/** `a` is the S3 XML error recorded in fixtures/s3/<file>, with status `status`. */
function expectS3Error(a: Answer, status: number, file: string): void {
  expect(a.status, `status of the answer compared with fixtures/s3/${file} (body: ${a.text.slice(0, 300)})`).toBe(status);
  expect(a.headers['content-type']).toMatch(/^application\/xml\b/);
  expect(compareXmlError(fixtureText(`s3/${file}`), a.text), `where the answer departs from fixtures/s3/${file}`).toEqual([]);
}

const names = (items: Array<{ name: string }>) => items.map((i) => i.name);

describe('MemoryLake answers like its recordings', () => {
  it('create session → part PUTs → Create Item, with the recorded request bodies', async () => {
    const sb = await sandbox();
    const request = fixture('memorylake/create-session-request.json');
    const session = await api(sb, ML_UPLOAD, request);
    expectLike(session, 200, 'memorylake/session-created.json');

    // The layout covers the file; each part PUT of exactly its size answers the part's MD5, quoted.
    const data = bytes(request.file_size);
    const partEtags: Array<{ number: number; etag: string }> = [];
    let offset = 0;
    for (const p of session.json.data.part_items as Array<{ number: number; size: number; upload_url: string }>) {
      const body = data.subarray(offset, (offset += p.size));
      const r = await put(p.upload_url, body, { 'content-type': 'application/octet-stream' });
      expect(r.status).toBe(200);
      expect(r.headers.etag).toBe(`"${md5(body)}"`);
      partEtags.push({ number: p.number, etag: md5(body) });
    }
    expect(offset).toBe(request.file_size);

    const create = fixture('memorylake/create-item-file-request.json');
    create.from = { upload_id: session.json.data.upload_id, part_etags: partEtags };
    expect(compareShape(fixture('memorylake/create-item-file-request.json'), create)).toEqual([]);
    expectLike(await api(sb, ML_ITEMS, create), 200, 'memorylake/item-created.json');
  });

  it('Create Item of a folder', async () => {
    const sb = await sandbox();
    expectLike(await api(sb, ML_ITEMS, fixture('memorylake/create-item-folder-request.json')), 200, 'memorylake/folder-created.json');
  });

  it("a folder's children page by page (folders say type 'directory'), renamed files named as recorded", async () => {
    const sb = await sandbox();
    const projects = await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'projects', name_conflict_strategy: 'rename' });
    const folder: string = projects.json.data.item_id;
    await api(sb, ML_ITEMS, { ...fixture<Record<string, unknown>>('memorylake/create-item-folder-request.json'), parent_item_id: folder });
    const into = { parent_item_id: folder };
    await mlUpload(sb, 'big.zip', bytes(3000), { ...into, x_attrs: { source: 'lakeup' } });
    await mlUpload(sb, 'big.zip', bytes(3000), into); // → big_1.zip
    await mlUpload(sb, 'notes.txt', bytes(12), into);
    await mlUpload(sb, 'big.zip', bytes(1000), into); // → big_2.zip

    const pages = ['children-page1.json', 'children-page2.json', 'children-page3.json'];
    // The three pages are one listing: an item of any page may have the fields an item of another
    // page has (the optional times, etag), so each page's items are held to the whole listing's.
    const listing = pages.flatMap((p) => fixture(`memorylake/${p}`).data.items);
    const seen: string[] = [];
    let token: string | null = null;
    for (const page of pages) {
      const query: string = `page_size=2${token ? `&continuation_token=${encodeURIComponent(token)}` : ''}`;
      const a = await apiGet(sb, `${ML_ITEMS}/${encodeURIComponent(folder)}/children?${query}`);
      const recorded = fixture(`memorylake/${page}`);
      recorded.data.items = listing;
      expectLike(a, 200, `memorylake/${page}`, recorded);
      seen.push(...names(a.json.data.items));
      token = a.json.data.continuation_token;
    }
    expect(token).toBeNull();
    expect(seen).toEqual(pages.flatMap((p) => names(fixture(`memorylake/${p}`).data.items)));
  });

  it('the root (MY_SPACE) in one page', async () => {
    const sb = await sandbox();
    await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'projects' });
    await mlUpload(sb, 'readme.md', bytes(2048));
    const recorded = fixture('memorylake/children-root.json');
    // The docs end a listing with the token absent or null; the recording has it absent, the
    // sandbox always sends null on the last page.
    recorded.data.continuation_token = null;
    expectLike(await apiGet(sb, `${ML_ITEMS}/MY_SPACE/children?page_size=50`), 200, 'memorylake/children-root.json', recorded);
  });

  it('one item, nested under data.item', async () => {
    const sb = await sandbox();
    const folder = (await api(sb, ML_ITEMS, { item_type: 'folder', parent_item_id: 'MY_SPACE', name: 'projects' })).json.data.item_id;
    const made = await mlUpload(sb, 'big_1.zip', bytes(5000), { parent_item_id: folder });
    expectLike(await apiGet(sb, `${ML_ITEMS}/${encodeURIComponent(made.json.data.item_id)}`), 200, 'memorylake/item.json');
  });

  it('error bodies: 401 from the auth gateway, 404, 400, 409', async () => {
    const sb = await sandbox();
    expectLike(await api(sb, ML_UPLOAD, { file_size: 1 }, { token: 'sk_wrong' }), 401, 'memorylake/error-unauthorized.json');
    expectLike(await apiGet(sb, `${ML_ITEMS}/MY_SPACE/children`, { token: null }), 401, 'memorylake/error-unauthorized.json');
    expectLike(await apiGet(sb, `${ML_ITEMS}/sc-0000:nothing`), 404, 'memorylake/error-not-found.json');
    expectLike(await api(sb, ML_UPLOAD, { file_size: 0 }), 400, 'memorylake/error-invalid-argument.json');
    const deny = { ...fixture('memorylake/create-item-folder-request.json'), name_conflict_strategy: 'deny' };
    expect((await api(sb, ML_ITEMS, deny)).status).toBe(200);
    expectLike(await api(sb, ML_ITEMS, deny), 409, 'memorylake/error-conflict.json');
  });

  it('429 past the account rate, with Retry-After', async () => {
    const sb = await sandbox({ apiRate: 1 });
    const a = await firstRefused(() => apiGet(sb, `${ML_ITEMS}/MY_SPACE/children`));
    expectLike(a, 429, 'memorylake/error-rate-limited.json');
    expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});

/** Calls until one answer is a 429 (at most 10 calls). */
async function firstRefused(call: () => Promise<Answer>): Promise<Answer> {
  for (let i = 0; i < 10; i++) {
    const a = await call();
    if (a.status === 429) return a;
  }
  throw new Error('no call was refused with 429');
}

// ---------------------------------------------------------------------------------------------
// Copera: both shapes, asked for per request (x-sandbox-shape) or as the sandbox's default.

interface Variant {
  label: string;
  opts: SandboxOptions;
  headers: Record<string, string>;
  /** Suffix of the fixture in this shape: '' (the docs' spelling) or '-sdk' (the Node SDK's). */
  sfx: '' | '-sdk';
}

const VARIANTS: Variant[] = [
  { label: 'the docs shape (the default)', opts: {}, headers: {}, sfx: '' },
  { label: 'the docs shape (x-sandbox-shape: docs)', opts: { coperaShape: 'sdk' }, headers: { 'x-sandbox-shape': 'docs' }, sfx: '' },
  { label: 'the SDK shape (x-sandbox-shape: sdk)', opts: {}, headers: { 'x-sandbox-shape': 'sdk' }, sfx: '-sdk' },
  { label: 'the SDK shape (coperaShape: sdk)', opts: { coperaShape: 'sdk' }, headers: {}, sfx: '-sdk' },
];

const idOf = (item: { _id?: string; id?: string }): string => (item._id ?? item.id)!;

/** URLs in part order from either presigned-urls shape. */
function urlsOf(body: { urls?: string[]; parts?: Array<{ signedUrl: string; PartNumber: number }> }): string[] {
  return body.urls ?? [...body.parts!].sort((a, b) => a.PartNumber - b.PartNumber).map((p) => p.signedUrl);
}

/** A whole Copera upload in parts of `partSize`; returns the finalize answer. */
async function coperaUpload(sb: SandboxHandle, headers: Record<string, string>, name: string, data: Buffer, parentId?: string, partSize = 10 * MiB) {
  const start = await api(sb, `${CP}/start`, { fileName: name, fileSize: data.length, mimeType: 'application/pdf', ...(parentId ? { parentId } : {}) }, { headers });
  const { uploadId, fileKey } = start.json;
  const n = Math.max(1, Math.ceil(data.length / partSize));
  const urls = urlsOf((await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: n }, { headers })).json);
  const parts = [];
  for (let i = 0; i < n; i++) {
    const body = data.subarray(i * partSize, (i + 1) * partSize);
    const r = await put(urls[i]!, body);
    expect(r.status).toBe(200);
    parts.push({ partNumber: i + 1, eTag: String(r.headers.etag).replace(/"/g, '') });
  }
  return api(sb, `${CP}/finalize`, { uploadId, fileKey, parts }, { headers });
}

describe.each(VARIANTS)('Copera answers like its recordings in $label', ({ opts, headers, sfx }) => {
  it('folders, start, presigned URLs, part PUTs, finalize, with the recorded request bodies', async () => {
    const sb = await sandbox(opts);
    const projects = idOf((await api(sb, CP_FOLDERS, { name: 'Projects' }, { headers })).json);
    expectLike(await api(sb, CP_FOLDERS, { ...fixture<Record<string, unknown>>('copera/folder-request.json'), parentId: projects }, { headers }), 200, `copera/folder${sfx}.json`);

    const startRequest = { ...fixture('copera/start-request.json'), parentId: projects };
    const started = await api(sb, `${CP}/start`, startRequest, { headers });
    expectLike(started, 200, 'copera/start.json');

    const presignRequest = { ...fixture('copera/presigned-urls-request.json'), uploadId: started.json.uploadId, fileKey: started.json.fileKey };
    const presigned = await api(sb, `${CP}/presigned-urls`, presignRequest, { headers });
    expectLike(presigned, 200, `copera/presigned-urls${sfx}.json`);

    // 25 MiB in the recorded 3 parts: 10 + 10 + 5 MiB (S3's rules: all but the last ≥ 5 MiB).
    const data = bytes(startRequest.fileSize);
    const urls = urlsOf(presigned.json);
    expect(urls).toHaveLength(presignRequest.parts);
    const parts = [];
    for (const [i, url] of urls.entries()) {
      const body = data.subarray(i * 10 * MiB, (i + 1) * 10 * MiB);
      const r = await put(url, body);
      expect(r.status).toBe(200);
      expect(r.headers.etag).toBe(`"${md5(body)}"`);
      parts.push({ partNumber: i + 1, eTag: md5(body) });
    }
    const finalize = { ...fixture('copera/finalize-request.json'), uploadId: started.json.uploadId, fileKey: started.json.fileKey, parts };
    expect(compareShape(fixture('copera/finalize-request.json'), finalize)).toEqual([]);
    expectLike(await api(sb, `${CP}/finalize`, finalize, { headers }), 200, `copera/finalized${sfx}.json`);
  });

  it("a folder's tree, one file, and search; renamed files named as recorded", async () => {
    const sb = await sandbox(opts);
    const projects = idOf((await api(sb, CP_FOLDERS, { name: 'Projects' }, { headers })).json);
    const reports = idOf((await api(sb, CP_FOLDERS, { ...fixture<Record<string, unknown>>('copera/folder-request.json'), parentId: projects }, { headers })).json);
    await coperaUpload(sb, headers, 'summary.pdf', bytes(100), reports);
    await coperaUpload(sb, headers, 'report.pdf', bytes(2048), projects);
    const renamed = (await coperaUpload(sb, headers, 'report.pdf', bytes(1024), projects)).json; // → report (1).pdf

    const tree = await apiGet(sb, `${CP_TREE}?parentId=${projects}&depth=1`, { headers });
    expectLike(tree, 200, `copera/tree-folder${sfx}.json`);
    expect(names(tree.json.root)).toEqual(names(fixture(`copera/tree-folder${sfx}.json`).root));

    expectLike(await apiGet(sb, `${CP_FILES}/${idOf(renamed)}`, { headers }), 200, `copera/file${sfx}.json`);

    const search = await apiGet(sb, `${CP_SEARCH}?q=report.pdf&limit=50`, { headers });
    // search.json mixes both spellings (a client test); search-capped.json is the SDK's alone.
    expectLike(search, 200, sfx === '' ? 'copera/search.json' : 'copera/search-capped.json');
    expect(search.json.hits.length).toBeGreaterThan(0);
    for (const hit of search.json.hits) expect(compareShape(fixture(`copera/file${sfx}.json`), hit), `search hit ${hit.name}`).toEqual([]);
  });
});

describe('Copera answers like its recordings (docs shape only: recorded in that spelling)', () => {
  it('the tree of the root', async () => {
    const sb = await sandbox();
    await api(sb, CP_FOLDERS, { name: 'Projects' });
    await coperaUpload(sb, {}, 'todo.txt', bytes(120));
    expectLike(await apiGet(sb, `${CP_TREE}?depth=1`), 200, 'copera/tree-root.json');
  });

  it('a tree cut at 500 items names the folder itself in nextParentIds (our reading: there is no cursor)', async () => {
    const sb = await sandbox();
    const projects = idOf((await api(sb, CP_FOLDERS, { name: 'Projects' })).json);
    sb.seed([
      { provider: 'copera', type: 'folder', name: 'reports', parentId: projects },
      ...Array.from({ length: 500 }, (_, i) => ({ provider: 'copera' as const, type: 'file' as const, name: `summary ${i}.pdf`, parentId: projects, size: 4096, mimeType: 'application/pdf' })),
    ]);
    const tree = await apiGet(sb, `${CP_TREE}?parentId=${projects}&depth=1`);
    expectLike(tree, 200, 'copera/tree-truncated.json');
    expect(tree.json).toMatchObject({ truncated: true, totalItems: 500, nextParentIds: [projects] });
  });

  it('error bodies: 401, 404, 400', async () => {
    const sb = await sandbox();
    expectLike(await apiGet(sb, `${CP_TREE}?depth=1`, { token: 'cp_pat_expired' }), 401, 'copera/error-token-expired.json');
    expectLike(await api(sb, `${CP}/start`, { fileName: 'a.pdf', fileSize: 1, mimeType: 'application/pdf' }, { token: null }), 401, 'copera/error-token-expired.json');
    expectLike(await apiGet(sb, `${CP_FILES}/65a1b2c3d4e5f60718293fff`), 404, 'copera/error-not-found.json');
    expectLike(await api(sb, `${CP}/start`, { fileName: 'a.pdf', fileSize: -1, mimeType: 'application/pdf' }), 400, 'copera/error-validation.json');
  });

  it('429 past the account rate, with Retry-After and x-ratelimit-* headers', async () => {
    const sb = await sandbox({ apiRate: 1 });
    const a = await firstRefused(() => apiGet(sb, `${CP_TREE}?depth=1`));
    expectLike(a, 429, 'copera/error-rate-limited.json');
    expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) expect(a.headers[h], h).toMatch(/^\d+$/);
  });
});

// ---------------------------------------------------------------------------------------------
// The storage behind the presigned URLs answers errors as S3 does.

describe('part PUTs answer S3 XML errors like the recordings', () => {
  /** The URL of part 1 of a fresh one-part Copera upload of 1 KiB. */
  async function partUrl(sb: SandboxHandle): Promise<{ url: string; body: Buffer; uploadId: string; fileKey: string }> {
    const start = await api(sb, `${CP}/start`, { fileName: 'x.bin', fileSize: 1024, mimeType: 'application/octet-stream' });
    const { uploadId, fileKey } = start.json;
    const [url] = urlsOf((await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 1 })).json);
    return { url: url!, body: bytes(1024), uploadId, fileKey };
  }

  it('403 AccessDenied "Request has expired" for an expired URL', async () => {
    const sb = await sandbox();
    const { url, body } = await partUrl(sb);
    sb.expireAllUrls();
    expectS3Error(await put(url, body), 403, 'access-denied-expired.xml');
  });

  it('403 SignatureDoesNotMatch for an altered URL', async () => {
    const sb = await sandbox();
    const { url, body } = await partUrl(sb);
    const altered = url.replace(/(X-Amz-Signature=[0-9a-f]*)([0-9a-f])$/, (_m, head: string, last: string) => `${head}${last === '0' ? '1' : '0'}`);
    expect(altered).not.toBe(url);
    expectS3Error(await put(altered, body), 403, 'signature-does-not-match.xml');
  });

  it('400 InvalidArgument when a bearer token comes with a presigned URL', async () => {
    const sb = await sandbox();
    const { url, body } = await partUrl(sb);
    expectS3Error(await put(url, body, { authorization: 'Bearer lakeup-sandbox' }), 400, 'invalid-argument-one-auth.xml');
  });

  it('503 SlowDown with Retry-After (throttle fault)', async () => {
    const sb = await sandbox();
    const { url, body } = await partUrl(sb);
    sb.setFaults({ throttleRate: 1 }); // after the API calls, which it would throttle too
    const a = await put(url, body);
    expectS3Error(a, 503, 'slow-down.xml');
    expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('500 InternalError (fail fault)', async () => {
    const sb = await sandbox({ faults: { failRate: 1 }, seed: 1 });
    const { url, body } = await partUrl(sb);
    // The fail fault picks 500, 502, 503 or 504 at random: send until a 500 comes.
    let a = await put(url, body);
    for (let i = 0; i < 64 && a.status !== 500; i++) a = await put(url, body);
    expectS3Error(a, 500, 'internal-error.xml');
  });

  it('404 NoSuchUpload for a part of a finalized upload', async () => {
    const sb = await sandbox();
    const { url, body, uploadId, fileKey } = await partUrl(sb);
    const r = await put(url, body);
    const finalized = await api(sb, `${CP}/finalize`, { uploadId, fileKey, parts: [{ partNumber: 1, eTag: String(r.headers.etag).replace(/"/g, '') }] });
    expect(finalized.status).toBe(200);
    expectS3Error(await put(url, body), 404, 'no-such-upload.xml');
  });
});
