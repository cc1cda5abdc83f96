// `lakeup sandbox`: flags → SandboxOptions, then the server runs until Ctrl-C.
import { LakeupError } from '../errors.js';
import { parseDuration, parseRate, parseSize } from '../util/sizes.js';
import { parseIntInRange } from './options.js';
import { reportError } from './report.js';
import { processWriters } from '../ui/streams.js';

export interface SandboxFlags {
  port?: string;
  host?: string;
  dir?: string;
  token?: string;
  alsoToken?: string[];
  otherAccountToken?: string[];
  urlTtl?: string;
  partSize?: string;
  sink?: boolean;
  failRate?: string;
  resetRate?: string;
  throttleRate?: string;
  corruptRate?: string;
  stallRate?: string;
  latency?: string;
  apiRate?: string;
  connRate?: string;
  seed?: string;
  verbose?: boolean;
}

function rate(v: string | undefined, flag: string): number {
  const n = Number(v ?? '0');
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new LakeupError('usage', `${flag}: expected a share from 0 to 1, got '${v}'`);
  return n;
}

function callsPerSecond(v: string | undefined, flag: string): number {
  const n = Number(v ?? '0');
  if (v?.trim() === '' || !Number.isFinite(n) || n < 0) throw new LakeupError('usage', `${flag}: expected calls per second ≥ 0 (0 = unlimited), got '${v}'`);
  return n;
}

export async function runSandbox(f: SandboxFlags): Promise<number> {
  const { err, out } = processWriters();
  try {
    const latencyMs = parseDuration(f.latency ?? '0ms', '--latency');
    const connRate = f.connRate !== undefined ? parseRate(f.connRate, '--conn-rate') : undefined;
    const { runSandboxCommand } = await import('../sandbox/server.js');
    await runSandboxCommand({
      port: parseIntInRange(f.port ?? '8787', '--port', 0, 65535),
      host: f.host ?? '127.0.0.1',
      dir: f.dir,
      token: f.token ?? 'lakeup-sandbox',
      moreTokens: f.alsoToken,
      otherAccountTokens: f.otherAccountToken,
      urlTtlMs: parseDuration(f.urlTtl ?? '1h', '--url-ttl'),
      memorylakePartSize: f.partSize !== undefined ? parseSize(f.partSize, '--part-size') : undefined,
      sink: Boolean(f.sink),
      apiRate: callsPerSecond(f.apiRate, '--api-rate'),
      seed: f.seed !== undefined ? parseIntInRange(f.seed, '--seed', 0, 2 ** 31) : undefined,
      faults: {
        failRate: rate(f.failRate, '--fail-rate'),
        resetRate: rate(f.resetRate, '--reset-rate'),
        throttleRate: rate(f.throttleRate, '--throttle-rate'),
        corruptRate: rate(f.corruptRate, '--corrupt-rate'),
        stallRate: rate(f.stallRate, '--stall-rate'),
      },
      link: latencyMs > 0 || connRate !== undefined ? { latencyMs, connRate } : undefined,
      log: f.verbose ? err : undefined,
    });
    return 0;
  } catch (e) {
    return reportError(e, { json: false, verbose: false, err, out });
  }
}
