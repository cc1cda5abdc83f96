// `lakeup sandbox`: one local HTTP server that speaks MemoryLake's and Copera's drive APIs (docs/providers.md)
// and stores parts behind presigned URLs like S3 does, with faults on demand. Routes:
//
//   POST /openapi/memorylake/api/v1/drives/items/upload        MemoryLake: create upload session
//   POST /openapi/memorylake/api/v1/drives/items               MemoryLake: Create Item (file from upload, or folder)
//   GET  /openapi/memorylake/api/v1/drives/items/{id}/children MemoryLake: a folder's children, page by page
//   GET  /openapi/memorylake/api/v1/drives/items/{id}          MemoryLake: one item
//   POST /public/v1/drive/files/upload/multipart/start         Copera: start
//   POST /public/v1/drive/files/upload/multipart/presigned-urls Copera: (fresh) part URLs
//   POST /public/v1/drive/files/upload/multipart/finalize      Copera: finalize
//   POST /public/v1/drive/folders                              Copera: create folder
//   GET  /public/v1/drive/tree?parentId&depth                  Copera: the tree under a folder (500 items at most)
//   GET  /public/v1/drive/files/{id}                           Copera: one item
//   GET  /public/v1/drive/search?q&limit                       Copera: search by name
//   PUT  /storage/<bucket>/<key>?uploadId&partNumber&X-Amz-…   presigned part PUT (faults apply here)
//   PUT  /plain/<name>                                         one plain streamed PUT (benchmark baseline)
//   *    /s3/<bucket>/<key>                                    path-style S3 multipart API for @aws-sdk/lib-storage
//   GET  /_sandbox/stats, POST /_sandbox/faults|expire|script|hold|seed   test and benchmark controls (control.ts)
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { SandboxContext } from './context.js';
import { CONTROL_PREFIX, handleControl } from './control.js';
import { COPERA_PREFIX, handleCopera } from './copera.js';
import { FaultInjector } from './faults.js';
import { sendJson, sendS3Error } from './http.js';
import { startLink } from './link.js';
import { handleMemoryLake, ML_PREFIX } from './memorylake.js';
import { handlePlain, handleS3, PLAIN_PREFIX, S3_PREFIX } from './objects.js';
import { UrlSigner, urlTtlSeconds } from './presign.js';
import { seedDrive } from './seed.js';
import { handlePart, STORAGE_PREFIX } from './storage.js';
import type { SandboxHandle, SandboxOptions } from './types.js';

export type {
  ApiRoute,
  CoperaShape,
  CreatedFolder,
  FaultKind,
  FaultOptions,
  FinalizedFile,
  FinalizedProvider,
  HoldRule,
  SandboxHandle,
  SandboxOptions,
  SandboxStats,
  ScriptRoute,
  ScriptRule,
  SeededItem,
  SeedItem,
} from './types.js';
export { memoryLakeLayout, memoryLakePartSize } from './layout.js';

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_TOKEN = 'lakeup-sandbox';
export const DEFAULT_URL_TTL_MS = 3600_000;
const CLOSE_GRACE_MS = 2000;

