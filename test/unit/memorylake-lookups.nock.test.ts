import nock from 'nock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryLake } from '../../src/providers/memorylake.js';
import { listChildren, MAX_PAGES } from '../../src/providers/memorylake-listing.js';
import { registerSecret } from '../../src/util/redact.js';
import { fixture } from './fixtures.js';
import { rejection } from './helpers.js';
import { useNock } from './nock.js';

const ML = 'https://ml.test';
const TOKEN = 'sk_test_lookups_0123456789';
const ITEMS = '/openapi/memorylake/api/v1/drives/items';
const FOLDER = 'sc-7f3a:fld-projects';
const FOLDER_PATH = `${ITEMS}/sc-7f3a%3Afld-projects`; // ids are path segments: ':' is encoded
const BEARER = { reqheaders: { authorization: `Bearer ${TOKEN}` } };

const provider = (over: Record<string, unknown> = {}) => new MemoryLake({ endpoint: ML, token: TOKEN, minBackoffMs: 1, retries: 3, ...over });

/** Matches paths under `prefix` (any query) and records the path and query each reply answers. */
function recorder(prefix: string) {
  const seen: string[] = [];
  return {
    seen,
    match: (uri: string) => uri.startsWith(prefix),
    reply:
      (body: unknown) =>
      (request: Request): [number, string] => {
        const url = new URL(request.url);
        seen.push(url.pathname + url.search);
        return [200, JSON.stringify(body)];
      },
  };
}

const BIG = { id: 'sc-7f3a:itm-0001', name: 'big.zip', type: 'file', size: 52428800, etag: '5f363e0e58a95f06cbe9bbc662c5dfb6-10', xAttrs: { source: 'lakeup' }, parentId: FOLDER, createdAt: 1730628000000, updatedAt: 1730628000000 };
const BIG_1 = { id: 'sc-7f3a:itm-0002', name: 'big_1.zip', type: 'file', size: 52428800, etag: '5f363e0e58a95f06cbe9bbc662c5dfb6-10', parentId: FOLDER, createdAt: 1730709000000, updatedAt: 1730709000000 };
const BIG_2 = { id: 'sc-7f3a:itm-0004', name: 'big_2.zip', type: 'file', size: 1048576, etag: '0f343b0931126a20f133d67c2b018a3b', parentId: FOLDER, createdAt: 1730808000000 };

/** The folder's three pages, in order, recording each request. */
function threePages() {
  const r = recorder(`${FOLDER_PATH}/children`);
  const scope = nock(ML, BEARER)
    .get(r.match)
    .reply(r.reply(fixture('memorylake/children-page1.json')))
    .get(r.match)
    .reply(r.reply(fixture('memorylake/children-page2.json')))
    .get(r.match)
    .reply(r.reply(fixture('memorylake/children-page3.json')));
  return { scope, seen: r.seen };
}

beforeAll(() => {
  registerSecret(TOKEN);
});
useNock({ loopback: false });
afterEach(() => {
  vi.restoreAllMocks();
});

