// `lakeup put` flags (and LAKEUP_* variables) → a checked PutPlan. Every usage error is found here,
// before a file is opened or a request is made.
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { DEFAULT_ENDPOINTS } from '../providers/index.js';
import { checkCoperaFolderId } from '../providers/copera-ids.js';
import { checkPartSize } from '../providers/layout.js';
import { checkProxyEnv } from '../http/proxy-env.js';
import { resolveStateDir } from '../state/location.js';
import { inGithubActions, type Terminal } from '../ui/terminal.js';
import { FileFilter, type FilterRule } from '../upload/filters.js';
import type { PutPlan } from '../upload/plan.js';
import { registerSecret } from '../util/redact.js';
import type { ProgressMode } from '../types.js';
import { parseDuration, parseRate, parseSize } from '../util/sizes.js';
import { envBool, parseConflict, parseEndpoint, parseIntInRange, parseProvider, resolveToken } from './options.js';

export type { PutPlan } from '../upload/plan.js';

/**
 * Files uploaded at once by default. Measured (scripts/bench-files.mjs, 300 files ≤ 16 KiB, see the
 * docs/scale.md, "Many files"): with 50 ms of API latency 8 jobs do 47 files/s and 16 do 68 (32: 67);
 * under an account limit of 100 calls/s the shared pacer keeps 16 jobs within 8% of the best
 * (6.9 s vs 6.4 s, 1.3% of calls answered 429); on loopback 16 is the fastest too. Parts stay
 * bounded by --concurrency whatever the jobs.
 */
export const DEFAULT_JOBS = 16;

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
  skipExisting?: boolean;
  again?: boolean;
  checksum?: boolean;
  shard?: string;
  /** --include / --exclude in the order typed (main.ts collects both into one list). */
  filters?: FilterRule[];
  followSymlinks?: boolean;
  filesFrom?: string;
  manifest?: string;
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
    skipExisting: pick(f.skipExisting, 'LAKEUP_SKIP_EXISTING'),
    again: pick(f.again, 'LAKEUP_AGAIN'),
    checksum: pick(f.checksum, 'LAKEUP_CHECKSUM'),
    // commander sets verify/resume to true unless --no-verify/--no-resume was typed.
    verify: f.verify === false ? false : noVerify !== true,
    resume: f.resume === false ? false : noResume !== true,
    followSymlinks: f.followSymlinks === false ? false : envBool(env, 'LAKEUP_NO_FOLLOW_SYMLINKS') !== true,
  };
}

