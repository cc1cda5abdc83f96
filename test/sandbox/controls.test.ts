import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';

import { decodeAwsChunked } from '../../src/sandbox/objects.js';
import { runSandboxCommand } from '../../src/sandbox/server.js';
import { api, bytes, CP, get, md5, MiB, ML_UPLOAD, mlUpload, put, s3Code, sameBytes, sandbox, startSandboxCommand } from './helpers.js';

describe('scripted answers', () => {
  it('answer the next `times` matching requests verbatim, then the real thing resumes', async () => {
    const sb = await sandbox();
    sb.script({ route: 'memorylake.create', status: 200, body: '{"success":tru' });
    sb.script({ route: 'memorylake.create', status: 200, body: { success: true, data: { upload_id: 'upl-x', part_items: [{ number: 1, size: 5, upload_url: 'http://x' }] } } });
    const malformed = await api(sb, ML_UPLOAD, { file_size: 10 });
    expect(malformed.status).toBe(200);
    expect(malformed.text).toBe('{"success":tru');
    expect(malformed.headers['content-type']).toMatch(/application\/json/);
    const short = await api(sb, ML_UPLOAD, { file_size: 10 });
    expect(short.json.data.part_items[0].size).toBe(5); // a layout that does not cover the file
    expect((await api(sb, ML_UPLOAD, { file_size: 10 })).json.data.part_items[0].size).toBe(10);

    sb.script({ route: 'memorylake.item', status: 402, body: { success: false, message: 'quota exceeded', error_code: 'QUOTA_EXCEEDED' } });
    const quota = await mlUpload(sb, 'q.bin', bytes(10));
    expect(quota.status).toBe(402);
    expect(quota.json.error_code).toBe('QUOTA_EXCEEDED');

    sb.script({ route: 'copera.start', status: 503, times: 2, headers: { 'Retry-After': '3' } });
    const start = () => api(sb, `${CP}/start`, { fileName: 'a', fileSize: 1, mimeType: 'a/b' });
    expect((await start()).status).toBe(503);
    const second = await start();
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('3');
    expect((await start()).status).toBe(200);

    // Scripts run after authentication: a wrong token still gets 401.
    sb.script({ route: 'copera.start', status: 500 });
    expect((await api(sb, `${CP}/start`, {}, { token: 'nope' })).status).toBe(401);
    expect((await start()).status).toBe(500);
  });

  it('script part PUTs with an XML answer', async () => {
    const sb = await sandbox();
    const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: 100 })).json.data;
    sb.script({ route: 'part', status: 400, body: '<Error><Code>IncompleteBody</Code></Error>' });
    const r = await put(part_items[0].upload_url, bytes(100));
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/xml');
    expect(s3Code(r.text)).toBe('IncompleteBody');
    expect(sb.stats().partsStored[upload_id]).toBeUndefined();
    expect((await put(part_items[0].upload_url, bytes(100))).status).toBe(200);
  });

  it('refuse malformed rules', async () => {
    const sb = await sandbox();
    expect(() => sb.script({ route: 'nope' as never, status: 500 })).toThrow(/route/);
    expect(() => sb.script({ route: 'part' } as never)).toThrow(/status/);
    expect(() => sb.script({ route: 'part', status: 500, times: 0 })).toThrow(/times/);
    const r = await request(`${sb.origin}/_sandbox/script`, { method: 'POST', body: '{"route":"part"}' });
    expect(r.statusCode).toBe(400);
    expect(((await r.body.json()) as { error: string }).error).toMatch(/status/);
  });
});

