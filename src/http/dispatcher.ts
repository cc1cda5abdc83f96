// One undici dispatcher for the whole process: keep-alive connections shared by API calls and part
// PUTs, and HTTP(S)_PROXY / NO_PROXY honoured through undici's EnvHttpProxyAgent when set.
// undici is used through its public entry only, on a normal semver range, so its fixes arrive.
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

const { Agent, EnvHttpProxyAgent, request } = loadUndici();

/**
 * undici's public entry, without Node's internal copy of undici. Loading the entry runs its cookies
 * module, which reads `globalThis.Headers` once (to accept Node's Headers in its cookie helpers,
 * which lakeup does not call); in Node that global is a lazy getter that loads Node's own bundled
 * undici: ~28 ms of CPU and ~5 MB at every start of a put (measured with `perf stat`, docs/performance.md).
 * The global reads as undefined only while the entry loads, and is put back as it was.
 */
function loadUndici(): typeof import('undici') {
  const headers = Object.getOwnPropertyDescriptor(globalThis, 'Headers');
  const lazy = headers?.get !== undefined && headers.configurable === true;
  if (lazy) Object.defineProperty(globalThis, 'Headers', { value: undefined, configurable: true, writable: true });
  try {
    // In the bundle `require` is defined and esbuild bundles undici here; from src (the tests) it
    // comes from node_modules, the same instance an `import 'undici'` gets.
    return typeof require === 'function' ? (require('undici') as typeof import('undici')) : (createRequire(import.meta.url)('undici') as typeof import('undici'));
  } finally {
    if (lazy) Object.defineProperty(globalThis, 'Headers', headers);
  }
}

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