describe('MemoryLake: list a folder', () => {
  it('pages through every continuation token until it is null, 50 a page, with the bearer token', async () => {
    const { scope, seen } = threePages();
    const listing = await provider().listFolder(FOLDER);
    expect(scope.isDone()).toBe(true);
    expect(seen).toEqual([
      `${FOLDER_PATH}/children?page_size=50`,
      `${FOLDER_PATH}/children?page_size=50&continuation_token=eyJvZmZzZXQiOjJ9`,
      `${FOLDER_PATH}/children?page_size=50&continuation_token=eyJvZmZzZXQiOjR9`,
    ]);
    expect(listing.complete).toBe(true);
    expect(listing.entries).toEqual([
      { id: 'sc-7f3a:fld-reports', name: 'reports', type: 'folder', size: 0, parentId: FOLDER, createdAt: 1730538900000, updatedAt: 1730538900000 },
      BIG,
      BIG_1,
      { id: 'sc-7f3a:itm-0003', name: 'notes.txt', type: 'file', size: 12, etag: 'd41d8cd98f00b204e9800998ecf8427e', parentId: FOLDER },
      BIG_2,
    ]);
  });

  it('lists the root as MY_SPACE, stops when the token is absent, and reads parent MY_SPACE (or none) as the root', async () => {
    const r = recorder(ITEMS);
    const scope = nock(ML, BEARER).get(r.match).reply(r.reply(fixture('memorylake/children-root.json')));
    const listing = await provider().listFolder(undefined);
    expect(scope.isDone()).toBe(true);
    expect(r.seen).toEqual([`${ITEMS}/MY_SPACE/children?page_size=50`]);
    expect(listing).toEqual({
      complete: true,
      entries: [
        { id: 'sc-7f3a:fld-projects', name: 'projects', type: 'folder', size: 0, parentId: null, createdAt: 1730271600000, updatedAt: 1730271600000 },
        { id: 'sc-7f3a:itm-0100', name: 'readme.md', type: 'file', size: 2048, etag: '9e107d9d372bb6826bd81d3542a419d6', parentId: null },
      ],
    });
  });

  it('a token the server already sent ends the listing with a clear server error, not a loop', async () => {
    const page2 = fixture('memorylake/children-page2.json');
    page2.data.continuation_token = fixture('memorylake/children-page1.json').data.continuation_token;
    const r = recorder(FOLDER_PATH);
    nock(ML)
      .get(r.match)
      .reply(r.reply(fixture('memorylake/children-page1.json')))
      .get(r.match)
      .times(5)
      .reply(r.reply(page2));
    const e = await rejection(provider().listFolder(FOLDER));
    expect(e).toMatchObject({ kind: 'server', code: 'BAD_PAGING' });
    expect(e.message).toContain('MemoryLake sent the same continuation token twice');
    expect(e.message).toContain(FOLDER);
    expect(r.seen).toHaveLength(2);
  });

  it('stops after the page cap and says the listing is incomplete', async () => {
    let n = 0;
    const scope = nock(ML)
      .get((uri) => uri.startsWith(FOLDER_PATH))
      .times(10)
      .reply(() => {
        n++;
        return [200, { success: true, data: { items: [{ item_id: `i${n}`, name: `f${n}`, type: 'file' }], continuation_token: `t${n}` } }];
      });
    const api = { endpoint: ML, token: TOKEN, service: 'MemoryLake', minBackoffMs: 1 };
    const listing = await listChildren(api, FOLDER, { maxPages: 3 });
    expect(n).toBe(3);
    expect(listing.complete).toBe(false);
    expect(listing.entries.map((e) => e.name)).toEqual(['f1', 'f2', 'f3']);
    expect(scope.pendingMocks()).toHaveLength(1);
    expect(MAX_PAGES * 50).toBeGreaterThanOrEqual(100_000);
  });

  it('retries a 429 after its Retry-After, then goes on paging', async () => {
    const scope = nock(ML)
      .get(`${FOLDER_PATH}/children`)
      .query(true)
      .reply(429, { success: false, message: 'rate limited', error_code: 'TOO_MANY_REQUESTS' }, { 'Retry-After': '0.05' })
      .get(`${FOLDER_PATH}/children`)
      .query(true)
      .reply(200, fixture('memorylake/children-root.json'));
    const listing = await provider().listFolder(FOLDER);
    expect(listing.entries).toHaveLength(2);
    expect(scope.isDone()).toBe(true);
  });

  it('retries a 500 on a page (a GET is safe to repeat)', async () => {
    const scope = nock(ML)
      .get(`${FOLDER_PATH}/children`)
      .query(true)
      .reply(500, { success: false, message: 'internal', error_code: 'INTERNAL' })
      .get(`${FOLDER_PATH}/children`)
      .query(true)
      .reply(200, fixture('memorylake/children-root.json'));
    await expect(provider().listFolder(FOLDER)).resolves.toMatchObject({ complete: true });
    expect(scope.isDone()).toBe(true);
  });

  it('a 401 is an auth error (exit 3) that names the listing', async () => {
    nock(ML).get(`${FOLDER_PATH}/children`).query(true).reply(401, fixture('memorylake/error-unauthorized.json'));
    const e = await rejection(provider().listFolder(FOLDER));
    expect(e).toMatchObject({ kind: 'auth', status: 401, exitCode: 3 });
    expect(e.message).toContain(`MemoryLake refused to list folder ${FOLDER}: HTTP 401 Invalid API key provided`);
    expect(e.message).not.toContain(TOKEN);
  });

  it.each([
    ['an answer that is not an object', ['x'], 'no "data" object'],
    ['no data', { success: true }, 'no "data" object'],
    ['items that are not an array', { success: true, data: { items: {} } }, '"items" is not an array'],
    ['an item that is not an object', { success: true, data: { items: ['big.zip'] } }, 'item 1 is not an object'],
    ['an item without item_id', { success: true, data: { items: [{ name: 'a', type: 'file' }] } }, 'item 1 has no id'],
    ['an item without a name', { success: true, data: { items: [{ item_id: 'i1', type: 'file' }, { item_id: 'i2', type: 'file' }] } }, 'item 1 has no name'],
    ['a token that is not a string', { success: true, data: { items: [], continuation_token: 7 } }, '"continuation_token" is not a string'],
  ])('rejects %s as one BAD_RESPONSE line', async (_n, body, why) => {
    nock(ML).get(`${FOLDER_PATH}/children`).query(true).reply(200, body as object);
    const e = await rejection(provider().listFolder(FOLDER));
    expect(e).toMatchObject({ kind: 'server', code: 'BAD_RESPONSE' });
    expect(e.message).toBe(`MemoryLake answered the listing of folder ${FOLDER} (page 1) with something lakeup cannot read: ${why}`);
  });

  it('an abort signal stops the listing', async () => {
    const scope = nock(ML).get(`${FOLDER_PATH}/children`).query(true).delay(2000).reply(200, fixture('memorylake/children-root.json'));
    const ac = new AbortController();
    const reason = new Error('stop');
    scope.once('request', () => ac.abort(reason)); // the listing is under way
    await expect(provider().listFolder(FOLDER, { signal: ac.signal })).rejects.toBe(reason);
  });
});