export function buildPutPlan(files: string[], flags: PutFlags, env: NodeJS.ProcessEnv, term: Pick<Terminal, 'stderrIsTTY'>): PutPlan {
  const f = withBooleanEnv(flags, env);
  const provider = parseProvider(f.provider ?? env.LAKEUP_PROVIDER);
  const filesFrom = f.filesFrom || undefined; // commander reads LAKEUP_FILES_FROM for `put`; `resume` replays a run's paths instead
  if (files.length === 0 && filesFrom === undefined) throw new LakeupError('usage', 'put: name at least one file to upload (or a list with --files-from)');
  if (filesFrom === '-' && files.includes('-')) throw new LakeupError('usage', '--files-from -: standard input holds the list, so it cannot also be a file ("-")');
  if (f.name !== undefined && filesFrom !== undefined) throw new LakeupError('usage', '--name applies to one file; it was given with --files-from');
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
  if (provider === 'copera') checkCoperaFolderId(f.parent);
  if (provider === 'copera' && f.onConflict !== undefined) {
    throw new LakeupError('usage', '--on-conflict applies to MemoryLake only');
  }
  const progressFlag = f.quiet ? 'none' : (f.progress ?? env.LAKEUP_PROGRESS ?? 'auto');
  if (!['auto', 'bar', 'plain', 'json', 'none'].includes(progressFlag)) {
    throw new LakeupError('usage', `--progress: expected auto, bar, plain, json or none, got '${progressFlag}'`);
  }
  // A GitHub Actions log is never a terminal, even when the runner gives it one: no bar there.
  const gha = inGithubActions(env);
  const progress: ProgressMode =
    progressFlag === 'auto' || (progressFlag === 'bar' && gha) ? (gha ? 'github' : term.stderrIsTTY ? 'bar' : 'plain') : (progressFlag as ProgressMode);
  const dryRun = Boolean(f.dryRun);
  const endpoint = parseEndpoint(f.endpoint ?? env.LAKEUP_ENDPOINT ?? DEFAULT_ENDPOINTS[provider]);
  // Checked here, not when a file's session starts: a run looks its folders up first, and would
  // then fail every file with this one line.
  const partSize = f.partSize !== undefined ? parseSize(f.partSize, '--part-size') : undefined;
  if (partSize !== undefined) checkPartSize(partSize);
  if (!dryRun) checkProxyEnv(env);
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
    partSize,
    mimeType: f.mimeType,
    concurrency: parseConcurrency(f.concurrency ?? 'auto'),
    jobs: parseIntInRange(f.jobs ?? String(DEFAULT_JOBS), '--jobs', 1, 64),
    retries: parseIntInRange(f.retries ?? '8', '--retries', 0, 100),
    stallTimeoutMs: parseTimeout(f.timeout ?? '60'),
    verify: f.verify !== false,
    resume: f.resume !== false,
    stateDir: resolveStateDir(f.stateDir, env),
    json: Boolean(f.json),
    progress,
    progressIntervalMs: f.progressInterval !== undefined ? parseProgressInterval(f.progressInterval) : undefined,
    verbose: Boolean(f.verbose),
    dryRun,
    limitRate: f.limitRate !== undefined ? parseRate(f.limitRate, '--limit-rate') : undefined,
    recursive: Boolean(f.recursive),
    skipExisting: Boolean(f.skipExisting),
    again: Boolean(f.again),
    checksum: Boolean(f.checksum),
    shard: f.shard !== undefined ? parseShard(f.shard) : undefined,
    filters: filterRules(f.filters, env),
    followSymlinks: f.followSymlinks !== false,
    filesFrom,
    manifest: f.manifest ? path.resolve(f.manifest) : undefined,
  };
}

/**
 * The rules typed (or a resumed run's), else those of LAKEUP_EXCLUDE then LAKEUP_INCLUDE (one glob a line; an include
 * after the excludes wins, as on the command line); checked here, so a bad glob is a usage line.
 */
function filterRules(typed: FilterRule[] | undefined, env: NodeJS.ProcessEnv): FilterRule[] {
  const fromEnv = (name: string, kind: FilterRule['kind']) =>
    (env[name] ?? '').split(/\r?\n/).filter((g) => g.trim() !== '').map((glob) => ({ kind, glob }));
  const rules = typed ?? [...fromEnv('LAKEUP_EXCLUDE', 'exclude'), ...fromEnv('LAKEUP_INCLUDE', 'include')];
  new FileFilter(rules);
  return rules;
}

/** `K/N` with 1 ≤ K ≤ N: this job's share of a run split N ways. */
export function parseShard(v: string): { index: number; count: number } {
  const m = /^\s*(\d{1,6})\s*\/\s*(\d{1,6})\s*$/.exec(v);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new LakeupError('usage', `--shard: expected K/N with 1 ≤ K ≤ N (e.g. 2/3), got '${v}'`);
  }
  return { index, count };
}

/** `auto` (the default: adaptive) or a whole number from 1 to 64 that pins it. */
function parseConcurrency(v: string): number | 'auto' {
  if (v.trim().toLowerCase() === 'auto') return 'auto';
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < 1 || Number(v) > 64) {
    // auto is the default: the line names it beside the numbers.
    throw new LakeupError('usage', `--concurrency: expected auto or a whole number from 1 to 64, got '${v}'`);
  }
  return parseIntInRange(v, '--concurrency', 1, 64);
}

/** At least 100 ms: 0 would print a progress line on every turn of the event loop, thousands a second. */
function parseProgressInterval(v: string): number {
  const ms = parseDuration(v, '--progress-interval');
  if (ms < 100) throw new LakeupError('usage', `--progress-interval: at least 100ms, got '${v}'`);
  return ms;
}

function parseTimeout(v: string): number {
  const ms = parseDuration(v, '--timeout');
  if (ms < 1000) throw new LakeupError('usage', `--timeout: at least 1 second, got '${v}'`);
  return ms;
}

