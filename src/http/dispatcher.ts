// One undici dispatcher for the whole process: keep-alive connections shared by API calls and part
// PUTs, and HTTP(S)_PROXY / NO_PROXY honoured through undici's EnvHttpProxyAgent when set.
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';

export interface DispatcherOptions {
  connections?: number; // per origin
  connectTimeoutMs?: number;
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
  return hasProxyEnv() ? new EnvHttpProxyAgent(common) : new Agent(common);
}
