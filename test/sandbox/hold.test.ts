import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';

import type { SandboxHandle } from '../../src/sandbox/server.js';
import { api, apiGet, bytes, CP, CP_FILES, md5, ML_ITEMS, ML_UPLOAD, put, sandbox, until } from './helpers.js';

/** A POST whose answer the test may never get: the promise, whether it settled, and a way to hang up. */
function unanswered(sb: SandboxHandle, path: string, body: unknown) {
  const hangUp = new AbortController();
  const state = { settled: false };
  const promise = request(`${sb.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${sb.token}` },
    body: JSON.stringify(body),
    signal: hangUp.signal,
  }).finally(() => (state.settled = true));
  return { promise, state, hangUp: () => hangUp.abort() };
}

/** A Copera upload up to (not including) finalize; returns the finalize body. */
async function coperaReady(sb: SandboxHandle, fileName: string, data: Buffer) {
  const { uploadId, fileKey } = (await api(sb, `${CP}/start`, { fileName, fileSize: data.length, mimeType: 'text/plain' })).json;
  const [url] = (await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 1 })).json.urls;
  const eTag = String((await put(url, data)).headers.etag);
  return { uploadId, fileKey, parts: [{ partNumber: 1, eTag }] };
}

/** A MemoryLake upload up to (not including) Create Item; returns the Create Item body. */
async function memoryLakeReady(sb: SandboxHandle, name: string, data: Buffer) {
  const { upload_id, part_items } = (await api(sb, ML_UPLOAD, { file_size: data.length })).json.data;
  await put(part_items[0].upload_url, data);
  return { item_type: 'file', parent_item_id: 'MY_SPACE', name, from: { upload_id, part_etags: [{ number: 1, etag: md5(data) }] } };
}

const rootNames = async (sb: SandboxHandle) => (await apiGet(sb, `${ML_ITEMS}/MY_SPACE/children`)).json.data.items.map((i: { name: string }) => i.name);

describe('held answers', () => {
  it('after: a Copera finalize takes effect and is never answered; the client hangs up, the upload is spent', async () => {
    const lines: string[] = [];
    const sb = await sandbox({ log: (l) => lines.push(l) });
    const data = bytes(100);
    const body = await coperaReady(sb, 'held.txt', data);
    sb.hold({ route: 'copera.finalize', when: 'after' });
    const call = unanswered(sb, `${CP}/finalize`, body);

    await until(() => sb.stats().held === 1);
    const [done] = sb.stats().finalized;
    expect(done).toMatchObject({ provider: 'copera', name: 'held.txt', size: 100, parentId: null });
    expect(existsSync(join(sb.dir, 'copera', 'held.txt'))).toBe(true);
    expect((await apiGet(sb, `${CP_FILES}/${done!.id}`)).json).toMatchObject({ _id: done!.id, name: 'held.txt', size: 100 });
    expect(call.state.settled).toBe(false);

    call.hangUp();
    await expect(call.promise).rejects.toThrow(/abort/i);
    await until(() => lines.some((l) => /^POST \/public\/v1\/drive\/files\/upload\/multipart\/finalize no answer/.test(l)));
    // A retried finalize finds the upload gone: the client has to look the file up instead.
    const retry = await api(sb, `${CP}/finalize`, body);
    expect(retry.status).toBe(404);
    expect(sb.stats().finalized).toHaveLength(1);
  });

  it('before: a MemoryLake Create Item is read and never acted on nor answered; the same session works afterwards', async () => {
    const lines: string[] = [];
    const sb = await sandbox({ log: (l) => lines.push(l) });
    const body = await memoryLakeReady(sb, 'held.bin', bytes(50));
    sb.hold({ route: 'memorylake.item', when: 'before' });
    const call = unanswered(sb, ML_ITEMS, body);

    await until(() => sb.stats().held === 1);
    expect(sb.stats().finalized).toEqual([]);
    expect(await rootNames(sb)).toEqual([]);
    expect(call.state.settled).toBe(false);
    call.hangUp();
    await expect(call.promise).rejects.toThrow(/abort/i);
    await until(() => lines.some((l) => /^POST \/openapi\/memorylake\/api\/v1\/drives\/items no answer/.test(l)));

    const retry = await api(sb, ML_ITEMS, body);
    expect(retry.status).toBe(200);
    expect(retry.json.data.name).toBe('held.bin');
    expect(await rootNames(sb)).toEqual(['held.bin']);
  });

  it('after on MemoryLake and before on Copera, both over POST /_sandbox/hold', async () => {
    const sb = await sandbox();
    const hold = (rule: unknown) => request(`${sb.origin}/_sandbox/hold`, { method: 'POST', body: JSON.stringify(rule) }).then((r) => r.statusCode);
    expect(await hold({ route: 'memorylake.item', when: 'after', times: 1 })).toBe(200);
    const ml = unanswered(sb, ML_ITEMS, await memoryLakeReady(sb, 'a.bin', bytes(10)));
    await until(() => sb.stats().held === 1);
    expect(await rootNames(sb)).toEqual(['a.bin']);
    expect(sb.stats().finalized.map((f) => f.name)).toEqual(['a.bin']);
    ml.hangUp();
    await expect(ml.promise).rejects.toThrow();

    expect(await hold({ route: 'copera.finalize', when: 'before' })).toBe(200);
    const body = await coperaReady(sb, 'b.txt', bytes(10));
    const cp = unanswered(sb, `${CP}/finalize`, body);
    await until(() => sb.stats().held === 2);
    expect(sb.stats().finalized).toHaveLength(1);
    cp.hangUp();
    await expect(cp.promise).rejects.toThrow();
    const retry = await api(sb, `${CP}/finalize`, body);
    expect(retry.status).toBe(200);
    expect(retry.json.name).toBe('b.txt');

    for (const bad of [{ route: 'part', when: 'after' }, { route: 'copera.finalize', when: 'later' }, { route: 'copera.finalize', when: 'after', times: 0 }, { route: 'copera.finalize', when: 'after', extra: 1 }]) {
      expect(await hold(bad), JSON.stringify(bad)).toBe(400);
    }
    expect(() => sb.hold({ route: 'nope' as never, when: 'after' })).toThrow(/route/);
  });

  it('after holds only a successful answer: an error is sent and the hold waits for the next success', async () => {
    const sb = await sandbox();
    sb.hold({ route: 'copera.finalize', when: 'after' });
    const body = await coperaReady(sb, 'c.txt', bytes(10));
    const wrong = await api(sb, `${CP}/finalize`, { ...body, parts: [{ partNumber: 1, eTag: md5(Buffer.from('other')) }] });
    expect(wrong.status).toBe(400);
    expect(sb.stats().held).toBe(0);
    const call = unanswered(sb, `${CP}/finalize`, body);
    await until(() => sb.stats().held === 1);
    call.hangUp();
    await expect(call.promise).rejects.toThrow();
    // Used up: the next finalize is answered.
    expect((await api(sb, `${CP}/finalize`, await coperaReady(sb, 'd.txt', bytes(10)))).status).toBe(200);
  });

  it('a held call ends when the sandbox closes: close does not wait for the client', async () => {
    const sb = await sandbox();
    sb.hold({ route: 'copera.finalize', when: 'after' });
    const call = unanswered(sb, `${CP}/finalize`, await coperaReady(sb, 'e.txt', bytes(10)));
    call.promise.catch(() => undefined);
    await until(() => sb.stats().held === 1);
    const began = performance.now();
    await sb.close();
    expect(performance.now() - began).toBeLessThan(1500); // well inside the 2 s grace close() allows in-flight requests
    await expect(call.promise).rejects.toThrow();
  });
});
