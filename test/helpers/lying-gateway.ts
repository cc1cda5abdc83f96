// A gateway in front of the sandbox that lets calls reach the origin and then loses the answer:
// for the calls a test picks, the origin acts (the item is made) but the client gets a 503, a
// reset, or nothing at all — what a real gateway does when the origin is slow or it fails itself.
// It also plays a hostile server: the origin's answer with headers of its choosing, or an answer of
// its own (any status, any body); and it can serve https, so that lakeup talks to an https API.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/** The origin acts either way; then its answer is forwarded with `headers` added, or, with `status`, replaced. */
export interface Hostile {
  headers?: Record<string, string>;
  status?: number;
  body?: string | Buffer;
}

/** Whether a request (as `pick` sees it) is a provider's finalize. */
export const isFinalize = (provider: string, method: string, p: string, body: unknown) =>
  method === 'POST' &&
  (provider === 'memorylake'
    ? p.endsWith('/drives/items') && (body as { item_type?: string })?.item_type === 'file'
    : p.endsWith('/multipart/finalize'));

export type Lie = '503' | 'reset' | Hostile;

export interface LyingGateway {
  origin: string;
  /** Calls whose answers were replaced so far. */
  readonly lied: number;
  close(): Promise<void>;
}

/** `pick` decides per request (method, path, JSON body) whether to replace the origin's answer. */
export async function startLyingGateway(
  target: string,
  pick: (method: string, path: string, body: unknown) => Lie | undefined,
  opts: { tls?: { key: string; cert: string } } = {},
): Promise<LyingGateway> {
  const upstream = new URL(target);
  let lied = 0;
  const sockets = new Set<import('node:net').Socket>();
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      const lie = pick(req.method ?? 'GET', req.url ?? '/', body);
      // The Host header stays the sandbox's: presigned part URLs then go straight to it.
      const out = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          if (!lie || (typeof lie === 'object' && lie.status === undefined)) {
            if (lie) lied++;
            res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(lie ? lie.headers : {}) });
            answer.pipe(res);
            return;
          }
          // The origin did its work; wait for all of it, then lie about it.
          answer.resume();
          answer.on('end', () => {
            lied++;
            if (lie === 'reset') res.destroy();
            else if (typeof lie === 'object') {
              res.writeHead(lie.status!, lie.headers ?? {});
              res.end(lie.body ?? '');
            } else {
              res.writeHead(503, { 'content-type': 'text/html' });
              res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
            }
          });
        },
      );
      out.on('error', () => res.destroy());
      out.end(raw);
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, handle) : http.createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    get lied() {
      return lied;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
