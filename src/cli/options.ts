// Turns flag strings into typed options, failing with one usage line that names the flag.
import fs from 'node:fs';
import { LakeupError } from '../errors.js';
import { PROVIDERS, type ConflictStrategy, type ProviderName } from '../types.js';

export const CONFLICT_STRATEGIES: readonly ConflictStrategy[] = ['rename', 'deny', 'overwrite', 'replace'];

export function parseProvider(value: string | undefined): ProviderName {
  if (value === undefined || value === '') {
    throw new LakeupError('usage', `--provider is required: one of ${PROVIDERS.join(', ')} (or set LAKEUP_PROVIDER)`);
  }
  const v = value.toLowerCase();
  if (!(PROVIDERS as readonly string[]).includes(v)) {
    throw new LakeupError('usage', `--provider: unknown provider '${value}' (expected ${PROVIDERS.join(' or ')})`);
  }
  return v as ProviderName;
}

export function parseIntInRange(value: string, flag: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new LakeupError('usage', `${flag}: expected a whole number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

export function parseConflict(value: string): ConflictStrategy {
  if (!(CONFLICT_STRATEGIES as readonly string[]).includes(value)) {
    throw new LakeupError('usage', `--on-conflict: expected ${CONFLICT_STRATEGIES.join(', ')}, got '${value}'`);
  }
  return value as ConflictStrategy;
}

export function parseEndpoint(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new LakeupError('usage', `--endpoint: '${value}' is not a URL (expected e.g. https://app.memorylake.ai)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new LakeupError('usage', `--endpoint: only http and https URLs are supported, got '${u.protocol}'`);
  }
  if (u.username || u.password) throw new LakeupError('usage', '--endpoint: credentials in the URL are not allowed; use --token');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * The token from --token, else --token-file, else LAKEUP_TOKEN, else LAKEUP_TOKEN_FILE. Both flags
 * at once is refused: which one was meant is not for lakeup to guess.
 */
export function resolveToken(flag: string | undefined, tokenFile: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag !== undefined && tokenFile !== undefined) throw new LakeupError('usage', '--token and --token-file: give one of them, not both');
  if (flag) return flag.trim();
  if (tokenFile) return readTokenFile(tokenFile);
  if (env.LAKEUP_TOKEN) return env.LAKEUP_TOKEN.trim();
  if (env.LAKEUP_TOKEN_FILE) return readTokenFile(env.LAKEUP_TOKEN_FILE);
  throw new LakeupError('usage', 'no API token: pass --token, --token-file or set LAKEUP_TOKEN');
}

function readTokenFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new LakeupError('usage', `--token-file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const token = text.trim();
  if (!token) throw new LakeupError('usage', `--token-file: ${file} is empty`);
  return token;
}

/**
 * A yes/no environment variable: 1/true/yes/on or 0/false/no/off (any case); unset or empty is
 * undefined. Anything else is a usage error — `LAKEUP_DRY_RUN=flase` must not silently do a dry run.
 */
export function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v.trim() === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
  if (/^(0|false|no|off)$/i.test(v.trim())) return false;
  throw new LakeupError('usage', `${name}: expected 1/true/yes or 0/false/no, got '${v}'`);
}

/** For choosing how to report an error: a malformed value counts as "no" instead of throwing again. */
export function envSaysYes(env: NodeJS.ProcessEnv, name: string): boolean {
  try {
    return envBool(env, name) === true;
  } catch {
    return false;
  }
}
