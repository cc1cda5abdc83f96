// Shared helpers for the sandbox tests: real HTTP over undici against an ephemeral-port sandbox.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { afterEach } from 'vitest';
import { request } from 'undici';

import { runSandboxCommand, startSandbox } from '../../src/sandbox/server.js';
import type { SandboxHandle, SandboxOptions } from '../../src/sandbox/server.js';

export const MiB = 1024 * 1024;
export const ML_UPLOAD = '/openapi/memorylake/api/v1/drives/items/upload';
export const ML_ITEMS = '/openapi/memorylake/api/v1/drives/items';
export const CP = '/public/v1/drive/files/upload/multipart';
export const CP_FOLDERS = '/public/v1/drive/folders';
export const CP_TREE = '/public/v1/drive/tree';
export const CP_FILES = '/public/v1/drive/files';
export const CP_SEARCH = '/public/v1/drive/search';

const open: SandboxHandle[] = [];

/** Starts a sandbox on a free port in a fresh temp dir; closed and removed after each test. */
export async function sandbox(opts: SandboxOptions = {}): Promise<SandboxHandle> {
  const sb = await startSandbox({ port: 0, ...opts });
  open.push(sb);
  return sb;
}

afterEach(async () => {
  const all = open.splice(0);
  await Promise.all(all.map((sb) => sb.close()));
  await Promise.all(all.map((sb) => rm(sb.dir, { recursive: true, force: true })));
});

export const md5 = (b: Buffer | Uint8Array): string => createHash('md5').update(b).digest('hex');

/** Deterministic-enough test bytes. */
export function bytes(n: number): Buffer {
  return randomBytes(n);
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function answer(res: Awaited<ReturnType<typeof request>>): Promise<Answer> {
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** POST JSON to the sandbox API with its token (or another one, or none with token: null). */
export async function api(
  sb: SandboxHandle,
  path: string,
  body: unknown,
  opts: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const token = opts.token === undefined ? sb.token : opts.token;
  const res = await request(`${sb.origin}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...opts.headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return answer(res);
}

/** GET from the sandbox API with its token (or another one, or none with token: null). */
export async function apiGet(
  sb: SandboxHandle,
  path: string,
  opts: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const token = opts.token === undefined ? sb.token : opts.token;
  const res = await request(`${sb.origin}${path}`, {
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers },
  });
  return answer(res);
}

/** Polls `check` every 10 ms until it returns true (an observable event, not a fixed sleep); fails after `ms`. */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms: ${check.toString()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function put(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(url, { method: 'PUT', body, headers });
  return answer(res);
}

export async function get(url: string): Promise<Answer> {
  return answer(await request(url));
}

/** Splits `data` by a MemoryLake layout. */
export function slices(data: Buffer, items: { number: number; size: number }[]): Buffer[] {
  let offset = 0;
  return items.map((p) => data.subarray(offset, (offset += p.size)));
}

/** A whole MemoryLake upload: session, parts, Create Item. Returns the Create Item answer. */
export async function mlUpload(
  sb: SandboxHandle,
  name: string,
  data: Buffer,
  item: Record<string, unknown> = {},
): Promise<Answer> {
  const session = await api(sb, ML_UPLOAD, { file_size: data.length });
  const { upload_id, part_items } = session.json.data;
  const parts = slices(data, part_items);
  const etags = await Promise.all(
    part_items.map(async (p: { number: number; upload_url: string }, i: number) => {
      const r = await put(p.upload_url, parts[i]!);
      return { number: p.number, etag: String(r.headers.etag).replace(/"/g, '') };
    }),
  );
  return api(sb, ML_ITEMS, {
    item_type: 'file',
    parent_item_id: 'MY_SPACE',
    name,
    from: { upload_id, part_etags: etags },
    ...item,
  });
}

/** A whole one-part Copera upload (start, presigned URL, PUT, finalize) into `parentId` (default the root). */
export async function coperaUpload(sb: SandboxHandle, fileName: string, data: Buffer, parentId?: string): Promise<Answer> {
  const { uploadId, fileKey } = (await api(sb, `${CP}/start`, { fileName, fileSize: data.length, mimeType: 'text/plain', ...(parentId ? { parentId } : {}) })).json;
  const [url] = (await api(sb, `${CP}/presigned-urls`, { uploadId, fileKey, parts: 1 })).json.urls;
  const eTag = String((await put(url, data)).headers.etag);
  return api(sb, `${CP}/finalize`, { uploadId, fileKey, parts: [{ partNumber: 1, eTag }] });
}

/** The S3 error code in an XML body. */
export function s3Code(text: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
}

/** Whether a file holds exactly these bytes (Buffer.equals: vitest's deep equality is slow on big buffers). */
export async function sameBytes(path: string, data: Buffer): Promise<boolean> {
  return (await readFile(path)).equals(data);
}

/** `lakeup sandbox` run in this process (runSandboxCommand), once it has said where it listens. */
export interface SandboxCommand {
  /** Its stdout JSON line. */
  info: { origin: string; token: string; dir: string };
  /** Its stdout and stderr so far. */
  out(): string;
  err(): string;
  /** Stops it like SIGINT does; resolves with its exit code. */
  stop(): Promise<number>;
}

/** Starts `lakeup sandbox` with `opts`; resolves when its stdout line arrives (the event, not a poll). */
export async function startSandboxCommand(opts: SandboxOptions = {}): Promise<SandboxCommand> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stderr.on('data', (c) => (err += c));
  const listening = new Promise<string>((resolve) =>
    stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out);
    }),
  );
  const ac = new AbortController();
  const running = runSandboxCommand({ ...opts, stdout, stderr, signal: ac.signal });
  const ended = running.then((code) => Promise.reject(new Error(`the sandbox command ended (${code}) before it said where it listens`)));
  const info = JSON.parse(await Promise.race([listening, ended])) as SandboxCommand['info'];
  return {
    info,
    out: () => out,
    err: () => err,
    stop() {
      ac.abort();
      return running;
    },
  };
}