describe('control routes', () => {
  it('set faults, queue scripts and report stats over HTTP', async () => {
    const sb = await sandbox({ memorylakePartSize: 100 });
    const post = (path: string, body: unknown) =>
      request(`${sb.origin}${path}`, { method: 'POST', body: JSON.stringify(body) }).then(async (r) => ({ status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> }));
    expect(await post('/_sandbox/faults', { failRate: 1 })).toEqual({ status: 200, json: { ok: true, faults: { failRate: 1 } } });
    const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: 150 })).json.data;
    expect((await put(part_items[0].upload_url, bytes(100))).status).toBeGreaterThanOrEqual(500);
    expect((await post('/_sandbox/faults', {})).status).toBe(200);
    expect((await put(part_items[0].upload_url, bytes(100))).status).toBe(200);
    expect((await post('/_sandbox/faults', { failRate: 'high' })).status).toBe(400);
    expect((await post('/_sandbox/script', { route: 'part', status: 500, times: 1 })).status).toBe(200);
    expect((await put(part_items[1].upload_url, bytes(50))).status).toBe(500);

    const stats = await get(`${sb.origin}/_sandbox/stats`);
    expect(stats.status).toBe(200);
    expect(stats.json).toEqual(sb.stats());
    expect(stats.json).toMatchObject({
      partPuts: { [upload_id]: { 1: 2, 2: 1 } },
      partsStored: { [upload_id]: { 1: 1 } },
      totalPartPuts: 3,
      apiCalls: { 'memorylake.create': 1 },
      bytesReceived: 250,
      sessions: 1,
      finalized: [],
      faultsInjected: { fail: 1, reset: 0, throttle: 0, corrupt: 0, stall: 0 },
    });
    expect((await get(`${sb.origin}/_sandbox/nope`)).status).toBe(404);
    expect((await get(`${sb.origin}/nope`)).status).toBe(404);
  });

  it('report the counters alone, the lists as their lengths (cheap to poll at 100,000 files)', async () => {
    const sb = await sandbox();
    expect((await mlUpload(sb, 'a.bin', bytes(10))).status).toBe(200);
    expect((await mlUpload(sb, 'b.bin', bytes(10))).status).toBe(200);
    const counts = await get(`${sb.origin}/_sandbox/counts`);
    expect(counts.status).toBe(200);
    expect(counts.json).toEqual({ apiCalls: sb.stats().apiCalls, totalPartPuts: 2, sessions: 2, finalized: 2, foldersCreated: 0 });
    expect(sb.stats().finalized).toHaveLength(2);
  });

  it('log one line per request without the query signature', async () => {
    const lines: string[] = [];
    const sb = await sandbox({ log: (l) => lines.push(l) });
    const { part_items } = (await api(sb, ML_UPLOAD, { file_size: 10 })).json.data;
    await put(part_items[0].upload_url, bytes(10));
    await waitFor('both requests logged', () => lines.length >= 2);
    expect(lines[0]).toMatch(/^POST \/openapi\/memorylake\/api\/v1\/drives\/items\/upload 200 \d+ms$/);
    expect(lines[1]).toMatch(/^PUT \/storage\/memorylake-sandbox\/uploads\/upl-\w+\?uploadId=upl-\w+&partNumber=1 200 \d+ms$/);
    expect(lines.join('\n')).not.toContain('X-Amz-Signature');
  });
});

describe('sink mode', () => {
  it('counts and discards parts unhashed (ETags that are not MD5s) and writes no file, reporting what would have been finalized', async () => {
    const sb = await sandbox({ sink: true, memorylakePartSize: 1000 });
    const data = bytes(2500);
    const r = await mlUpload(sb, 'big.iso', data);
    expect(r.status).toBe(200);
    expect(r.json.data.name).toBe('big.iso');
    expect((await mlUpload(sb, 'big.iso', data)).json.data.name).toBe('big_1.iso');
    expect(readdirSync(sb.dir)).toEqual([]);
    const stats = sb.stats();
    expect(stats.finalized[0]).toMatchObject({ provider: 'memorylake', name: 'big.iso', path: null, size: 2500 });
    expect(stats.bytesReceived).toBe(5000);

    const plain = await put(`${sb.origin}/plain/x.bin`, data);
    expect(plain.headers.etag).toMatch(/^"sink-\d+"$/);
    expect(readdirSync(sb.dir)).toEqual([]);
  });
});

