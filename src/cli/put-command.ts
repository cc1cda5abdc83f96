// `lakeup put`: builds typed options from flags, runs one upload per file, prints results. Heavy
// modules (undici, cli-progress) are imported here, lazily, so --help and --version stay fast.
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { createDispatcher } from '../http/dispatcher.js';
import { createProvider, DEFAULT_ENDPOINTS } from '../providers/index.js';
import { resolveStateDir } from '../state/location.js';
import { UploadEvents } from '../transfer/events.js';
import { AdaptiveLimiter } from '../transfer/limiter.js';
import { RateLimiter } from '../transfer/rate-limit.js';
import type { ConflictStrategy, Destination, ProviderName, PutResult } from '../types.js';
import { createProgressView, type ProgressMode, type ProgressView } from '../ui/progress.js';
import { detectTerminal, type Terminal } from '../ui/terminal.js';
import { putFile } from '../upload/put-file.js';
import { lookupMimeType } from '../util/mime.js';
import { registerSecret, redactUrl } from '../util/redact.js';
import { formatSize, parseDuration, parseRate, parseSize } from '../util/sizes.js';
import { parseConflict, parseEndpoint, parseIntInRange, parseProvider, resolveToken } from './options.js';
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
  verbose?: boolean;
  dryRun?: boolean;
  limitRate?: string;
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
  verbose: boolean;
  dryRun: boolean;
  limitRate?: number;
}

export function buildPutPlan(files: string[], f: PutFlags, env: NodeJS.ProcessEnv, term: Pick<Terminal, 'stderrIsTTY'>): PutPlan {
  const provider = parseProvider(f.provider ?? env.LAKEUP_PROVIDER);
  if (files.length === 0) throw new LakeupError('usage', 'put: name at least one file to upload');
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
    verbose: Boolean(f.verbose),
    dryRun,
    limitRate: f.limitRate !== undefined ? parseRate(f.limitRate, '--limit-rate') : undefined,
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
    return reportError(e, { json: Boolean(flags.json), verbose: Boolean(flags.verbose), err: term.err, out: term.out });
  }
  const report = (e: unknown) => reportError(e, { json: plan.json, verbose: plan.verbose, err: term.err, out: term.out });
  if (plan.dryRun) return dryRun(plan, term, report);

  const view = createProgressView(plan.progress, term);
  const interrupts = watchInterrupts(() => view.notice('lakeup: stopping: saving state (press Ctrl-C again to quit at once)'));
  const dispatcher = createDispatcher({ connections: Math.max(8, plan.concurrency + 2) });
  const limiter = new AdaptiveLimiter(plan.concurrency);
  const rateLimiter = plan.limitRate ? new RateLimiter(plan.limitRate) : undefined;

  let failures = 0;
  let exitCode = 0;
  let interrupted: LakeupError | undefined;
  const queue = [...plan.files];
  const results: PutResult[] = [];

  const one = async (file: string) => {
    const events = new UploadEvents();
    if (plan.verbose) attachVerbose(events, view, file);
    const label = path.basename(file);
    view.track(label, events);
    try {
      const result = await putFile({
        provider: createProvider(plan.provider, {
          endpoint: plan.endpoint,
          token: plan.token,
          dispatcher,
          signal: interrupts.signal,
          events,
        }),
        endpoint: plan.endpoint,
        file,
        dest: {
          name: plan.name ?? path.basename(file),
          parent: plan.parent,
          onConflict: plan.onConflict,
          mimeType: plan.provider === 'copera' ? (plan.mimeType ?? lookupMimeType(file)) : undefined,
        },
        partSize: plan.partSize,
        concurrency: plan.concurrency,
        retries: plan.retries,
        stallTimeoutMs: plan.stallTimeoutMs,
        verify: plan.verify,
        resume: plan.resume,
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
      else if (plan.files.length > 1 || plan.progress !== 'plain') {
        view.notice(successLine(result, term));
      }
    } catch (e) {
      const err = e as LakeupError;
      if (err?.kind === 'interrupted' || interrupts.signal.aborted) {
        interrupted = err?.kind === 'interrupted' ? err : new LakeupError('interrupted', 'interrupted');
        return;
      }
      failures++;
      const code = report(e);
      if (exitCode === 0 || code === 3) exitCode = code;
    }
  };

  try {
    const workers = Array.from({ length: Math.min(plan.jobs, queue.length) }, async () => {
      for (let f = queue.shift(); f !== undefined && !interrupts.signal.aborted; f = queue.shift()) await one(f);
    });
    await Promise.all(workers);
  } finally {
    view.stop();
    interrupts.dispose();
    await dispatcher.close().catch(() => undefined);
  }
  if (interrupted) {
    term.err('lakeup: interrupted; finished parts are saved. Run the same command again (or `lakeup resume`) to continue.');
    if (plan.json) term.out(JSON.stringify({ ok: false, error: { kind: 'interrupted', message: 'interrupted' } }));
    return 130;
  }
  if (plan.files.length > 1) {
    term.err(`lakeup: ${results.length} uploaded, ${failures} failed`);
  }
  return failures > 0 ? exitCode || 1 : 0;
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
  for (const file of plan.files) {
    try {
      const fp = inspectFile(file);
      const dest: Destination = { name: plan.name ?? path.basename(file), parent: plan.parent, onConflict: plan.onConflict };
      const p = provider.preview({ file: fp, dest, partSize: plan.partSize });
      const out = {
        dryRun: true,
        provider: plan.provider,
        endpoint: plan.endpoint,
        file,
        size: fp.size,
        name: dest.name,
        destination: p.destination,
        partSize: p.serverDecides ? 'server decides' : p.partSize,
        parts: p.serverDecides ? 'server decides' : p.parts,
        mimeType: plan.provider === 'copera' ? (plan.mimeType ?? lookupMimeType(file)) : undefined,
        concurrency: plan.concurrency,
      };
      if (plan.json) term.out(JSON.stringify(out));
      else
        term.out(
          `${file}: ${formatSize(fp.size)} → ${plan.provider} ${p.destination} at ${plan.endpoint}; ` +
            (p.serverDecides ? 'part layout: server decides' : `${p.parts} parts of ${formatSize(p.partSize!)}`) +
            `; concurrency ${plan.concurrency}`,
        );
    } catch (e) {
      code = code || report(e);
    }
  }
  return code;
}