describe('MemoryLake: get one item', () => {
  it('reads data.item at the encoded id with the bearer token', async () => {
    const scope = nock(ML, BEARER).get(`${ITEMS}/sc-7f3a%3Aitm-0002`).reply(200, fixture('memorylake/item.json'));
    await expect(provider().getItem('sc-7f3a:itm-0002')).resolves.toEqual(BIG_1);
    expect(scope.isDone()).toBe(true);
  });

  it('an id with a slash stays one path segment', async () => {
    const scope = nock(ML).get(`${ITEMS}/a%2F..%2Fb`).reply(200, fixture('memorylake/item.json'));
    await provider().getItem('a/../b');
    expect(scope.isDone()).toBe(true);
  });

  it('a 404 NOT_FOUND is undefined, asked once', async () => {
    const scope = nock(ML).get(`${ITEMS}/nope`).reply(404, fixture('memorylake/error-not-found.json')).get(`${ITEMS}/nope`).reply(200, {});
    await expect(provider().getItem('nope')).resolves.toBeUndefined();
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it('a 401 is an auth error, not "not found"', async () => {
    nock(ML).get(`${ITEMS}/x`).reply(401, fixture('memorylake/error-unauthorized.json'));
    const e = await rejection(provider().getItem('x'));
    expect(e).toMatchObject({ kind: 'auth', status: 401 });
  });

  it('an answer without the data.item nesting is a BAD_RESPONSE', async () => {
    nock(ML).get(`${ITEMS}/x`).reply(200, { success: true, data: fixture('memorylake/item.json').data.item });
    const e = await rejection(provider().getItem('x'));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('no "data.item" object');
  });
});

describe('MemoryLake: find a name in a folder', () => {
  it('pages through the whole folder and returns the name and its renamed forms, nothing else', async () => {
    const { scope } = threePages();
    await expect(provider().findInFolder(FOLDER, 'big.zip')).resolves.toEqual([BIG, BIG_1, BIG_2]);
    expect(scope.isDone()).toBe(true);
  });

  it('an empty answer from a complete listing is []', async () => {
    threePages();
    await expect(provider().findInFolder(FOLDER, 'absent.bin')).resolves.toEqual([]);
  });

  it('says it cannot tell, rather than "none", when the listing stopped at the page cap', async () => {
    const p = provider();
    vi.spyOn(p, 'listFolder').mockResolvedValue({ entries: [BIG as never], complete: false });
    const e = await rejection(p.findInFolder(FOLDER, 'absent.bin'));
    expect(e).toMatchObject({ kind: 'server', code: 'LOOKUP_INCOMPLETE' });
    expect(e.message).toContain("could not tell whether 'absent.bin' is in folder");
    await expect(p.findInFolder(FOLDER, 'big.zip')).resolves.toEqual([BIG]);
  });
});

describe('MemoryLake: create a folder with a conflict strategy', () => {
  it('sends name_conflict_strategy deny; a 409 DRIVE_ITEM_CONFLICT is a conflict error with status 409, not retried', async () => {
    let body: unknown;
    const scope = nock(ML, BEARER)
      .post(ITEMS, (b) => {
        body = b;
        return true;
      })
      .reply(409, fixture('memorylake/error-conflict.json'))
      .post(ITEMS)
      .reply(200, fixture('memorylake/folder-created.json'));
    const e = await rejection(provider().createFolder('reports', FOLDER, { onConflict: 'deny' }));
    expect(body).toEqual({ item_type: 'folder', parent_item_id: FOLDER, name: 'reports', name_conflict_strategy: 'deny' });
    expect(e).toMatchObject({ kind: 'conflict', status: 409, code: 'DRIVE_ITEM_CONFLICT' });
    expect(e.message).toContain("an item named 'reports' already exists");
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it('still renames by default', async () => {
    let body: unknown;
    nock(ML)
      .post(ITEMS, (b) => {
        body = b;
        return true;
      })
      .reply(200, fixture('memorylake/folder-created.json'));
    await expect(provider().createFolder('reports', undefined)).resolves.toMatchObject({ id: 'sc-7f3a:fld-reports', name: 'reports' });
    expect(body).toMatchObject({ parent_item_id: 'MY_SPACE', name_conflict_strategy: 'rename' });
  });
});
