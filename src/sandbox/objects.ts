// Benchmark baselines, outside the providers: `PUT /plain/<name>` (one plain stream, what `curl -T file URL` does)
// and a path-style S3-compatible API at `/s3/<bucket>/<key>` for `@aws-sdk/lib-storage` (auth headers ignored).
// No faults apply here. Objects land at `<dir>/plain/<name>` and `<dir>/s3/<bucket>/<key>`, overwriting.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { hex, multipartEtag } from './context.js';
import type { SandboxContext } from './context.js';
import { safeSegments } from './drive.js';
import { BodyTooLarge, contentLength, drain, NO_SUCH_UPLOAD, readBody, requestId, send, sendS3Error, sendXml, xmlEscape, xmlUnescape } from './http.js';
import { checkCompleteList, CompleteError, MAX_PARTS, MAX_PART_SIZE } from './layout.js';
import { streamToFile } from './parts.js';
import type { FinalizedProvider } from './types.js';

/** Objects finished on the S3 route (sink mode included), for HEAD: clients such as rclone look before and after. */
const s3Objects = new WeakMap<SandboxContext, Map<string, { size: number; etag: string; at: Date }>>();
function rememberS3(ctx: SandboxContext, bucket: string, key: string, size: number, etag: string): void {
  let m = s3Objects.get(ctx);
  if (!m) s3Objects.set(ctx, (m = new Map()));
  m.set(`${bucket}/${key}`, { size, etag, at: new Date() });
}

export const PLAIN_PREFIX = '/plain/';
export const S3_PREFIX = '/s3/';
const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/**
 * The body to store and its expected size. The AWS SDK may send `Content-Encoding: aws-chunked` (streaming checksums):
 * then the chunk framing is removed and `x-amz-decoded-content-length` is the size.
 */
function bodyOf(req: IncomingMessage): { source: AsyncIterable<Buffer>; expected: number | undefined } {
  const encoding = req.headers['content-encoding'] ?? '';
  const sha = req.headers['x-amz-content-sha256'] ?? '';
  if (/aws-chunked/i.test(encoding) || /^STREAMING-/i.test(String(sha))) {
    const decoded = req.headers['x-amz-decoded-content-length'];
    return { source: decodeAwsChunked(req), expected: decoded !== undefined && /^\d+$/.test(String(decoded)) ? Number(decoded) : undefined };
  }
  return { source: req, expected: contentLength(req) };
}

/** Removes aws-chunked framing: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0\r\n<trailers>\r\n\r\n`. */
export async function* decodeAwsChunked(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let buf: Buffer = Buffer.alloc(0);
  let remaining = 0; // data bytes left in the current chunk
  let state: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  for await (const chunk of src) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (state === 'size') {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          if (buf.length > 4096) throw new Error('aws-chunked: chunk header too long');
          break;
        }
        const size = parseInt(buf.subarray(0, eol).toString('latin1').split(';')[0]!, 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('aws-chunked: bad chunk size');
        buf = buf.subarray(eol + 2);
        if (size === 0) state = 'trailer';
        else {
          remaining = size;
          state = 'data';
        }
      } else if (state === 'data') {
        if (buf.length === 0) break;
        const take = Math.min(remaining, buf.length);
        yield buf.subarray(0, take);
        buf = buf.subarray(take);
        remaining -= take;
        if (remaining > 0) break;
        state = 'crlf';
      } else if (state === 'crlf') {
        if (buf.length < 2) break;
        buf = buf.subarray(2);
        state = 'size';
      } else {
        buf = Buffer.alloc(0); // trailers (checksums) are not checked
        break;
      }
    }
  }
  if (state !== 'trailer') throw new Error('aws-chunked: body ended inside a chunk');
}

/** Streams a whole body to a temp file (or the sink), then moves it to `dest`. Undefined when the body was short. */
async function storeObject(
  ctx: SandboxContext,
  req: IncomingMessage,
  provider: FinalizedProvider,
  name: string,
  dest: string,
): Promise<string | undefined> {
  const { source, expected } = bodyOf(req);
  const tmp = await ctx.parts.tempPath(provider);
  let result: { size: number; etag: string };
  try {
    result = await streamToFile(source, tmp, { onBytes: ctx.stats.bytes });
  } catch {
    return undefined;
  }
  if (expected !== undefined && result.size !== expected) {
    if (tmp) await rm(tmp, { force: true });
    return undefined;
  }
  if (tmp) {
    await mkdir(dirname(dest), { recursive: true });
    await rename(tmp, dest);
  }
  ctx.stats.finalized({ provider, name, path: tmp ? dest : null, size: result.size, etag: result.etag });
  return result.etag;
}

export async function handlePlain(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  ctx.stats.api('plain');
  const segments = safeSegments(url.pathname, PLAIN_PREFIX);
  if (req.method !== 'PUT' || !segments) {
    await drain(req, ctx.stats.bytes);
    send(res, req.method !== 'PUT' ? 405 : 400, { 'content-type': 'text/plain; charset=utf-8' }, req.method !== 'PUT' ? 'use PUT /plain/<name>\n' : 'bad file name\n');
    return;
  }
  const md5 = await storeObject(ctx, req, 'plain', segments.join('/'), join(ctx.opts.dir, 'plain', ...segments));
  if (md5) send(res, 200, { etag: `"${md5}"` });
}