function originOf(address: AddressInfo): string {
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

/** The request path for logs: X-Amz-* query parameters (signature, credential, dates) left out. */
function logPath(url: URL): string {
  const q = [...url.searchParams].filter(([k]) => !k.startsWith('X-Amz-'));
  return q.length ? `${url.pathname}?${new URLSearchParams(q).toString()}` : url.pathname;
}

async function route(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const path = url.pathname;
  if (path.startsWith(STORAGE_PREFIX)) return handlePart(ctx, req, res, url);
  if (path.startsWith(ML_PREFIX)) return handleMemoryLake(ctx, req, res, url);
  if (path.startsWith(COPERA_PREFIX)) return handleCopera(ctx, req, res, url);
  if (path.startsWith(PLAIN_PREFIX)) return handlePlain(ctx, req, res, url);
  if (path.startsWith(S3_PREFIX)) return handleS3(ctx, req, res, url);
  if (path.startsWith(CONTROL_PREFIX)) return handleControl(ctx, req, res, path);
  req.resume();
  sendJson(res, 404, { error: `no such route: ${req.method} ${path}`, code: 'NOT_FOUND' });
}

/** Starts a sandbox; resolves once it listens. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<SandboxHandle> {
  const ttlSec = urlTtlSeconds(opts.urlTtlMs ?? DEFAULT_URL_TTL_MS);
  const token = opts.token ?? DEFAULT_TOKEN;
  const accounts = [[token, ...(opts.moreTokens ?? [])], ...(opts.otherAccountTokens ?? []).map((t) => [t])];
  const all = accounts.flat();
  if (!all.every((t) => /^\S+$/.test(t))) throw new TypeError('the sandbox tokens must be non-empty strings without spaces');
  if (new Set(all).size !== all.length) throw new TypeError('the sandbox tokens must all differ (one token, one account)');
  const partSize = opts.memorylakePartSize;
  if (partSize !== undefined && !(Number.isSafeInteger(partSize) && partSize >= 1)) {
    throw new RangeError(`memorylakePartSize must be a positive integer (got ${partSize})`);
  }
  const coperaShape = opts.coperaShape ?? 'docs';
  if (coperaShape !== 'docs' && coperaShape !== 'sdk') throw new TypeError(`coperaShape must be "docs" or "sdk"`);
  const faults = new FaultInjector(opts.apiRate === undefined ? opts.faults : { ...opts.faults, apiRate: opts.apiRate }, opts.seed ?? randomInt(2 ** 31));
  const createdDir = opts.dir === undefined;
  const dir = resolve(opts.dir ?? (await mkdtemp(join(tmpdir(), 'lakeup-sandbox-'))));
  await mkdir(dir, { recursive: true });

  const abort = new AbortController();
  // Every request waiting (latency, holds) listens on it to end at close: as many as requests in
  // flight, not a leak; Node's warning at 11 would reach the terminal of `lakeup sandbox`.
  setMaxListeners(0, abort.signal);
  const signer = new UrlSigner(ttlSec);
  let origin = '';
  const ctx = new SandboxContext(
    { dir, accounts, sink: opts.sink === true, memorylakePartSize: partSize, coperaShape, signer, faults, origin: () => origin, signal: abort.signal },
    join(dir, '.sandbox-parts'),
  );
  const log = opts.log;
  const inflight = new Set<Promise<void>>();

  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    const started = performance.now();
    const url = new URL(`http://sandbox${req.url?.startsWith('/') ? req.url : `/${req.url ?? ''}`}`);
    if (log) {
      res.once('close', () => {
        const status = res.headersSent ? String(res.statusCode) : res.writableFinished ? '-' : 'no answer';
        log(`${req.method} ${logPath(url)} ${status} ${Math.round(performance.now() - started)}ms`);
      });
    }
    const task = route(ctx, req, res, url)
      .catch((err: unknown) => {
        log?.(`error on ${req.method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        if (res.headersSent) return void res.destroy();
        req.resume();
        const message = 'the sandbox failed to handle this request';
        if (url.pathname.startsWith(STORAGE_PREFIX) || url.pathname.startsWith(S3_PREFIX)) sendS3Error(res, 500, 'InternalError', message);
        else sendJson(res, 500, { error: message, code: 'INTERNAL' });
      })
      .finally(() => inflight.delete(task));
    inflight.add(task);
  });
  server.keepAliveTimeout = 65_000;
  server.timeout = 0;

  await new Promise<void>((resolveListen, reject) => {
    // A temp dir made for a sandbox that never ran is removed again.
    const cleanup = (err: Error) => (createdDir ? rm(dir, { recursive: true, force: true }).then(() => reject(err), () => reject(err)) : reject(err));
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        cleanup(new Error(`port ${opts.port ?? DEFAULT_PORT} on ${opts.host ?? DEFAULT_HOST} is already in use: choose another with --port (0 picks a free one)`, { cause: err }));
      } else cleanup(err);
    };
    server.once('error', onError);
    // Behind a link, the server itself listens on a free loopback port and the link takes the one asked for.
    server.listen(opts.link ? 0 : (opts.port ?? DEFAULT_PORT), opts.link ? '127.0.0.1' : (opts.host ?? DEFAULT_HOST), () => {
      server.off('error', onError);
      resolveListen();
    });
  });
  const link = opts.link
    ? await startLink({ host: opts.host ?? DEFAULT_HOST, port: opts.port ?? DEFAULT_PORT }, { host: '127.0.0.1', port: (server.address() as AddressInfo).port }, opts.link).catch(
        (err: unknown) => new Promise<never>((_, reject) => server.close(() => reject(err))),
      )
    : undefined;
  origin = originOf(link ? ({ address: link.address, port: link.port } as AddressInfo) : (server.address() as AddressInfo));

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      abort.abort();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, CLOSE_GRACE_MS).unref()));
      await Promise.race([Promise.allSettled([...inflight]), grace]);
      clearTimeout(timer);
      await closed;
      await link?.close();
      await ctx.parts.discardAll();
      // A temp folder it made is its own: gone with it (a --dir is the caller's, kept).
      if (createdDir) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })());

  return {
    origin,
    token,
    dir,
    stats: () => ctx.stats.snapshot(),
    close,
    setFaults: (f) => ctx.faults.set(f),
    expireAllUrls: () => signer.expireAll(),
    script: (rule) => ctx.scripts.add(rule),
    hold: (rule) => ctx.holds.add(rule),
    seed: (items) => seedDrive(ctx, items),
  };
}

export interface SandboxCommandOptions extends SandboxOptions {
  /** Where the JSON line goes; default process.stdout. */
  stdout?: NodeJS.WritableStream;
  /** Where the human lines go; default process.stderr. */
  stderr?: NodeJS.WritableStream;
  /** Stops the sandbox like SIGINT does (tests). */
  signal?: AbortSignal;
}

