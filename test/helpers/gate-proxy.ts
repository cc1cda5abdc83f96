// A reverse proxy in front of the sandbox that holds every request until it is opened: a test can
// let several CLI processes reach a known point (their first API call) and release them together,
// instead of hoping a rate limit or a latency makes them overlap.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GateProxy {
  /** Give this to the CLI as its endpoint. */
  origin: string;
  /** Requests waiting for the gate to open. */
  readonly held: number;
  /** Lets the held requests through, and every later one at once. */
  open(): void;
  /** Holds requests again from now on. */
  shut(): void;
  close(): Promise<void>;
}

export async function startGateProxy(target: string): Promise<GateProxy> {
  const upstream = new URL(target);
  let waiting: Array<() => void> = [];
  let isOpen = false;
  const sockets = new Set<import('node:net').Socket>();

  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // The Host header stays the sandbox's: its presigned part URLs then go straight to it.
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    if (isOpen) forward(req, res);
    else waiting.push(() => forward(req, res));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));

  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get held() {
      return waiting.length;
    },
    open() {
      isOpen = true;
      const go = waiting;
      waiting = [];
      for (const f of go) f();
    },
    shut() {
      isOpen = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
