// A tiny presigned-storage stand-in for engine tests: real sockets, programmable answers per
// request, and a record of what arrived.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ArrivedPut {
  part: number;
  bytes: Buffer;
  headers: http.IncomingHttpHeaders;
  answered: number | 'reset' | 'stall';
}

/** What to do with a request: answer normally, or a fault. Called once the body is read (or not). */
export type Behaviour =
  | { kind: 'ok'; etag?: string }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string>; early?: boolean }
  | { kind: 'reset'; afterBytes?: number }
  | { kind: 'stall' }
  | { kind: 'slow'; chunkDelayMs: number };

export interface PartServer {
  origin: string;
  url(part: number, query?: string): string;
  arrived: ArrivedPut[];
  maxInFlight: number;
  /** Decides the behaviour of the n-th request (1-based overall) for `part`'s k-th attempt. */
  behave: (part: number, attempt: number, nth: number) => Behaviour;
  close(): Promise<void>;
}

export async function startPartServer(): Promise<PartServer> {
  let inFlight = 0;
  let nth = 0;
  const attempts = new Map<number, number>();
  const sockets = new Set<import('node:net').Socket>();
  const state: PartServer = {
    origin: '',
    url: (part, query = '') => `${state.origin}/bucket/key?partNumber=${part}&X-Amz-Signature=secret${query}`,
    arrived: [],
    maxInFlight: 0,
    behave: () => ({ kind: 'ok' }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const part = Number(url.searchParams.get('partNumber'));
    const attempt = (attempts.get(part) ?? 0) + 1;
    attempts.set(part, attempt);
    const b = state.behave(part, attempt, ++nth);
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    const done = () => {
      inFlight--;
    };
    const record = (bytes: Buffer, answered: ArrivedPut['answered']) =>
      state.arrived.push({ part, bytes, headers: req.headers, answered });

    if (b.kind === 'status' && b.early) {
      // Answer before reading the body, as S3 does for auth failures, then close.
      res.writeHead(b.status, { 'content-type': 'application/xml', connection: 'close', ...b.headers });
      res.end(b.body ?? '');
      record(Buffer.alloc(0), b.status);
      done();
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        n += chunk.length;
        if (b.kind === 'reset' && n >= (b.afterBytes ?? 1)) {
          record(Buffer.concat(chunks), 'reset');
          req.socket.destroy();
          done();
          return;
        }
        if (b.kind === 'slow') {
          req.pause();
          await new Promise((r) => setTimeout(r, b.chunkDelayMs));
          req.resume();
        }
      }
    } catch {
      done();
      return;
    }
    const bytes = Buffer.concat(chunks);
    if (b.kind === 'stall') {
      record(bytes, 'stall');
      done();
      return; // never answer
    }
    if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': 'application/xml', ...b.headers });
      res.end(b.body ?? '');
      record(bytes, b.status);
      done();
      return;
    }
    const md5 = createHash('md5').update(bytes).digest('hex');
    res.writeHead(200, { etag: `"${b.kind === 'ok' && b.etag ? b.etag : md5}"` });
    res.end();
    record(bytes, 200);
    done();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

export function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`;
}
