// `lakeup put` flags (and LAKEUP_* variables) → a checked PutPlan. Every usage error is found here,
// before a file is opened or a request is made.
import { LakeupError } from '../errors.js';
import { DEFAULT_ENDPOINTS } from '../providers/index.js';
import { resolveStateDir } from '../state/location.js';
import type { ProgressMode } from '../ui/progress.js';
import type { Terminal } from '../ui/terminal.js';
import type { PutPlan } from '../upload/plan.js';
import { registerSecret } from '../util/redact.js';
import { parseDuration, parseRate, parseSize } from '../util/sizes.js';
import { envBool, parseConflict, parseEndpoint, parseIntInRange, parseProvider, resolveToken } from './options.js';

export type { PutPlan } from '../upload/plan.js';

/** Flags as commander hands them over (strings, booleans). */
export interface PutFlags {
  provider?: string;
  token?: string;
  tokenFile?: string;
  endpoint?: string;
  name?: string;
  parent?: string;
  onConflict?: string;
  partSize?: string;
  mimeType?: string;
  concurrency?: string;
  jobs?: string;
  retries?: string;
  timeout?: string;
  verify?: boolean;
  resume?: boolean;
  stateDir?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: string;
  progressInterval?: string;
  verbose?: boolean;
  dryRun?: boolean;
  limitRate?: string;
  recursive?: boolean;
}

/** Yes/no settings from LAKEUP_* variables where the command line did not set them. */
function withBooleanEnv(f: PutFlags, env: NodeJS.ProcessEnv): PutFlags {
  const pick = (flag: boolean | undefined, name: string) => flag ?? envBool(env, name);
  const noVerify = envBool(env, 'LAKEUP_NO_VERIFY');
  const noResume = envBool(env, 'LAKEUP_NO_RESUME');
  return {
    ...f,
    json: pick(f.json, 'LAKEUP_JSON'),
    quiet: pick(f.quiet, 'LAKEUP_QUIET'),
    verbose: pick(f.verbose, 'LAKEUP_VERBOSE'),
    dryRun: pick(f.dryRun, 'LAKEUP_DRY_RUN'),
    recursive: pick(f.recursive, 'LAKEUP_RECURSIVE'),
    // commander sets verify/resume to true unless --no-verify/--no-resume was typed.
    verify: f.verify === false ? false : noVerify !== true,
    resume: f.resume === false ? false : noResume !== true,
  };
}

export function buildPutPlan(files: string[], flags: PutFlags, env: NodeJS.ProcessEnv, term: Pick<Terminal, 'stderrIsTTY'>): PutPlan {
  const f = withBooleanEnv(flags, env);
  const provider = parseProvider(f.provider ?? env.LAKEUP_PROVIDER);
  if (files.length === 0) throw new LakeupError('usage', 'put: name at least one file to upload');
  if (files.includes('-') && f.name === undefined) {
    throw new LakeupError('usage', 'put -: standard input has no name; pass --name');
  }
  if (files.filter((x) => x === '-').length > 1) throw new LakeupError('usage', 'put: standard input ("-") can be read only once');
  if (f.name !== undefined && files.length > 1) throw new LakeupError('usage', '--name applies to one file; it was given with several');
  if (f.name !== undefined && (f.name.trim() === '' || /[\\/]/.test(f.name))) {
    throw new LakeupError('usage', `--name: '${f.name}' is not a file name (no slashes, not empty)`);
  }
  if (provider === 'memorylake' && f.partSize !== undefined) {
    throw new LakeupError('usage', '--part-size applies to Copera; MemoryLake decides its part layout itself');
  }
  if (provider === 'copera' && f.onConflict !== undefined) {
    throw new LakeupError('usage', '--on-conflict applies to MemoryLake only');
  }
  const progressFlag = f.quiet ? 'none' : (f.progress ?? env.LAKEUP_PROGRESS ?? 'auto');
  if (!['auto', 'bar', 'plain', 'json', 'none'].includes(progressFlag)) {
    throw new LakeupError('usage', `--progress: expected auto, bar, plain, json or none, got '${progressFlag}'`);
  }
  const progress: ProgressMode = progressFlag === 'auto' ? (term.stderrIsTTY ? 'bar' : 'plain') : (progressFlag as ProgressMode);
  const dryRun = Boolean(f.dryRun);
  const endpoint = parseEndpoint(f.endpoint ?? env.LAKEUP_ENDPOINT ?? DEFAULT_ENDPOINTS[provider]);
  const token = dryRun ? '' : resolveToken(f.token, f.tokenFile, env);
  registerSecret(token);
  return {
    provider,
    endpoint,
    token,
    files,
    name: f.name,
    parent: f.parent,
    onConflict: f.onConflict !== undefined ? parseConflict(f.onConflict) : undefined,
    partSize: f.partSize !== undefined ? parseSize(f.partSize, '--part-size') : undefined,
    mimeType: f.mimeType,
    concurrency: parseConcurrency(f.concurrency ?? 'auto'),
    jobs: parseIntInRange(f.jobs ?? '1', '--jobs', 1, 16),
    retries: parseIntInRange(f.retries ?? '8', '--retries', 0, 100),
    stallTimeoutMs: parseTimeout(f.timeout ?? '60'),
    verify: f.verify !== false,
    resume: f.resume !== false,
    stateDir: resolveStateDir(f.stateDir, env),
    json: Boolean(f.json),
    progress,
    progressIntervalMs: f.progressInterval !== undefined ? parseDuration(f.progressInterval, '--progress-interval') : undefined,
    verbose: Boolean(f.verbose),
    dryRun,
    limitRate: f.limitRate !== undefined ? parseRate(f.limitRate, '--limit-rate') : undefined,
    recursive: Boolean(f.recursive),
  };
}

/** `auto` (the default: adaptive) or a whole number from 1 to 64 that pins it. */
function parseConcurrency(v: string): number | 'auto' {
  return v.trim().toLowerCase() === 'auto' ? 'auto' : parseIntInRange(v, '--concurrency', 1, 64);
}

function parseTimeout(v: string): number {
  const ms = parseDuration(v, '--timeout');
  if (ms < 1000) throw new LakeupError('usage', `--timeout: at least 1 second, got '${v}'`);
  return ms;
}