/**
 * `lakeup sandbox`: starts a sandbox, says where it listens (a human line on stderr, one JSON line
 * `{"origin","token","dir"}` on stdout for scripts), runs until SIGINT/SIGTERM/SIGHUP (or `signal`), closes (removing
 * the temp folder it made when no `dir` was given), resolves 0. Signals that come while it closes are ignored: the
 * close is short (a grace of CLOSE_GRACE_MS at most for requests in flight) and must not be cut before the temp folder
 * is removed. Rejects when it cannot start (e.g. the port is taken), with a one-line message.
 */
export async function runSandboxCommand(opts: SandboxCommandOptions = {}): Promise<number> {
  const { stdout = process.stdout, stderr = process.stderr, signal, ...options } = opts;
  const sandbox = await startSandbox(options);
  const temp = options.dir === undefined;
  stderr.write(`lakeup sandbox listening on ${sandbox.origin}  token: ${sandbox.token}  files: ${sandbox.dir}${temp ? ' (a temp folder, removed on exit; --dir keeps the files)' : ''}\n`);
  const faults = Object.entries(options.faults ?? {}).filter(([, v]) => v);
  if (faults.length) stderr.write(`lakeup sandbox: faults ${faults.map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  if (options.apiRate) stderr.write(`lakeup sandbox: API rate limit ${options.apiRate} calls/s across both providers\n`);
  if (options.sink) stderr.write('lakeup sandbox: sink mode: part bodies are counted and discarded (not hashed), no files are written\n');
  if (options.link) stderr.write(`lakeup sandbox: link: ${options.link.latencyMs}ms each way${options.link.connRate ? `, ${options.link.connRate} B/s per connection` : ''}\n`);
  stdout.write(`${JSON.stringify({ origin: sandbox.origin, token: sandbox.token, dir: sandbox.dir })}\n`);

  let stopped!: () => void;
  const stopping = new Promise<void>((done) => (stopped = done));
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK' as NodeJS.Signals] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  // Listening until the close is over: a signal only ends the wait (Node's default would exit at once).
  for (const s of signals) process.on(s, stopped);
  try {
    if (signal?.aborted) stopped();
    else signal?.addEventListener('abort', stopped, { once: true });
    await stopping;
    signal?.removeEventListener('abort', stopped);
    stderr.write(`lakeup sandbox: stopping${temp ? `, removing ${sandbox.dir}` : ''}\n`);
    await sandbox.close();
  } finally {
    for (const s of signals) process.off(s, stopped);
  }
  return 0;
}

