// The S3-like store behind the presigned part URLs: `PUT /storage/<bucket>/<key>?uploadId=…&partNumber=N&X-Amz-…`.
// Checks what S3 checks (one auth mechanism, signature, expiry, Content-Length, upload exists), then injects the
// configured faults, then streams the body to disk while hashing it, and answers `ETag: "<md5>"` (in sink mode the body
// is counted and discarded, and the ETag is `"sink-<n>"`: see parts.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { SandboxContext, UploadSession } from './context.js';
import { safeSegments } from './drive.js';
import { contentLength, drain, NO_SUCH_UPLOAD, requestId, sendS3Error, waitUntilClosed } from './http.js';
import type { Headers } from './http.js';
import { MAX_PARTS, MAX_PART_SIZE } from './layout.js';
import { cannedAnswer } from './scripts.js';

export const STORAGE_PREFIX = '/storage/';

const SERVER_ERRORS: readonly [number, string, string][] = [
  [500, 'InternalError', 'We encountered an internal error. Please try again.'],
  [502, 'BadGateway', 'The server received an invalid response from an upstream server.'],
  [503, 'ServiceUnavailable', 'Service is unable to handle request.'],
  [504, 'GatewayTimeout', 'The server did not receive a timely response from an upstream server.'],
];

export async function handlePart(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const q = url.searchParams;
  const uploadId = q.get('uploadId');
  const partNumber = q.get('partNumber');
  if (req.method === 'PUT' && uploadId !== null && partNumber !== null) ctx.stats.partPut(uploadId, partNumber);

  /** Reads the rest of the body (so the connection stays usable), waits the latency, answers an S3 error. */
  const fail = async (status: number, code: string, message: string, extra: Record<string, string> = {}, headers: Headers = {}) => {
    await drain(req, ctx.stats.bytes);
    await ctx.latency();
    sendS3Error(res, status, code, message, extra, headers);
  };

  if (req.method !== 'PUT') return fail(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: req.method ?? '' }, { allow: 'PUT' });
  if (req.headers.authorization !== undefined) {
    // S3 also echoes the header as <ArgumentValue>; the sandbox does not, so a token never lands in a client's logs.
    return fail(400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', {
      ArgumentName: 'Authorization',
    });
  }
  const segments = safeSegments(url.pathname, STORAGE_PREFIX);
  if (!segments || segments.length < 2) return fail(400, 'InvalidURI', 'Couldn\'t parse the specified URI.');
  const target = { bucket: segments[0]!, key: segments.slice(1).join('/') };
  const verdict = ctx.signer.verify(target.bucket, target.key, q);
  if (!verdict.ok) return fail(verdict.status, verdict.code, verdict.message, verdict.extra);
  const length = contentLength(req);
  if (length === undefined) return fail(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  if (length > MAX_PART_SIZE) return fail(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { ProposedSize: String(length), MaxSizeAllowed: String(MAX_PART_SIZE) });
  const n = Number(partNumber);
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTS) {
    return fail(400, 'InvalidArgument', `Part number must be an integer between 1 and ${MAX_PARTS}, inclusive`, { ArgumentName: 'partNumber', ArgumentValue: partNumber ?? '' });
  }
  const session = uploadId === null ? undefined : ctx.uploads.get(uploadId);
  if (!session || session.state !== 'open' || session.bucket !== target.bucket || session.key !== target.key) {
    return fail(404, 'NoSuchUpload', NO_SUCH_UPLOAD, { UploadId: uploadId ?? '' });
  }

  const rule = ctx.scripts.take('part');
  if (rule) {
    await drain(req, ctx.stats.bytes);
    const canned = cannedAnswer(rule, 'application/xml');
    return ctx.reply(res, canned.status, canned.headers, canned.body);
  }

  const fault = ctx.faults.rollPart();
  if (fault) ctx.stats.fault(fault);
  switch (fault) {
    case 'throttle':
      return fail(503, 'SlowDown', 'Please reduce your request rate.', {}, { 'retry-after': 1 });
    case 'fail': {
      const [status, code, message] = ctx.faults.pick(SERVER_ERRORS);
      return fail(status, code, message);
    }
    case 'reset':
      return resetMidBody(req, length, ctx.stats.bytes);
    case 'stall':
      await drain(req, ctx.stats.bytes);
      return waitUntilClosed(req, ctx.opts.signal);
  }

  await storePart(ctx, req, res, session, n, length, fault === 'corrupt');
}

async function storePart(
  ctx: SandboxContext,
  req: IncomingMessage,
  res: ServerResponse,
  session: UploadSession,
  n: number,
  length: number,
  corrupt: boolean,
): Promise<void> {
  let part;
  try {
    part = await ctx.parts.receive(session.id, n, req, length, { corrupt, onBytes: ctx.stats.bytes });
  } catch (err) {
    // The upload finished (its directory went away) while this body was arriving.
    if (session.state === 'open') throw err;
  }
  if (!part) return; // the client went away before sending the whole body: nothing stored, nobody to answer
  if (session.state !== 'open') {
    await ctx.latency();
    sendS3Error(res, 404, 'NoSuchUpload', NO_SUCH_UPLOAD, { UploadId: session.id });
    return;
  }
  session.parts.set(n, part);
  ctx.stats.partStored(session.id, n);
  await ctx.reply(res, 200, { etag: `"${part.etag}"`, 'x-amz-request-id': requestId() });
}

/** Reads about half the body, then destroys the socket: the client sees a connection reset. */
function resetMidBody(req: IncomingMessage, length: number, onBytes: (n: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const threshold = Math.max(1, Math.floor(length / 2));
    let got = 0;
    req.socket.once('close', () => resolve());
    if (length === 0) {
      req.socket.destroy();
      return;
    }
    req.on('data', (chunk: Buffer) => {
      got += chunk.length;
      onBytes(chunk.length);
      if (got >= threshold) req.socket.destroy();
    });
    req.once('error', () => undefined);
    req.resume();
  });
}
