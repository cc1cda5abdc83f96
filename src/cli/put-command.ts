// `lakeup put`: builds typed options from flags, runs one upload per file, prints results. Heavy
// modules (undici, cli-progress) are imported here, lazily, so --help and --version stay fast.
import fs from 'node:fs';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { createDispatcher } from '../http/dispatcher.js';
import { createProvider, DEFAULT_ENDPOINTS } from '../providers/index.js';
import { FolderMap } from '../state/folder-map.js';
import { resolveStateDir } from '../state/location.js';
import { UploadEvents } from '../transfer/events.js';
import { AdaptiveLimiter } from '../transfer/limiter.js';
import { RateLimiter } from '../transfer/rate-limit.js';
import type { ConflictStrategy, Destination, ProviderName, PutResult } from '../types.js';
import { createProgressView, type ProgressMode, type ProgressView } from '../ui/progress.js';
import { detectTerminal, type Terminal } from '../ui/terminal.js';
import { putFile } from '../upload/put-file.js';
import { spoolStdin, walkFolder, type Source } from '../upload/sources.js';
import { lookupMimeType } from '../util/mime.js';
import { registerSecret, redactUrl } from '../util/redact.js';
import { formatSize, parseDuration, parseRate, parseSize } from '../util/sizes.js';
import { envBool, envSaysYes, parseConflict, parseEndpoint, parseIntInRange, parseProvider, resolveToken } from './options.js';
import { reportError } from './report.js';
import { watchInterrupts } from './signals.js';

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

