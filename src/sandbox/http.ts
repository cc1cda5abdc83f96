// Small HTTP helpers shared by the sandbox routes: answers, bodies, S3 XML.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Headers = Record<string, string | number>;

/** Writes a whole answer with its Content-Length, unless the socket is gone or an answer was already sent. */
export function send(res: ServerResponse, status: number, headers: Headers, body?: string | Buffer): void {
  if (res.headersSent || res.destroyed) return;
  const buf = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'content-length': buf?.length ?? 0 });
  res.end(buf);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  send(res, status, { 'content-type': 'application/json; charset=utf-8', ...headers }, JSON.stringify(body));
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);
}

export function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (m, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[e.toLowerCase()] !== undefined) return named[e.toLowerCase()]!;
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) ? String.fromCodePoint(code) : m;
  });
}

export function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/** `<?xml…?><Error><Code>…</Code><Message>…</Message>…<RequestId>…</RequestId></Error>` as S3 sends it. */
export function s3ErrorXml(code: string, message: string, extra: Record<string, string> = {}, id = requestId()): string {
  const fields = Object.entries(extra)
    .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${fields}` +
    `<RequestId>${id}</RequestId><HostId>${randomBytes(24).toString('base64')}</HostId></Error>`
  );
}

export const NO_SUCH_UPLOAD =
  'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.';

export function sendS3Error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
  headers: Headers = {},
): void {
  const id = requestId();
  send(res, status, { 'content-type': 'application/xml', 'x-amz-request-id': id, ...headers }, s3ErrorXml(code, message, extra, id));
}

export function sendXml(res: ServerResponse, status: number, xml: string, headers: Headers = {}): void {
  send(res, status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId(), ...headers }, xml);
}

/** Reads and discards the rest of a request body; resolves when it ended or the connection went away. */
export function drain(req: IncomingMessage, onBytes: (n: number) => void): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete || req.destroyed) return resolve();
    req.on('data', (chunk: Buffer) => onBytes(chunk.length));
    req.once('end', () => resolve());
    req.once('close', () => resolve());
    req.once('error', () => resolve());
    req.resume();
  });
}

/** Never answers: resolves once the client went away (socket closed) or `signal` aborts (the sandbox closes). */
export function waitUntilClosed(req: IncomingMessage, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (req.socket.destroyed || signal.aborted) return resolve();
    const done = () => {
      signal.removeEventListener('abort', done);
      req.socket.off('close', done);
      resolve();
    };
    req.socket.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class BodyTooLarge extends Error {}

/**
 * Reads a whole (small) request body; rejects with BodyTooLarge past `limit` bytes (after draining the rest, so the
 * connection stays usable for the answer).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once('end', () =>
      size > limit ? reject(new BodyTooLarge(`request body is larger than ${limit} bytes`)) : resolve(Buffer.concat(chunks)),
    );
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('client closed the connection before sending the whole body'));
    });
  });
}

/** S3 ETags arrive quoted; compare them unquoted. */
export function unquote(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** The request's Content-Length as a number, or undefined when absent or malformed. */
export function contentLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

/** A bearer token from the Authorization header. */
export function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}
