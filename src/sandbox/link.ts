// A distant link in front of the sandbox (`lakeup sandbox --latency 20ms --conn-rate 16MiB/s`): a TCP proxy that
// delays every byte by `latencyMs` each way and carries each connection at most `connRate` bytes per second each way,
// like a long path whose per-flow throughput is capped (window limits, a shaper, a congested peering). A new connection
// also pays one round trip before its first byte arrives (the TCP handshake a real client waits for). Loopback only:
// it forwards to the sandbox's own listener.
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LinkOptions {
  /** One-way delay added to every byte, each way. */
  latencyMs: number;
  /** Bytes per second per connection, each way; undefined: no cap. */
  connRate?: number;
}

export interface LinkHandle {
  port: number;
  address: string;
  close(): Promise<void>;
}

/** Proxies `listen` → `target` through the link model; resolves once it listens. */
export async function startLink(
  listen: { host: string; port: number },
  target: { host: string; port: number },
  opts: LinkOptions,
): Promise<LinkHandle> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.once('close', () => sockets.delete(s));
    }
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    // The client gone: nothing more to carry. The server closing (after an answer with Connection: close) must
    // not cut the answer still in the pipe: its 'end' reaches the client once the queue is delivered.
    client.once('error', kill).once('close', kill);
    upstream.once('error', kill);
    shape(client, upstream, opts, 2 * opts.latencyMs);
    shape(upstream, client, opts, 0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    address: address.address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Carries `from` → `to`: each chunk leaves when the link has carried the ones before it at `connRate`, and arrives
 * `latencyMs` later (plus `firstDelayMs` for the very first). Bytes in the pipe beyond what the link holds (rate ×
 * round trip, at least 256 KiB) pause the reader, so the sender feels backpressure as on a real path.
 */
function shape(from: Socket, to: Socket, opts: LinkOptions, firstDelayMs: number): void {
  const rate = opts.connRate;
  const holds = Math.max(256 * 1024, rate ? (rate * 2 * opts.latencyMs) / 1000 : 0);
  const queue: Array<{ chunk: Buffer; due: number }> = [];
  let queued = 0;
  let linkFreeAt = -1;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  let blocked = false;

  const flush = () => {
    timer = undefined;
    if (to.destroyed) return;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.due <= now && !blocked) {
      const { chunk } = queue.shift()!;
      queued -= chunk.length;
      if (!to.write(chunk)) {
        blocked = true;
        to.once('drain', () => {
          blocked = false;
          flush();
        });
      }
    }
    if (queued < holds && from.isPaused()) from.resume();
    if (queue.length === 0 && ended) to.end();
    else schedule();
  };
  const schedule = () => {
    if (timer || blocked || queue.length === 0) return;
    timer = setTimeout(flush, Math.max(0, queue[0]!.due - performance.now()));
  };

  from.on('data', (chunk: Buffer) => {
    const now = performance.now();
    // Nothing is carried before the handshake's round trip is over.
    if (linkFreeAt < 0) linkFreeAt = now + firstDelayMs;
    const leaves = Math.max(now, linkFreeAt) + (rate ? (chunk.length / rate) * 1000 : 0);
    linkFreeAt = leaves;
    queue.push({ chunk, due: leaves + opts.latencyMs });
    queued += chunk.length;
    if (queued >= holds) from.pause();
    schedule();
  });
  from.once('end', () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
  // (No clean-up on 'close': what is still in the pipe is delivered, then `to` ends; a reset destroys both.)
}