describe('benchmark baselines', () => {
  it('PUT /plain/<name> streams one body to <dir>/plain/<name> and answers its MD5 ETag', async () => {
    const sb = await sandbox({ faults: { failRate: 1 } });
    const data = bytes(3 * MiB);
    const r = await put(`${sb.origin}/plain/one.bin`, data);
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe(`"${md5(data)}"`);
    expect(await sameBytes(join(sb.dir, 'plain', 'one.bin'), data)).toBe(true);
    expect(sb.stats().finalized).toEqual([{ provider: 'plain', name: 'one.bin', path: join(sb.dir, 'plain', 'one.bin'), size: data.length, etag: md5(data) }]);
    expect((await put(`${sb.origin}/plain/..%2Fescape`, data)).status).toBe(400);
  });

  it('speaks path-style S3 multipart at /s3/<bucket>/<key> (lib-storage keeps the endpoint path)', async () => {
    const sb = await sandbox();
    const base = `${sb.origin}/s3/bench/dir/obj.bin`;
    const init = await request(`${base}?uploads=&x-id=CreateMultipartUpload`, { method: 'POST', headers: { authorization: 'AWS4-HMAC-SHA256 whatever' } });
    const initXml = await init.body.text();
    expect(init.statusCode).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(initXml)![1]!;
    expect(initXml).toContain('<Key>dir/obj.bin</Key>');

    const data = bytes(5 * MiB + 10);
    const p1 = await put(`${base}?x-id=UploadPart&partNumber=1&uploadId=${uploadId}`, data.subarray(0, 5 * MiB), { authorization: 'AWS4 x' });
    const p2 = await put(`${base}?x-id=UploadPart&partNumber=2&uploadId=${uploadId}`, data.subarray(5 * MiB));
    expect(p1.headers.etag).toBe(`"${md5(data.subarray(0, 5 * MiB))}"`);
    const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>${p1.headers.etag}</ETag><PartNumber>1</PartNumber></Part><Part><ETag>&quot;${String(p2.headers.etag).slice(1, -1)}&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>`;
    const done = await request(`${base}?uploadId=${uploadId}`, { method: 'POST', body: xml });
    const doneXml = await done.body.text();
    expect(done.statusCode).toBe(200);
    expect(doneXml).toMatch(/<CompleteMultipartUploadResult[^>]*>.*<ETag>"[0-9a-f]{32}-2"<\/ETag>/);
    expect(await sameBytes(join(sb.dir, 's3', 'bench', 'dir', 'obj.bin'), data)).toBe(true);

    const small = bytes(100);
    expect((await put(`${sb.origin}/s3/bench/small.txt?x-id=PutObject`, small)).headers.etag).toBe(`"${md5(small)}"`);
    expect(await sameBytes(join(sb.dir, 's3', 'bench', 'small.txt'), small)).toBe(true);
    // HEAD (rclone looks before and after): the object's size and ETag, 404 for an unknown key.
    const head = await request(`${sb.origin}/s3/bench/dir/obj.bin`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(data.length));
    expect(head.headers.etag).toMatch(/^"[0-9a-f]{32}-2"$/);
    expect((await request(`${sb.origin}/s3/bench/nope.bin`, { method: 'HEAD' })).statusCode).toBe(404);

    const other = /<UploadId>([^<]+)</.exec(await (await request(`${base}?uploads`, { method: 'POST' })).body.text())![1]!;
    expect((await request(`${base}?uploadId=${other}`, { method: 'DELETE' })).statusCode).toBe(204);
    const gone = await put(`${base}?partNumber=1&uploadId=${other}`, small);
    expect(s3Code(gone.text)).toBe('NoSuchUpload');
    const tooSmall = /<UploadId>([^<]+)</.exec(await (await request(`${base}?uploads`, { method: 'POST' })).body.text())![1]!;
    const t1 = await put(`${base}?partNumber=1&uploadId=${tooSmall}`, small);
    const t2 = await put(`${base}?partNumber=2&uploadId=${tooSmall}`, small);
    const refused = await request(`${base}?uploadId=${tooSmall}`, {
      method: 'POST',
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${t1.headers.etag}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${t2.headers.etag}</ETag></Part></CompleteMultipartUpload>`,
    });
    expect(refused.statusCode).toBe(400);
    expect(s3Code(await refused.body.text())).toBe('EntityTooSmall');
  });

  it('decodes aws-chunked bodies (SDK streaming checksums)', async () => {
    const sb = await sandbox();
    const data = bytes(70_000);
    const framed = Buffer.concat([
      Buffer.from(`10000;chunk-signature=abc\r\n`),
      data.subarray(0, 0x10000),
      Buffer.from(`\r\n${(70_000 - 0x10000).toString(16)}\r\n`),
      data.subarray(0x10000),
      Buffer.from('\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'),
    ]);
    const r = await put(`${sb.origin}/s3/b/chunked.bin`, framed, {
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    });
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBe(`"${md5(data)}"`);
    expect(await sameBytes(join(sb.dir, 's3', 'b', 'chunked.bin'), data)).toBe(true);

    // Split at awkward places, the decoder gives the same bytes.
    const pieces = Array.from({ length: Math.ceil(framed.length / 7) }, (_, i) => framed.subarray(i * 7, i * 7 + 7));
    const out: Buffer[] = [];
    for await (const c of decodeAwsChunked((async function* () { yield* pieces; })())) out.push(c);
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });
});

describe('runSandboxCommand', () => {
  it('prints where it listens (stderr line, stdout JSON) and stops cleanly', async () => {
    const cmd = await startSandboxCommand({ port: 0, faults: { failRate: 0.1 } });
    const { info } = cmd;
    const err = cmd.err();
    expect(info).toEqual({ origin: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), token: 'lakeup-sandbox', dir: expect.any(String) });
    expect(err).toContain(`lakeup sandbox listening on ${info.origin}  token: lakeup-sandbox  files: ${info.dir}`);
    expect(err).toContain('failRate=0.1');
    expect(existsSync(info.dir)).toBe(true);
    expect((await get(`${info.origin}/_sandbox/stats`)).status).toBe(200);
    expect(await cmd.stop()).toBe(0);
    await expect(request(`${info.origin}/_sandbox/stats`)).rejects.toThrow();
    await rm(info.dir, { recursive: true, force: true });
  });

  it('rejects with a one-line message when the port is taken, leaving no temp dir behind', async () => {
    const sb = await sandbox();
    const port = Number(new URL(sb.origin).port);
    const privateTmp = await mkdtemp(join(tmpdir(), 'lakeup-sandbox-test-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = privateTmp; // os.tmpdir() reads it on every call
    try {
      await expect(runSandboxCommand({ port, stdout: new PassThrough(), stderr: new PassThrough() })).rejects.toThrow(
        new RegExp(`port ${port} on 127.0.0.1 is already in use`),
      );
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(readdirSync(privateTmp)).toEqual([]);
    await rm(privateTmp, { recursive: true, force: true });
  });
});

