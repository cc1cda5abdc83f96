import nock from 'nock';
import { beforeAll, describe, expect, it } from 'vitest';
import { treeListing } from '../../src/providers/copera-listing.js';
import { Copera } from '../../src/providers/copera.js';
import { registerSecret } from '../../src/util/redact.js';
import { fixture } from './fixtures.js';
import { rejection, thrown } from './helpers.js';
import { useNock } from './nock.js';

const CP = 'https://cp.test';
const TOKEN = 'cp_pat_lookups_0123456789abcdef';
const DRIVE = '/public/v1/drive';
const FOLDER = '65a1b2c3d4e5f60718293a4b';
const BEARER = { reqheaders: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' }, badheaders: ['content-type'] };

const provider = (over: Record<string, unknown> = {}) => new Copera({ endpoint: CP, token: TOKEN, minBackoffMs: 1, retries: 3, ...over });

/** Answers requests under `prefix` and records the path and query of each one it answers. */
function recorder() {
  const seen: string[] = [];
  return {
    seen,
    reply:
      (status: number, body: unknown) =>
      (request: Request): [number, string] => {
        const url = new URL(request.url);
        seen.push(url.pathname + url.search);
        return [status, JSON.stringify(body)];
      },
  };
}
const under = (prefix: string) => (uri: string) => uri.startsWith(prefix);

// The folder's children as tree-folder.json and tree-folder-sdk.json both describe them.
const REPORTS = { id: '65a1b2c3d4e5f60718293b01', name: 'reports', type: 'folder', parentId: FOLDER, createdAt: 1730538900000, updatedAt: 1730538900000 };
const REPORT = { id: '65a1b2c3d4e5f60718293b02', name: 'report.pdf', type: 'file', size: 26214400, parentId: FOLDER, createdAt: 1730628000000, updatedAt: 1730628000000 };
const REPORT_1 = { id: '65a1b2c3d4e5f60718293b03', name: 'report (1).pdf', type: 'file', size: 1048576, parentId: FOLDER, createdAt: 1730709000000, updatedAt: 1730709000000 };
const REPORT_3 = { id: '65a1b2c3d4e5f60718293b07', name: 'report (3).pdf', type: 'file', size: 3072, parentId: FOLDER, createdAt: 1730911530000, updatedAt: 1730911530000 };

beforeAll(() => {
  registerSecret(TOKEN);
});
useNock({ loopback: false });

describe('Copera: list a folder', () => {
  it.each(['tree-folder.json', 'tree-folder-sdk.json'])(
    'asks the tree for parentId and depth=1 with the bearer token and reads %s (both field spellings)',
    async (file) => {
      const r = recorder();
      const scope = nock(CP, BEARER).get(under(`${DRIVE}/tree`)).reply(r.reply(200, fixture(`copera/${file}`)));
      const listing = await provider().listFolder(FOLDER);
      expect(scope.isDone()).toBe(true);
      expect(r.seen).toEqual([`${DRIVE}/tree?parentId=${FOLDER}&depth=1`]);
      expect(listing).toEqual({ complete: true, entries: [REPORTS, REPORT, REPORT_1] });
    },
  );

  it('lists the root without parentId; a null parent is the root', async () => {
    const r = recorder();
    nock(CP, BEARER).get(under(`${DRIVE}/tree`)).reply(r.reply(200, fixture('copera/tree-root.json')));
    const listing = await provider().listFolder(undefined);
    expect(r.seen).toEqual([`${DRIVE}/tree?depth=1`]);
    expect(listing).toEqual({
      complete: true,
      entries: [
        { id: FOLDER, name: 'Projects', type: 'folder', parentId: null, createdAt: 1730271600000, updatedAt: 1730271600000 },
        { id: '65a1b2c3d4e5f60718293c01', name: 'todo.txt', type: 'file', size: 120, parentId: null, createdAt: 1730628000000, updatedAt: 1730628000000 },
      ],
    });
  });

  it('a truncated answer whose nextParentIds are only child folders is complete, in one call', async () => {
    const r = recorder();
    nock(CP).get(under(DRIVE)).times(3).reply(r.reply(200, fixture('copera/tree-truncated-deeper.json')));
    const listing = await provider().listFolder(FOLDER);
    expect(listing.complete).toBe(true);
    expect(listing.entries.map((e) => e.name)).toEqual(['reports', 'report.pdf']);
    expect(r.seen).toEqual([`${DRIVE}/tree?parentId=${FOLDER}&depth=1`]); // grandchildren are not asked for
  });

  it('a truncated answer naming the folder itself in nextParentIds is incomplete, and is not asked again (there is no cursor)', async () => {
    const r = recorder();
    nock(CP).get(under(DRIVE)).times(3).reply(r.reply(200, fixture('copera/tree-truncated.json')));
    const listing = await provider().listFolder(FOLDER);
    expect(listing.complete).toBe(false);
    expect(listing.entries.map((e) => e.name)).toEqual(['reports', 'summary.pdf']);
    expect(r.seen).toHaveLength(1);
  });

  it.each([
    ['nextParentIds empty', { nextParentIds: [] }],
    ['nextParentIds absent', { nextParentIds: undefined }],
    ['nextParentIds naming a file', { nextParentIds: ['65a1b2c3d4e5f60718293b02'] }],
    ['nextParentIds naming a folder that is not a child (a root placeholder)', { nextParentIds: ['65a1b2c3d4e5f60718293fff'] }],
    ['500 items even though only a child folder is named', { fill: 498 }],
  ])('a truncated answer is incomplete with %s', (_n, over: { nextParentIds?: unknown; fill?: number }) => {
    const res = fixture('copera/tree-truncated-deeper.json');
    if ('nextParentIds' in over) res.nextParentIds = over.nextParentIds;
    for (let i = 0; i < (over.fill ?? 0); i++) res.root.push({ _id: `f${i}`, name: `f${i}.bin`, type: 'file', size: 1, parent: FOLDER });
    expect(treeListing(res, FOLDER, 'Copera').complete).toBe(false);
  });

  it('reads an answer that puts the folder itself on top with its children under it', () => {
    const folder = { _id: FOLDER, name: 'Projects', type: 'folder', parent: null, hasChildren: true, children: fixture('copera/tree-folder.json').root };
    const listing = treeListing({ root: [folder], totalItems: 4, truncated: false, nextParentIds: [] }, FOLDER, 'Copera');
    expect(listing).toEqual({ complete: true, entries: [REPORTS, REPORT, REPORT_1] });
  });

  it('retries a 429 with Retry-After', async () => {
    const scope = nock(CP)
      .get(under(`${DRIVE}/tree`))
      .reply(429, { error: 'Too many requests', code: 'RATE_LIMITED' }, { 'Retry-After': '0.05', 'x-ratelimit-remaining': '0' })
      .get(under(`${DRIVE}/tree`))
      .reply(200, fixture('copera/tree-folder.json'));
    await expect(provider().listFolder(FOLDER)).resolves.toMatchObject({ complete: true });
    expect(scope.isDone()).toBe(true);
  });

  it('a 401 is an auth error (exit 3) naming the listing, without the token', async () => {
    nock(CP).get(under(`${DRIVE}/tree`)).reply(401, fixture('copera/error-token-expired.json'));
    const e = await rejection(provider().listFolder(FOLDER));
    expect(e).toMatchObject({ kind: 'auth', status: 401, code: 'TOKEN_EXPIRED', exitCode: 3 });
    expect(e.message).toContain(`Copera refused to list folder ${FOLDER}: HTTP 401 Token expired (TOKEN_EXPIRED)`);
    expect(e.message).not.toContain(TOKEN);
  });

  it('refuses a folder id that is not 24 hex before calling the API', async () => {
    const scope = nock(CP).get(under(DRIVE)).reply(200, {});
    const e = await rejection(provider().listFolder('Documents'));
    expect(e.kind).toBe('usage');
    expect(scope.isDone()).toBe(false);
  });

  it.each([
    ['an answer that is not an object', [], 'the answer is not an object'],
    ['root that is not an array', { root: {}, truncated: false }, '"root" is not an array'],
    ['an item without an id', { root: [{ name: 'a.txt', type: 'file' }] }, 'item 1 has no id'],
    ['an item without a name', { root: [{ _id: 'x', name: 'a', type: 'file' }, { id: 'y', type: 'file' }] }, 'item 2 has no name'],
    ['an item that is not an object', { root: [null] }, 'item 1 is not an object'],
  ])('rejects %s as one BAD_RESPONSE line', async (_n, body, why) => {
    nock(CP).get(under(`${DRIVE}/tree`)).reply(200, body as object);
    const e = await rejection(provider().listFolder(FOLDER));
    expect(e).toMatchObject({ kind: 'server', code: 'BAD_RESPONSE' });
    expect(e.message).toBe(`Copera answered the listing of folder ${FOLDER} with something lakeup cannot read: ${why}`);
  });
});

describe('Copera: get one item', () => {
  it.each(['file.json', 'file-sdk.json'])('reads %s (both spellings) at the encoded id', async (file) => {
    const scope = nock(CP, BEARER).get(`${DRIVE}/files/${REPORT_3.id}`).reply(200, fixture(`copera/${file}`));
    await expect(provider().getItem(REPORT_3.id)).resolves.toEqual(REPORT_3);
    expect(scope.isDone()).toBe(true);
  });

  it('encodes the id as one path segment', async () => {
    const scope = nock(CP).get(`${DRIVE}/files/a%2Fb%3Fc`).reply(200, fixture('copera/file.json'));
    await provider().getItem('a/b?c');
    expect(scope.isDone()).toBe(true);
  });

  it('a 404 is undefined, asked once', async () => {
    const scope = nock(CP).get(`${DRIVE}/files/${REPORT_3.id}`).reply(404, fixture('copera/error-not-found.json')).get(`${DRIVE}/files/${REPORT_3.id}`).reply(200, {});
    await expect(provider().getItem(REPORT_3.id)).resolves.toBeUndefined();
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it('a 401 is an auth error', async () => {
    nock(CP).get(`${DRIVE}/files/${REPORT_3.id}`).reply(401, fixture('copera/error-token-expired.json'));
    await expect(rejection(provider().getItem(REPORT_3.id))).resolves.toMatchObject({ kind: 'auth', status: 401 });
  });

  it('an item without an id is a BAD_RESPONSE', async () => {
    nock(CP).get(`${DRIVE}/files/${REPORT_3.id}`).reply(200, { name: 'report (3).pdf' });
    const e = await rejection(provider().getItem(REPORT_3.id));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('the item has no id');
  });
});

describe('Copera: find a name in a folder', () => {
  it('from a complete listing: the name and its renamed forms, without searching', async () => {
    const r = recorder();
    nock(CP).get(under(DRIVE)).times(2).reply(r.reply(200, fixture('copera/tree-folder.json')));
    await expect(provider().findInFolder(FOLDER, 'report.pdf')).resolves.toEqual([REPORT, REPORT_1]);
    expect(r.seen).toHaveLength(1);
  });

  it('from an incomplete listing: searches the name and keeps the hits in this folder, looking up a hit that does not say where it is', async () => {
    const r = recorder();
    nock(CP, BEARER)
      .get(under(`${DRIVE}/tree`))
      .reply(r.reply(200, fixture('copera/tree-truncated.json')))
      .get(under(`${DRIVE}/search`))
      .reply(r.reply(200, fixture('copera/search.json')))
      .get(under(`${DRIVE}/files/`))
      .reply(r.reply(200, fixture('copera/file.json')));
    const found = await provider().findInFolder(FOLDER, 'report.pdf');
    expect(r.seen).toEqual([
      `${DRIVE}/tree?parentId=${FOLDER}&depth=1`,
      `${DRIVE}/search?q=report.pdf&limit=50`,
      `${DRIVE}/files/${REPORT_3.id}`,
    ]);
    // report.pdf (docs spelling) and report (2).pdf (SDK spelling) are here; the other report.pdf is in another
    // folder and report.pdf.bak is another name; report (3).pdf said nothing of its folder until asked.
    expect(found).toEqual([
      { id: REPORT.id, name: 'report.pdf', type: 'file', size: 26214400, parentId: FOLDER, createdAt: 1730628000000, updatedAt: 1730628000000 },
      { id: '65a1b2c3d4e5f60718293b05', name: 'report (2).pdf', type: 'file', size: 2048, parentId: FOLDER, createdAt: 1730628000000, updatedAt: 1730628000000 },
      REPORT_3,
    ]);
  });

  it('encodes the searched name with URLSearchParams and returns a match the partial listing already had only once', async () => {
    const r = recorder();
    const tree = fixture('copera/tree-truncated.json');
    const hits = fixture('copera/search.json');
    const name = 'Q&A #1.pdf';
    tree.root[1].name = name;
    hits.hits = [{ ...tree.root[1] }, { _id: '65a1b2c3d4e5f60718293b0a', name: 'Q&A #1 (1).pdf', type: 'file', size: 9, parent: FOLDER }];
    hits.totalHits = 2;
    nock(CP).get(under(`${DRIVE}/tree`)).reply(r.reply(200, tree)).get(under(`${DRIVE}/search`)).reply(r.reply(200, hits));
    const found = await provider().findInFolder(FOLDER, name);
    expect(r.seen[1]).toBe(`${DRIVE}/search?q=Q%26A+%231.pdf&limit=50`);
    expect(found.map((e) => e.name)).toEqual([name, 'Q&A #1 (1).pdf']);
  });

  it('returns [] when the listing is incomplete and an exhaustive search finds nothing here', async () => {
    const hits = fixture('copera/search.json');
    hits.hits = hits.hits.slice(1, 2); // the report.pdf of another folder
    hits.totalHits = 1;
    nock(CP).get(under(`${DRIVE}/tree`)).reply(200, fixture('copera/tree-truncated.json')).get(under(`${DRIVE}/search`)).reply(200, hits);
    await expect(provider().findInFolder(FOLDER, 'report.pdf')).resolves.toEqual([]);
  });

  it('says it cannot tell, rather than "none", when the search has more hits than it returned', async () => {
    nock(CP).get(under(`${DRIVE}/tree`)).reply(200, fixture('copera/tree-truncated.json')).get(under(`${DRIVE}/search`)).reply(200, fixture('copera/search-capped.json'));
    const e = await rejection(provider().findInFolder(FOLDER, 'report.pdf'));
    expect(e).toMatchObject({ kind: 'server', code: 'LOOKUP_INCOMPLETE' });
    expect(e.message).toBe(
      `Copera could not tell whether 'report.pdf' is in folder ${FOLDER}: the folder holds more than 500 items and the search returned only 3 of its hits`,
    );
  });

  it('says it cannot tell when a hit with the name does not say, even when asked, which folder it is in', async () => {
    const hits = fixture('copera/search.json');
    hits.hits = [hits.hits[4]]; // report (3).pdf, no parent
    hits.totalHits = 1;
    const bare = fixture('copera/file.json');
    delete bare.parent;
    nock(CP)
      .get(under(`${DRIVE}/tree`))
      .reply(200, fixture('copera/tree-truncated.json'))
      .get(under(`${DRIVE}/search`))
      .reply(200, hits)
      .get(`${DRIVE}/files/${REPORT_3.id}`)
      .reply(200, bare);
    await expect(rejection(provider().findInFolder(FOLDER, 'report.pdf'))).resolves.toMatchObject({ code: 'LOOKUP_INCOMPLETE' });
  });

  it('in the root, keeps the hits whose parent is null', async () => {
    const tree = fixture('copera/tree-truncated.json');
    tree.nextParentIds = ['root'];
    const hits = fixture('copera/search.json');
    hits.hits[0].parent = null; // report.pdf in the root
    nock(CP).get(under(`${DRIVE}/tree`)).reply(200, tree).get(under(`${DRIVE}/search`)).reply(200, hits).get(under(`${DRIVE}/files/`)).reply(200, fixture('copera/file.json'));
    const found = await provider().findInFolder(undefined, 'report.pdf');
    expect(found.map((e) => [e.name, e.parentId])).toEqual([['report.pdf', null]]);
  });

  it('a malformed search answer is a BAD_RESPONSE', async () => {
    nock(CP).get(under(`${DRIVE}/tree`)).reply(200, fixture('copera/tree-truncated.json')).get(under(`${DRIVE}/search`)).reply(200, { results: [] });
    const e = await rejection(provider().findInFolder(FOLDER, 'report.pdf'));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toBe(`Copera answered the search for 'report.pdf' with something lakeup cannot read: "hits" is not an array`);
  });
});

describe('Copera: create a folder', () => {
  it('ignores onConflict (a duplicate name is undocumented) and sends only name and parentId', async () => {
    let body: unknown;
    nock(CP)
      .post(`${DRIVE}/folders`, (b) => {
        body = b;
        return true;
      })
      .reply(200, { _id: '65a1b2c3d4e5f60718293b01', name: 'reports' });
    await provider().createFolder('reports', FOLDER, { onConflict: 'deny' });
    expect(body).toEqual({ name: 'reports', parentId: FOLDER });
  });
});

describe('treeListing is pure', () => {
  it('throws a LakeupError, not a TypeError, on nonsense', () => {
    expect(thrown(() => treeListing('x', undefined, 'Copera')).message).toBe(
      'Copera answered the listing of the root folder with something lakeup cannot read: the answer is not an object',
    );
  });
});
