// One undici dispatcher for the whole process: keep-alive connections shared by API calls and part
// PUTs, and HTTP(S)_PROXY / NO_PROXY honoured through undici's EnvHttpProxyAgent when set.
// undici is used through its public entry only, on a normal semver range, so its fixes arrive.
import { Agent, EnvHttpProxyAgent, request } from 'undici';
import type { Dispatcher } from 'undici';

// No V8 flag here, deliberately (the project's rule: no V8 flags at run time). `--liftoff-only`
// would keep undici's WebAssembly parser off V8's optimising compiler and save ~35 MB of peak memory
// and ~70 ms of CPU per process (measured: docs/performance.md); the small put's 80 MB target is
// missed without it.

export interface DispatcherOptions {
  connections?: number; // per origin
  connectTimeoutMs?: number;
}

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method: Dispatcher.HttpMethod; dispatcher?: Dispatcher };

/** undici's `request(url, opts)`: the global dispatcher unless one is given. */
export function undiciRequest(url: string, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  return request(url, opts);
}

export function hasProxyEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy);
}

export function createDispatcher(opts: DispatcherOptions = {}): Dispatcher {
  const common = {
    connections: opts.connections ?? 64,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    connect: { timeout: opts.connectTimeoutMs ?? 10_000 },
    // Stalls are detected by lakeup's own watchdog (it knows when bytes move); undici's timers
    // would cut a slow but moving transfer or a server that takes long to answer a big part.
    headersTimeout: 0,
    bodyTimeout: 0,
  };
  if (hasProxyEnv()) return new EnvHttpProxyAgent(common);
  return new Agent(common);
}
