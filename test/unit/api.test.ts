import { getEventListeners } from 'node:events';
import http from 'node:http';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiGet, apiPost, httpError, joinUrl, withQuery, type ApiContext } from '../../src/http/api.js';
import { UploadEvents } from '../../src/events.js';
import { registerSecret } from '../../src/util/redact.js';
import { closedPort, rejection } from './helpers.js';

const ORIGIN = 'https://api.test';
const TOKEN = 'sk_test_123';

function ctx(over: Partial<ApiContext> = {}): ApiContext {
  return { endpoint: ORIGIN, token: TOKEN, service: 'TestSvc', minBackoffMs: 1, retries: 3, ...over };
}

const call = (over: Partial<Parameters<typeof apiPost>[1]> = {}) => ({
  path: '/v1/thing',
  body: { a: 1 },
  what: 'do the thing',
  idempotent: true,
  ...over,
});

beforeAll(() => {
  registerSecret(TOKEN);
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(() => {
  nock.restore();
});

describe('apiPost: the request', () => {
  it('POSTs the JSON body with a bearer token and JSON headers, and returns the parsed answer', async () => {
    const scope = nock(ORIGIN, {
      reqheaders: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
    })
      .post('/v1/thing', (body) => JSON.stringify(body) === '{"a":1}')
      .reply(200, { ok: true, n: 7 });
    await expect(apiPost(ctx(), call())).resolves.toEqual({ ok: true, n: 7 });
    expect(scope.isDone()).toBe(true);
  });

  it('joins an endpoint with a trailing slash to the path without doubling it', async () => {
    const scope = nock(ORIGIN).post('/v1/thing').reply(200, {});
    await apiPost(ctx({ endpoint: `${ORIGIN}//` }), call());
    expect(scope.isDone()).toBe(true);
    expect(joinUrl('https://x.test/base/', '/p')).toBe('https://x.test/base/p');
  });

  it('adds call-specific headers', async () => {
    const scope = nock(ORIGIN, { reqheaders: { 'x-extra': 'yes' } }).post('/v1/thing').reply(200, {});
    await apiPost(ctx(), call({ headers: { 'x-extra': 'yes' } }));
    expect(scope.isDone()).toBe(true);
  });
});

describe('apiPost: errors become one line with the server message, code and status', () => {
  it('a 400 with a MemoryLake body is a server error naming message, code, status and what failed', async () => {
    nock(ORIGIN).post('/v1/thing').reply(400, { success: false, message: 'file_size must be >= 1', error_code: 'INVALID_ARGUMENT' });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('server');
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('TestSvc');
    expect(e.message).toContain('do the thing');
    expect(e.message).toContain('HTTP 400');
    expect(e.message).toContain('file_size must be >= 1');
    expect(e.message).toContain('INVALID_ARGUMENT');
    expect(e.message).not.toContain('\n');
  });

  it('a 401 is an auth error (exit 3) that says to check the token', async () => {
    nock(ORIGIN).post('/v1/thing').reply(401, { error: { message: 'Invalid API key', type: 'authentication_error' } });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('auth');
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain('Invalid API key');
    expect(e.message).toContain('authentication_error');
    expect(e.message).toContain('LAKEUP_TOKEN');
  });

  it('a 403 is an auth error about permission', async () => {
    nock(ORIGIN).post('/v1/thing').reply(403, { error: 'missing drive scope', code: 'FORBIDDEN' });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('auth');
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/HTTP 403 missing drive scope \(FORBIDDEN\)/);
    expect(e.message).toContain('permission');
  });

  it('a 409 is a conflict', async () => {
    nock(ORIGIN).post('/v1/thing').reply(409, { success: false, message: 'exists', error_code: 'DRIVE_ITEM_CONFLICT' });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('conflict');
    expect(e.code).toBe('DRIVE_ITEM_CONFLICT');
  });

  it('a 402 says the account is out of quota', async () => {
    nock(ORIGIN).post('/v1/thing').reply(402, { success: false, message: 'quota', code: 'QUOTA' });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.message).toContain('quota');
    expect(e.status).toBe(402);
  });

  it('a 200 with success:false is an error', async () => {
    nock(ORIGIN).post('/v1/thing').reply(200, { success: false, message: 'no such parent', error_code: 'NOT_FOUND' });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('server');
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('no such parent');
  });

  it('a 200 whose body is not JSON is a server error that says so', async () => {
    nock(ORIGIN).post('/v1/thing').reply(200, '<html>maintenance</html>');
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('server');
    expect(e.code).toBe('BAD_JSON');
    expect(e.message).toContain('not JSON');
    expect(e.message).toContain('maintenance');
  });

  it('reads no more than MAX_ERROR_BYTES of an error page and says how big it was, in one line', async () => {
    const { MAX_ERROR_BYTES } = await import('../../src/http/read-body.js');
    const page = `<html><body>${'x'.repeat(20 * 1024 * 1024)}</body></html>`;
    nock(ORIGIN).post('/v1/thing').reply(401, page, { 'content-length': String(page.length), 'content-type': 'text/html' });
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.kind).toBe('auth');
    expect(e.message).toBe('TestSvc answered HTTP 401 with a 20 MiB HTML page when asked to do the thing: check the token (--token or LAKEUP_TOKEN)');
    expect(MAX_ERROR_BYTES).toBeLessThan(page.length);
  });

  it('a 200 answer bigger than MAX_ANSWER_BYTES is refused, not read whole', async () => {
    const { MAX_ANSWER_BYTES } = await import('../../src/http/read-body.js');
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    // A real server whose 200 never ends: only the cap stops the read (nock would buffer it whole).
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const more = () => {
        while (!res.destroyed && sent < 8 * MAX_ANSWER_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as import('node:net').AddressInfo;
    const e = await rejection(apiPost(ctx({ endpoint: `http://127.0.0.1:${port}` }), call())).finally(() => {
      server.closeAllConnections();
      server.close();
    });
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toBe('TestSvc answered HTTP 200 with more than 64 MiB when asked to do the thing; lakeup reads at most 64 MiB of an answer');
    expect(sent).toBeLessThan(2 * MAX_ANSWER_BYTES);
  });

  it('an empty 200 body is reported as such', async () => {
    nock(ORIGIN).post('/v1/thing').reply(200, '');
    const e = await rejection(apiPost(ctx(), call()));
    expect(e.message).toContain('not JSON');
    expect(e.message).toContain('empty body');
  });

  it('carries Retry-After on the error', () => {
    const e = httpError({ service: 'S' }, { what: 'w' }, 429, '', '3');
    expect(e.retryAfterMs).toBe(3000);
  });
});

describe('apiPost: retries only where they are safe', () => {
  it('retries an idempotent call after a 500 and returns the later success', async () => {
    const scope = nock(ORIGIN).post('/v1/thing').times(2).reply(500, 'oops').post('/v1/thing').reply(200, { ok: 1 });
    await expect(apiPost(ctx(), call())).resolves.toEqual({ ok: 1 });
    expect(scope.isDone()).toBe(true);
  });

  it('does not retry a non-idempotent call (finalize) after a 500', async () => {
    let calls = 0;
    nock(ORIGIN)
      .post('/v1/thing')
      .times(5)
      .reply(() => {
        calls++;
        return calls === 1 ? [500, { error: 'boom', code: 'INTERNAL' }] : [200, { ok: 1 }];
      });
    const e = await rejection(apiPost(ctx(), call({ idempotent: false })));
    expect(e.status).toBe(500);
    expect(calls).toBe(1);
  });

  it('does not repeat a non-idempotent call after a 503: a gateway may answer it after the origin acted', async () => {
    const scope = nock(ORIGIN).post('/v1/thing').reply(503, { error: 'busy' }).post('/v1/thing').reply(200, { done: true });
    const e = await rejection(apiPost(ctx(), call({ idempotent: false })));
    expect(e.status).toBe(503);
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it.each([429])('retries a non-idempotent call after a %d (the server did not act)', async (status) => {
    const scope = nock(ORIGIN).post('/v1/thing').reply(status, { error: 'busy' }).post('/v1/thing').reply(200, { done: true });
    await expect(apiPost(ctx(), call({ idempotent: false }))).resolves.toEqual({ done: true });
    expect(scope.isDone()).toBe(true);
  });

  it('honours Retry-After on a 429 and then succeeds', async () => {
    const scope = nock(ORIGIN)
      .post('/v1/thing')
      .reply(429, { success: false, message: 'slow down', error_code: 'RATE_LIMITED' }, { 'Retry-After': '0.15' })
      .post('/v1/thing')
      .reply(200, { ok: 2 });
    const t0 = performance.now();
    await expect(apiPost(ctx(), call())).resolves.toEqual({ ok: 2 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(130);
    expect(scope.isDone()).toBe(true);
  });

  it('does not retry a 400 even when idempotent', async () => {
    let calls = 0;
    nock(ORIGIN)
      .post('/v1/thing')
      .times(3)
      .reply(() => {
        calls++;
        return [400, { error: 'bad' }];
      });
    await rejection(apiPost(ctx(), call()));
    expect(calls).toBe(1);
  });

  it('gives up after `retries` extra attempts with the last error', async () => {
    let calls = 0;
    nock(ORIGIN)
      .post('/v1/thing')
      .times(10)
      .reply(() => {
        calls++;
        return [502, `bad gateway ${calls}`];
      });
    const e = await rejection(apiPost(ctx({ retries: 2 }), call()));
    expect(calls).toBe(3);
    expect(e.message).toContain('bad gateway 3');
  });

  it('reports each attempt as an api:call event with a redacted URL', async () => {
    nock(ORIGIN).post('/v1/thing').query(true).reply(500, 'x').post('/v1/thing').query(true).reply(200, {});
    const events = new UploadEvents();
    const seen: Array<{ status?: number; attempt: number; url: string }> = [];
    events.on('api:call', (c) => seen.push(c));
    await apiPost(ctx({ events }), call({ path: '/v1/thing?X-Amz-Signature=topsecret' }));
    expect(seen.map((c) => [c.status, c.attempt])).toEqual([
      [500, 1],
      [200, 2],
    ]);
    expect(seen.every((c) => !c.url.includes('topsecret'))).toBe(true);
  });
});

describe('apiPost: network failures', () => {
  it('a refused connection is a network error saying it could not connect, within a bounded time', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const e = await rejection(apiPost(ctx({ endpoint: `http://127.0.0.1:${port}`, retries: 2 }), call()));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(e.kind).toBe('network');
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.message).toContain('could not connect');
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.message).toContain('connection refused');
    expect(e.message).toContain('do the thing');
  });

  it('retries a non-idempotent call when the connection was refused (nothing was sent)', async () => {
    const port = await closedPort();
    const events = new UploadEvents();
    let attempts = 0;
    events.on('api:call', () => attempts++);
    await rejection(apiPost(ctx({ endpoint: `http://127.0.0.1:${port}`, retries: 2, events }), call({ idempotent: false })));
    expect(attempts).toBe(3);
  });

  describe('against a server that never answers', () => {
    let server: http.Server;
    let port: number;
    beforeAll(async () => {
      server = http.createServer(() => {
        /* never answers */
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as import('node:net').AddressInfo).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    it('times out with a network error after timeoutMs', async () => {
      const t0 = performance.now();
      const e = await rejection(apiPost(ctx({ endpoint: `http://127.0.0.1:${port}`, retries: 0, timeoutMs: 200 }), call()));
      const ms = performance.now() - t0;
      expect(ms).toBeGreaterThanOrEqual(150);
      expect(ms).toBeLessThan(3000);
      expect(e.kind).toBe('network');
      expect(e.code).toBe('ETIMEDOUT');
      expect(e.message).toContain('no answer within 200ms');
    });

    it('stops at once when the caller aborts, rejecting with the abort reason and not retrying', async () => {
      const ac = new AbortController();
      const reason = new Error('user pressed Ctrl-C');
      server.once('request', () => ac.abort(reason)); // the call is under way
      const t0 = performance.now();
      await expect(apiPost(ctx({ endpoint: `http://127.0.0.1:${port}`, retries: 5, signal: ac.signal }), call())).rejects.toBe(reason);
      expect(performance.now() - t0).toBeLessThan(2000);
    });
  });
});

describe('apiPost: the token never appears in an error message', () => {
  it.each([
    ['a registered sk_ token', TOKEN],
    ['a token of no known shape that was never registered', 'Zx9.unregistered~token'],
  ])('%s echoed back by the server', async (_n, token) => {
    nock(ORIGIN)
      .post('/v1/thing')
      .reply(401, { success: false, message: `token ${token} is not valid (Bearer ${token})`, error_code: token });
    const events = new UploadEvents();
    const lines: string[] = [];
    events.on('api:call', (c) => lines.push(JSON.stringify(c)));
    const e = await rejection(apiPost(ctx({ token, events }), call()));
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain(token);
    expect(String(e)).not.toContain(token);
    expect(lines.join('\n')).not.toContain(token);
  });

  it('a network error does not carry the token either', async () => {
    const port = await closedPort();
    const e = await rejection(apiPost(ctx({ endpoint: `http://127.0.0.1:${port}`, retries: 0 }), call()));
    expect(e.message).not.toContain(TOKEN);
    expect(e.detail ?? '').not.toContain(TOKEN);
  });
});

describe('apiGet: the same path as apiPost, for idempotent reads', () => {
  it('GETs with the bearer token and no body headers, encodes the query with URLSearchParams and leaves out undefined values', async () => {
    let seen = '';
    const scope = nock(ORIGIN, { reqheaders: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' }, badheaders: ['content-type'] })
      .get((uri) => uri.startsWith('/v1/items/'))
      .reply((request) => {
        const url = new URL(request.url);
        seen = url.pathname + url.search;
        return [200, { ok: true }];
      });
    await expect(
      apiGet(ctx(), { path: `/v1/items/${encodeURIComponent('sc-1:a/b c')}/children`, query: { q: 'a b&c=d', n: 50, skip: undefined }, what: 'list' }),
    ).resolves.toEqual({ ok: true });
    expect(scope.isDone()).toBe(true);
    expect(seen).toBe('/v1/items/sc-1%3Aa%2Fb%20c/children?q=a+b%26c%3Dd&n=50');
  });

  it('appends the query after one the path already has', () => {
    expect(withQuery('https://x.test/p?a=1', { b: 'two words' })).toBe('https://x.test/p?a=1&b=two+words');
    expect(withQuery('https://x.test/p', {})).toBe('https://x.test/p');
  });

  it('retries a 500 (a GET is idempotent) and reports each attempt as an api:call event with method GET', async () => {
    const scope = nock(ORIGIN).get('/v1/thing').reply(500, 'oops').get('/v1/thing').reply(200, { ok: 1 });
    const events = new UploadEvents();
    const seen: Array<[string, number | undefined, number]> = [];
    events.on('api:call', (c) => seen.push([c.method, c.status, c.attempt]));
    await expect(apiGet(ctx({ events }), { path: '/v1/thing', what: 'read the thing' })).resolves.toEqual({ ok: 1 });
    expect(scope.isDone()).toBe(true);
    expect(seen).toEqual([
      ['GET', 500, 1],
      ['GET', 200, 2],
    ]);
  });

  it('honours Retry-After on a 429', async () => {
    const scope = nock(ORIGIN)
      .get('/v1/thing')
      .reply(429, { error: 'slow down', code: 'RATE_LIMITED' }, { 'Retry-After': '0.15' })
      .get('/v1/thing')
      .reply(200, { ok: 2 });
    const t0 = performance.now();
    await expect(apiGet(ctx(), { path: '/v1/thing', what: 'read the thing' })).resolves.toEqual({ ok: 2 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(130);
    expect(scope.isDone()).toBe(true);
  });

  it('errors are the same one line: a 401 is an auth error naming what failed, without the token', async () => {
    nock(ORIGIN).get('/v1/thing').reply(401, { error: { message: `key ${TOKEN} revoked`, type: 'authentication_error' } });
    const e = await rejection(apiGet(ctx(), { path: '/v1/thing', what: 'list the folder' }));
    expect(e.kind).toBe('auth');
    expect(e.status).toBe(401);
    expect(e.message).toContain('TestSvc refused to list the folder: HTTP 401');
    expect(e.message).not.toContain(TOKEN);
  });

  it('does not retry a 404 and carries its status', async () => {
    const scope = nock(ORIGIN).get('/v1/thing').reply(404, { success: false, message: 'no such item', error_code: 'NOT_FOUND' }).get('/v1/thing').reply(200, {});
    const e = await rejection(apiGet(ctx(), { path: '/v1/thing', what: 'read' }));
    expect(e).toMatchObject({ status: 404, code: 'NOT_FOUND', kind: 'server' });
    expect(scope.pendingMocks()).toHaveLength(1);
  });

  it('a 200 with success:false is an error, as for POST', async () => {
    nock(ORIGIN).get('/v1/thing').reply(200, { success: false, message: 'nope', error_code: 'X' });
    const e = await rejection(apiGet(ctx(), { path: '/v1/thing', what: 'read' }));
    expect(e.code).toBe('X');
  });

  it("calls over hold nothing on the run's signal: no listener, no dependant signal", async () => {
    nock(ORIGIN).get('/v1/thing').times(20).reply(200, { ok: true });
    const run = new AbortController();
    for (let i = 0; i < 20; i++) await apiGet(ctx({ signal: run.signal }), { path: '/v1/thing', what: 'read' });
    expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
    // Node's AbortSignal.any keeps one (weak) reference per call here for the life of the signal.
    const dependants = Object.getOwnPropertySymbols(run.signal).find((k) => k.description === 'kDependantSignals');
    const held = dependants ? (run.signal as unknown as Record<symbol, Set<unknown> | undefined>)[dependants] : undefined;
    expect(held?.size ?? 0).toBe(0);
  });

  it("the call's own signal stops it and its retries", async () => {
    nock(ORIGIN).get('/v1/thing').times(10).reply(503, 'busy', { 'Retry-After': '5' });
    const ac = new AbortController();
    const reason = new Error('stop');
    const events = new UploadEvents();
    events.once('api:call', () => ac.abort(reason)); // answered 503: now in the 5 s Retry-After wait
    const t0 = performance.now();
    await expect(apiGet(ctx({ retries: 5, events }), { path: '/v1/thing', what: 'read', signal: ac.signal })).rejects.toBe(reason);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
