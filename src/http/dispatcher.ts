// One undici dispatcher for the whole process: keep-alive connections shared by API calls and part
// PUTs, and HTTP(S)_PROXY / NO_PROXY honoured through undici's EnvHttpProxyAgent when set.
//
// Memory: `import 'undici'` loads all of undici (fetch, WebSocket, caches, mocks…): ~20 MB of RSS
// on a 40 MB process. The upload path needs only the Agent and the request API, so they are loaded
// from undici's own files (the same module instances `import 'undici'` would give, so `instanceof`
// and the global dispatcher agree), falling back to the package entry if that layout ever changes.
import { createRequire } from 'node:module';
import type { Agent as AgentT, Dispatcher, EnvHttpProxyAgent as EnvHttpProxyAgentT } from 'undici';

export interface DispatcherOptions {
  connections?: number; // per origin
  connectTimeoutMs?: number;
}

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method: Dispatcher.HttpMethod; dispatcher?: Dispatcher };

interface UndiciParts {
  Agent: typeof AgentT;
  EnvHttpProxyAgent: () => typeof EnvHttpProxyAgentT;
  getGlobalDispatcher: () => Dispatcher;
  request: (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
}

const requireCjs = createRequire(import.meta.url);
let parts: UndiciParts | undefined;

function undici(): UndiciParts {
  if (parts) return parts;
  try {
    parts = {
      Agent: requireCjs('undici/lib/dispatcher/agent.js') as typeof AgentT,
      // The proxy agent needs pieces that only undici's entry wires up (its deep file alone fails
      // with "this[kClient].connect is not a function"): behind a proxy, load all of undici.
      EnvHttpProxyAgent: () => (requireCjs('undici') as typeof import('undici')).EnvHttpProxyAgent,
      getGlobalDispatcher: (requireCjs('undici/lib/global.js') as { getGlobalDispatcher: () => Dispatcher }).getGlobalDispatcher,
      request: requireCjs('undici/lib/api/api-request.js') as UndiciParts['request'],
    };
    if (typeof parts.Agent !== 'function' || typeof parts.request !== 'function' || typeof parts.getGlobalDispatcher !== 'function') {
      throw new Error('unexpected undici layout');
    }
  } catch {
    const u = requireCjs('undici') as typeof import('undici');
    parts = {
      Agent: u.Agent,
      EnvHttpProxyAgent: () => u.EnvHttpProxyAgent,
      getGlobalDispatcher: u.getGlobalDispatcher,
      request: function (this: Dispatcher, opts: Dispatcher.RequestOptions) {
        return this.request(opts);
      },
    };
  }
  return parts;
}

/** undici's `request(url, opts)` (same defaults: the global dispatcher unless one is given), without loading all of undici. */
export function undiciRequest(url: string, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const u = undici();
  const { dispatcher = u.getGlobalDispatcher(), ...rest } = opts;
  const parsed = new URL(url);
  return u.request.call(dispatcher, {
    ...rest,
    origin: parsed.origin,
    path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname,
  } as Dispatcher.RequestOptions);
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
  const u = undici();
  if (hasProxyEnv()) {
    const EnvHttpProxyAgent = u.EnvHttpProxyAgent();
    return new EnvHttpProxyAgent(common);
  }
  return new u.Agent(common);
}