export async function handleS3(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const segments = safeSegments(url.pathname, S3_PREFIX);
  const q = url.searchParams;
  const uploadId = q.get('uploadId');
  const fail = async (status: number, code: string, message: string, extra: Record<string, string> = {}) => {
    await drain(req, ctx.stats.bytes);
    sendS3Error(res, status, code, message, extra);
  };
  if (!segments || segments.length < 2) return fail(400, 'InvalidURI', 'expected path-style /s3/<bucket>/<key>');
  const [bucket, ...keyParts] = segments as [string, ...string[]];
  const key = keyParts.join('/');
  const dest = join(ctx.opts.dir, 's3', bucket, ...keyParts);
  const session = uploadId === null ? undefined : ctx.uploads.get(uploadId);
  const known = session && session.provider === 's3' && session.bucket === bucket && session.key === key && session.state === 'open';

  if (req.method === 'POST' && q.has('uploads')) {
    ctx.stats.api('s3.initiate');
    await drain(req, ctx.stats.bytes);
    const id = `s3-${hex(16)}`;
    ctx.uploads.set(id, { id, provider: 's3', bucket, key, parts: new Map(), state: 'open' });
    sendXml(
      res,
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult xmlns="${S3_NS}"><Bucket>${xmlEscape(bucket)}</Bucket>` +
        `<Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
    );
    return;
  }
  if (req.method === 'PUT' && uploadId !== null) {
    ctx.stats.api('s3.part');
    if (!known) return fail(404, 'NoSuchUpload', NO_SUCH_UPLOAD, { UploadId: uploadId });
    const n = Number(q.get('partNumber'));
    if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) return fail(400, 'InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`);
    const { source, expected } = bodyOf(req);
    if (expected !== undefined && expected > MAX_PART_SIZE) return fail(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    const part = await ctx.parts.receive(session!.id, n, source, expected, { onBytes: ctx.stats.bytes });
    if (!part) return;
    session!.parts.set(n, part);
    send(res, 200, { etag: `"${part.etag}"` });
    return;
  }
  if (req.method === 'POST' && uploadId !== null) {
    ctx.stats.api('s3.complete');
    if (!known) return fail(404, 'NoSuchUpload', NO_SUCH_UPLOAD, { UploadId: uploadId });
    let xml: string;
    try {
      xml = (await readBody(req, 16 * 1024 * 1024)).toString('utf8');
    } catch (err) {
      if (err instanceof BodyTooLarge) sendS3Error(res, 400, 'MalformedXML', err.message);
      return;
    }
    const list = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(([, inner]) => ({
      number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(inner!)?.[1] ?? NaN),
      etag: xmlUnescape(/<ETag>([\s\S]*?)<\/ETag>/.exec(inner!)?.[1] ?? ''),
    }));
    if (list.length === 0 || list.some((p) => !Number.isInteger(p.number))) {
      return fail(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    }
    let ordered;
    try {
      ordered = checkCompleteList(list, session!.parts);
    } catch (err) {
      if (err instanceof CompleteError) return fail(400, err.problem, err.message);
      throw err;
    }
    const { path } = await ctx.assemble(session!, ordered, () => ({ dest, value: undefined }));
    const etag = multipartEtag(ordered);
    ctx.stats.finalized({ provider: 's3', name: key, path, size: ordered.reduce((s, p) => s + p.size, 0), etag });
    rememberS3(ctx, bucket, key, ordered.reduce((s, p) => s + p.size, 0), etag);
    sendXml(
      res,
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult xmlns="${S3_NS}">` +
        `<Location>${xmlEscape(`${ctx.urlOrigin(req)}/s3/${bucket}/${key}`)}</Location><Bucket>${xmlEscape(bucket)}</Bucket>` +
        `<Key>${xmlEscape(key)}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`,
    );
    return;
  }
  if (req.method === 'PUT') {
    ctx.stats.api('s3.put');
    const expected = bodyOf(req).expected;
    const md5 = await storeObject(ctx, req, 's3', key, dest);
    if (md5) {
      rememberS3(ctx, bucket, key, expected ?? 0, md5);
      send(res, 200, { etag: `"${md5}"` });
    }
    return;
  }
  if (req.method === 'HEAD' && uploadId === null) {
    ctx.stats.api('s3.head');
    await drain(req, ctx.stats.bytes);
    const o = s3Objects.get(ctx)?.get(`${bucket}/${key}`);
    if (!o) return void send(res, 404, { 'x-amz-request-id': requestId() });
    res.writeHead(200, { 'content-length': o.size, etag: `"${o.etag}"`, 'last-modified': o.at.toUTCString(), 'content-type': 'application/octet-stream' });
    res.end();
    return;
  }
  if (req.method === 'DELETE' && uploadId !== null) {
    ctx.stats.api('s3.abort');
    await drain(req, ctx.stats.bytes);
    if (!known) return fail(404, 'NoSuchUpload', NO_SUCH_UPLOAD, { UploadId: uploadId });
    session!.state = 'done';
    session!.parts.clear();
    await ctx.parts.discard(session!.id);
    send(res, 204, {});
    return;
  }
  return fail(501, 'NotImplemented', `the sandbox's S3 API does not implement ${req.method} with this query`);
}
