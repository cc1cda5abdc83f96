// The proxy variables, checked with the plan (without loading undici, which the plan does not need).
import { LakeupError } from '../errors.js';

/**
 * The proxy variables undici's EnvHttpProxyAgent will read (lower case first, as it does), each a
 * URL it can use, or a usage error naming the variable. The agent parses them when it is made, and
 * its own error was a bare 'Invalid URL'. The value is not quoted: it may hold a proxy password.
 */
export function checkProxyEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [lower, upper] of [
    ['http_proxy', 'HTTP_PROXY'],
    ['https_proxy', 'HTTPS_PROXY'],
  ] as const) {
    const name = env[lower] !== undefined ? lower : upper;
    const value = env[name];
    if (!value) continue;
    let protocol: string | undefined;
    try {
      protocol = new URL(value).protocol;
    } catch {
      protocol = undefined;
    }
    if (!protocol || !['http:', 'https:', 'socks:', 'socks5:'].includes(protocol)) {
      throw new LakeupError('usage', `${name} is not a proxy URL (expected e.g. http://proxy.example:3128); fix or unset it`);
    }
  }
}