/** Everything a run needs, checked. */
export interface PutPlan {
  provider: ProviderName;
  endpoint: string;
  token: string;
  files: string[];
  name?: string;
  parent?: string;
  onConflict?: ConflictStrategy;
  partSize?: number;
  mimeType?: string;
  concurrency: number;
  jobs: number;
  retries: number;
  stallTimeoutMs: number;
  verify: boolean;
  resume: boolean;
  stateDir: string;
  json: boolean;
  progress: ProgressMode;
  progressIntervalMs?: number;
  verbose: boolean;
  dryRun: boolean;
  limitRate?: number;
  recursive: boolean;
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
    concurrency: parseIntInRange(f.concurrency ?? '4', '--concurrency', 1, 64),
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

function parseTimeout(v: string): number {
  const ms = parseDuration(v, '--timeout');
  if (ms < 1000) throw new LakeupError('usage', `--timeout: at least 1 second, got '${v}'`);
  return ms;
}

export async function runPut(files: string[], flags: PutFlags, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const term = detectTerminal(env);
  let plan: PutPlan;
  try {
    plan = buildPutPlan(files, flags, env, term);
  } catch (e) {
    return reportError(e, {
      json: Boolean(flags.json) || envSaysYes(env, 'LAKEUP_JSON'),
      verbose: Boolean(flags.verbose) || envSaysYes(env, 'LAKEUP_VERBOSE'),
      err: term.err,
      out: term.out,
    });
  }
  const report = (e: unknown) => reportError(e, { json: plan.json, verbose: plan.verbose, err: term.err, out: term.out });
  if (plan.dryRun) return dryRun(plan, term, report);
  let queue: Source[];
  try {
    queue = await expandSources(plan);
  } catch (e) {
    return report(e);
  }

  const view = await createProgressView(plan.progress, term, { intervalMs: plan.progressIntervalMs });
  const interrupts = watchInterrupts(() => view.notice('lakeup: stopping: saving state (press Ctrl-C again to quit at once)'));
  const dispatcher = createDispatcher({ connections: Math.max(8, plan.concurrency + 2) });
  const limiter = new AdaptiveLimiter(plan.concurrency);
  const rateLimiter = plan.limitRate ? new RateLimiter(plan.limitRate) : undefined;

  let failures = 0;
  let exitCode = 0;
  let interrupted: LakeupError | undefined;
  const results: PutResult[] = [];
  const total = queue.length;
  // A live bar redraws stderr's lines; result lines for a terminal stdout wait until it stops.
  const deferResults = plan.progress === 'bar' && term.stdoutIsTTY;
  const deferred: string[] = [];
  const folderProvider = createProvider(plan.provider, { endpoint: plan.endpoint, token: plan.token, dispatcher, signal: interrupts.signal });
  const roots = [...new Set(queue.map((q) => q.root).filter((r): r is string => r !== undefined))];
  const folderMap = roots.length > 0 ? new FolderMap(plan.stateDir, plan.provider, plan.endpoint, plan.parent, roots) : undefined;
  if (folderMap && !plan.resume) folderMap.forget();
  const folders = new Map<string, Promise<string | undefined>>();
  const folderId = (segments: string[]): Promise<string | undefined> => {
    if (segments.length === 0) return Promise.resolve(plan.parent);
    const key = JSON.stringify(segments);
    let id = folders.get(key);
    if (!id) {
      id = folderId(segments.slice(0, -1)).then(async (parent) => {
        const known = folderMap?.get(segments);
        if (known) return known; // made by an earlier, interrupted run of this command
        const made = await folderProvider.createFolder!(segments[segments.length - 1], parent);
        folderMap?.set(segments, made.id);
        view.notice(`lakeup: created folder ${segments.join('/')} (${made.id})`);
        return made.id;
      });
      folders.set(key, id);
    }
    return id;
  };

  const one = async (src: Source) => {
    const events = new UploadEvents();
    if (plan.verbose) attachVerbose(events, view, src.display);
    let spool: { file: string; cleanup: () => Promise<void> } | undefined;
    try {
      if (src.file === '-') {
        spool = await spoolStdin(process.stdin, src.name, interrupts.signal);
        src = { ...src, file: spool.file };
      }
      const parent = src.folder ? await folderId(src.folder) : plan.parent;
      view.track(src.folder ? [...src.folder, src.name].join('/') : src.name, events);
      const result = await putFile({
        provider: createProvider(plan.provider, {
          endpoint: plan.endpoint,
          token: plan.token,
          dispatcher,
          signal: interrupts.signal,
          events,
        }),
        endpoint: plan.endpoint,
        file: src.file,
        displayFile: src.display,
        dest: {
          name: src.name,
          parent,
          onConflict: plan.onConflict,
          mimeType: mimeTypeFor(plan, src.name),
        },
        partSize: plan.partSize,
        concurrency: plan.concurrency,
        retries: plan.retries,
        stallTimeoutMs: plan.stallTimeoutMs,
        verify: plan.verify,
        resume: plan.resume && !src.ephemeral,
        ephemeral: src.ephemeral,
        stateDir: plan.stateDir,
        events,
        notice: (line) => view.notice(`lakeup: ${line}`),
        dispatcher,
        signal: interrupts.signal,
        rateLimiter,
        limiter,
      });
      results.push(result);
      if (plan.json) term.out(JSON.stringify(result));
      else if (deferResults) deferred.push(successLine(result, term));
      else term.out(successLine(result, term));
    } catch (e) {
      const err = e as LakeupError;
      // Only a real interruption is reported as one: a finalize that completes after Ctrl-C and
      // fails keeps its own error line.
      if (err?.kind === 'interrupted') {
        interrupted = err;
        return;
      }
      failures++;
      const code = report(total > 1 ? prefixError(e, src.display) : e);
      if (exitCode === 0 || code === 3) exitCode = code;
    } finally {
      await spool?.cleanup();
    }
  };

  try {
    const workers = Array.from({ length: Math.min(plan.jobs, queue.length) }, async () => {
      while (queue.length > 0 && !interrupts.signal.aborted) await one(queue.shift()!);
    });
    await Promise.all(workers);
  } finally {
    view.stop();
    interrupts.dispose();
    await dispatcher.close().catch(() => undefined);
  }
  for (const line of deferred) term.out(line);
  if (folderMap && failures === 0 && results.length === total) folderMap.forget();
  if (!interrupted && interrupts.signal.aborted && results.length + failures < total) {
    interrupted = new LakeupError('interrupted', 'interrupted before every file was sent');
  }
  if (interrupted) {
    term.err('lakeup: interrupted; finished parts are saved. Run the same command again (or `lakeup resume`) to continue.');
    if (plan.json) term.out(JSON.stringify({ ok: false, error: { kind: 'interrupted', message: 'interrupted' } }));
    return 130;
  }
  if (total > 1) {
    term.err(`lakeup: ${results.length} of ${total} files uploaded${failures ? `, ${failures} failed` : ''}`);
  }
  return failures > 0 ? exitCode || 1 : 0;
}

/** Copera's MIME type for a file: --mime-type, else from the extension. MemoryLake takes none. */
function mimeTypeFor(plan: PutPlan, name: string): string | undefined {
  return plan.provider === 'copera' ? (plan.mimeType ?? lookupMimeType(name)) : undefined;
}

/** Expands "-" and, with --recursive, folders into the files to send. */
async function expandSources(plan: PutPlan): Promise<Source[]> {
  const out: Source[] = [];
  for (const f of plan.files) {
    if (f === '-') {
      out.push({ file: '-', display: '-', name: plan.name!, ephemeral: true });
      continue;
    }
    let isDir = false;
    try {
      isDir = fs.statSync(f).isDirectory();
    } catch {
      /* a missing file is reported by the upload itself, with the others still sent */
    }
    if (isDir && plan.recursive) {
      if (plan.name !== undefined) throw new LakeupError('usage', '--name cannot rename the files of a folder');
      const files = await walkFolder(f);
      if (files.length === 0) throw new LakeupError('input', `${f}: the folder has no files`);
      out.push(...files);
    } else out.push({ file: f, display: f, name: plan.name ?? path.basename(f) });
  }
  return out;
}

function prefixError(e: unknown, file: string): unknown {
  const err = e as LakeupError;
  if (err instanceof LakeupError && !err.message.includes(file)) {
    return new LakeupError(err.kind, `${file}: ${err.message}`, { status: err.status, code: err.code, cause: err });
  }
  return e;
}

function successLine(r: PutResult, term: Terminal): string {
  const c = term.chalk;
  const secs = (r.elapsedMs / 1000).toFixed(1);
  return `${c.green('✔')} ${r.file} → ${r.name} (${r.id}) ${formatSize(r.size)} in ${secs}s, ${formatSize(r.bytesPerSecond)}/s${
    r.resumed ? ', resumed' : ''
  }`;
}

function attachVerbose(events: UploadEvents, view: ProgressView, file: string): void {
  const label = path.basename(file);
  events.on('api:call', (c) =>
    view.notice(`lakeup: ${label}: ${c.method} ${redactUrl(c.url)} → ${c.status ?? c.error ?? 'failed'} ${Math.round(c.ms)}ms`),
  );
  events.on('part:http', (p) =>
    view.notice(
      `lakeup: ${label}: part ${p.number} attempt ${p.attempt} PUT ${redactUrl(p.url)} → ${p.status ?? ''}${p.error ? ` ${p.error}` : ''} ${Math.round(p.ms)}ms`,
    ),
  );
  events.on('throttle', (t) => view.notice(`lakeup: ${label}: throttled, pausing ${t.pauseMs}ms, concurrency now ${t.concurrency}`));
  events.on('urls:refreshed', (u) => view.notice(`lakeup: ${label}: refreshed ${u.parts} part URLs (${u.reason})`));
}

async function dryRun(plan: PutPlan, term: Terminal, report: (e: unknown) => number): Promise<number> {
  const { inspectFile } = await import('../upload/local-file.js');
  const provider = createProvider(plan.provider, { endpoint: plan.endpoint, token: '' });
  let code = 0;
  let sources: Source[];
  try {
    sources = await expandSources(plan);
  } catch (e) {
    return report(e);
  }
  for (const src of sources) {
    try {
      const where = src.folder ? `${plan.parent ?? (plan.provider === 'memorylake' ? 'MY_SPACE' : 'root')}/${src.folder.join('/')}/${src.name}` : undefined;
      if (src.file === '-') {
        const out = { dryRun: true, provider: plan.provider, endpoint: plan.endpoint, file: '-', size: null, name: src.name };
        if (plan.json) term.out(JSON.stringify(out));
        else term.out(`-: standard input (size known once read) → ${plan.provider} ${src.name} at ${plan.endpoint}`);
        continue;
      }
      const fp = inspectFile(src.file);
      const dest: Destination = { name: src.name, parent: plan.parent, onConflict: plan.onConflict };
      const p = provider.preview({ file: fp, dest, partSize: plan.partSize });
      const destination = where ?? p.destination;
      const out = {
        dryRun: true,
        provider: plan.provider,
        endpoint: plan.endpoint,
        file: src.display,
        size: fp.size,
        name: dest.name,
        destination,
        partSize: p.serverDecides ? 'server decides' : p.partSize,
        parts: p.serverDecides ? 'server decides' : p.parts,
        mimeType: mimeTypeFor(plan, src.name),
        concurrency: plan.concurrency,
      };
      if (plan.json) term.out(JSON.stringify(out));
      else
        term.out(
          `${src.display}: ${formatSize(fp.size)} → ${plan.provider} ${destination} at ${plan.endpoint}; ` +
            (p.serverDecides ? 'part layout: server decides' : `${p.parts} parts of ${formatSize(p.partSize!)}`) +
            `; concurrency ${plan.concurrency}`,
        );
    } catch (e) {
      code = code || report(e);
    }
  }
  return code;
}
