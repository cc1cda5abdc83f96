// A run: the files of one `put` (several paths, a --recursive folder, standard input), uploaded a
// few at a time. The run owns what its files share: the journal of finished files, the pacer for
// API calls, the pool of part slots, the drive folders. Each file's upload owns its own state.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { LakeupError } from '../errors.js';
import { createDispatcher } from '../http/dispatcher.js';
import { ApiPacer } from '../http/pacer.js';
import { createProvider, type Provider } from '../providers/index.js';
import { entryKey, RunJournal, setJournalAside, type JournalEntry, type RunIdentity } from '../state/journal.js';
import { acquireLock, type Lock } from '../state/lock.js';
import { listStateFolder, stateId } from '../state/state-file.js';
import { UploadEvents } from '../events.js';
import { limiterFor } from '../transfer/limiter.js';
import { RateLimiter } from '../transfer/rate-limit.js';
import type { FileFingerprint, SkippedResult } from '../types.js';
import type { ProgressView } from '../ui/progress.js';
import type { ResultPrinter } from '../ui/results.js';
import { RunProgress } from '../ui/run-progress.js';
import { attachVerbose } from '../ui/verbose.js';
import { lookupMimeType } from '../util/mime.js';
import { DriveIndex, isUnknown } from './drive-index.js';
import { FolderFailure, FolderTree } from './folders.js';
import { RunFailures } from './run-failures.js';
import { inspectFile } from './local-file.js';
import type { PutPlan } from './plan.js';
import { putFile, UploadInterrupted, type KeptParts, type TransferSettings } from './put-file.js';
import { forgetLeftState } from './upload-state.js';
import { shardKey, spoolStdin, type Source } from './sources.js';
import { sayLeftOut, settled, type LeftOutCounts } from './left-out.js';
import { removeFile } from '../state/remove.js';

export interface RunIO {
  view: ProgressView;
  results: ResultPrinter;
  /** Ctrl-C: stop starting files and parts; the parts in flight finish and are saved. */
  signal: AbortSignal;
  /** A second Ctrl-C, or the grace time over: stop the parts in flight too. */
  abortNow?: AbortSignal;
  /** How long the parts in flight may finish once the run stops on a refused token (as after Ctrl-C). */
  graceMs?: number;
  stdin: NodeJS.ReadableStream;
  /**
   * Says why a file failed (one line) and returns the exit code its failure calls for; `said`: its
   * cause was said already (a folder's), only its JSON line is due.
   */
  reportFailure: (e: unknown, file?: string, said?: boolean) => number;
}

export interface RunOutcome {
  total: number;
  uploaded: number;
  /** Already uploaded by an earlier attempt of this run (its journal says so). */
  skipped: number;
  /** Found in the drive by --skip-existing. */
  existing: number;
  failed: number;
  /** Of the failed, those no rerun can fix (missing, unreadable, not a file): they do not keep the run pending. */
  failedForGood: number;
  /** Not sent, by reason (--exclude, empty files in a folder, links, loops, FIFOs); counted in `total`. */
  leftOut: LeftOutCounts;
  /** The exit code of the worst failure (auth wins), 0 when none. */
  exitCode: number;
  interrupted: boolean;
  /** What the files cut off by an interruption kept: their finished parts. */
  kept: KeptParts;
  /** The API refused the token, or the state folder cannot be written: the run stopped. Its one line, saying what was left unsent. */
  stopped?: LakeupError;
}

/** A file of the run after the scan: what to send, and what is known of it already. */
interface Item {
  src: Source;
  fp?: FileFingerprint;
  /** Why it cannot be sent (missing, empty, unreadable): reported when its turn comes. */
  error?: unknown;
  skip?: SkippedResult;
  /** An empty file inside a folder: skipped and counted, not failed. */
  empty?: boolean;
}

const SEVERITY = [0, 2, 1, 3];

export async function runUploads(plan: PutPlan, named: Source[], io: RunIO): Promise<RunOutcome> {
  const outcome: RunOutcome = { total: named.length, uploaded: 0, skipped: 0, existing: 0, failed: 0, failedForGood: 0, leftOut: {}, exitCode: 0, interrupted: false, kept: { parts: 0, of: 0, bytes: 0, total: 0 } };
  const sources = named.filter((s) => !s.leftOut);
  const isRun = sources.length > 1 || sources.some((s) => s.root !== undefined);
  const notice = (line: string) => io.view.notice(`lakeup: ${line}`);
  const failures = new RunFailures(io.signal, sources.length > 1, io.abortNow, plan.stateDir, io.graceMs);
  const signal = failures.signal;
  const fail = (e: unknown, src: Source | undefined, said = false) => {
    outcome.failed++;
    // A folder's failure names the folder, not the file.
    const named = sources.length > 1 && src && !(e instanceof FolderFailure) ? prefixError(e, src.display) : e;
    const code = io.reportFailure(named, src?.display, said);
    // The code that says most about what to do: a refused token (3), then a failure a rerun
    // resumes (1), then bad input (2).
    if (SEVERITY.indexOf(code) > SEVERITY.indexOf(outcome.exitCode)) outcome.exitCode = code;
  };

  let runLock: Lock | undefined;
  let journal: RunJournal | undefined;
  if (isRun) {
    try {
      ({ journal, lock: runLock } = await openJournal(plan, notice, signal));
    } catch (e) {
      // Ctrl-C while waiting for the run's lock (another host's lease): nothing was started.
      if ((e as LakeupError).kind === 'interrupted') {
        outcome.interrupted = true;
        return outcome;
      }
      // A state folder that cannot be written: the same one line as when it turns so mid-run.
      outcome.stopped = failures.stateUnwritable(e) ? failures.stoppedLine(sources.length, sources.length) : undefined;
      if (outcome.stopped) outcome.exitCode = outcome.stopped.exitCode;
      else fail(e, undefined);
      outcome.failed = sources.length;
      return outcome;
    }
  }

  const limiter = limiterFor(plan.concurrency, plan.limitRate);
  const onInterrupt = () => {
    const n = limiter.active;
    notice(n > 0 ? `stopping: finishing ${n} part${n === 1 ? '' : 's'} in flight — Ctrl-C again to stop now` : 'stopping: saving state');
  };
  io.signal.addEventListener('abort', onInterrupt, { once: true });
  const dispatcher = createDispatcher({ connections: Math.max(8, limiter.max + plan.jobs + 2) });
  const pacer = new ApiPacer();
  const providerFor = (events?: UploadEvents): Provider =>
    createProvider(plan.provider, { endpoint: plan.endpoint, token: plan.token, dispatcher, signal, events, pacer });
  const transfer: TransferSettings = {
    concurrency: limiter.max,
    retries: plan.retries,
    stallTimeoutMs: plan.stallTimeoutMs,
    verify: plan.verify,
    dispatcher,
    limiter,
    rateLimiter: plan.limitRate ? new RateLimiter(plan.limitRate) : undefined,
  };
  const lookups = providerFor();
  const index = new DriveIndex(lookups, signal);
  const folders = new FolderTree(lookups, index, plan.parent, journal, notice);

  try {
    // Which files have a state or a lock of their own (a big file cut off earlier): one listing,
    // not a failed open per file.
    const known = await listStateFolder(plan.stateDir);
    const scanned = scan(sources, journal);
    outcome.leftOut = sayLeftOut(
      [...named.filter((s) => s.leftOut).map((src) => ({ src, ...src.leftOut! })), ...scanned.filter((i) => i.empty).map((i) => ({ src: i.src, reason: 'empty' as const }))],
      plan.provider,
      io.results,
      notice,
    );
    const items = scanned.filter((i) => !i.empty);
    const progress = isRun ? new RunProgress(items.length, items.reduce((n, i) => n + (i.fp?.size ?? 0), 0)) : undefined;
    if (progress) io.view.showRun(progress);

    const one = async (item: Item): Promise<void> => {
      const { src } = item;
      if (item.skip) {
        outcome.skipped++;
        progress?.end(undefined, item.skip.size, 'skipped');
        io.results.skipped(item.skip);
        return;
      }
      const events = new UploadEvents();
      if (plan.verbose) attachVerbose(events, io.view, src.display);
      const tracker = io.view.track(src.folder ? [...src.folder, src.name].join('/') : src.name, events);
      progress?.start(tracker);
      let spool: { file: string; cleanup: () => Promise<void> } | undefined;
      let ended: 'uploaded' | 'skipped' | 'failed' | 'interrupted' = 'failed';
      try {
        if (item.error) throw item.error;
        let file = src.file;
        if (file === '-') {
          spool = await spoolStdin(io.stdin, src.name, signal);
          file = spool.file;
        }
        const parent = src.folder ? await folders.id(src.folder) : plan.parent;
        if (plan.skipExisting && item.fp) {
          const there = await index.findFile(parent, src.name, item.fp.size);
          if (isUnknown(there)) {
            notice(`${src.display}: cannot tell whether the drive has it (the folder listing is incomplete): uploading it`);
          } else if (there) {
            // What an earlier attempt left of this file (a big file cut off, even mid-finalize) has
            // nothing left to do: without this, its state would stay pending for good.
            const id = stateId(plan.provider, plan.endpoint, item.fp.path, { name: src.name, parent });
            if (known.states.has(id) || known.locks.has(id)) await forgetLeftState(plan.stateDir, id);
            const skip: SkippedResult = {
              ok: true,
              skipped: true,
              reason: 'exists',
              provider: plan.provider,
              file: src.display,
              name: there.name,
              id: there.id,
              size: item.fp.size,
            };
            ended = 'skipped';
            outcome.existing++;
            io.results.skipped(skip);
            return;
          }
        }
        const entry: JournalEntry | undefined = item.fp ? { file: item.fp.path, to: shardKey(src) } : undefined;
        const cut = entry && journal?.finalizing.get(entryKey(entry));
        const result = await putFile({
          provider: providerFor(events),
          endpoint: plan.endpoint,
          file,
          fingerprint: item.fp,
          displayFile: src.display,
          dest: { name: src.name, parent, onConflict: plan.onConflict, mimeType: mimeTypeFor(plan, src.name) },
          partSize: plan.partSize,
          transfer,
          resume: plan.resume && !src.ephemeral,
          ephemeral: src.ephemeral,
          stateDir: plan.stateDir,
          events,
          notice,
          signal,
          abortNow: failures.abortNow,
          onStateUnwritable: (e) => failures.stateUnwritable(e),
          run: journal && entry && !src.ephemeral ? { journal, entry } : undefined,
          known,
          cutOff: cut && cut.size === item.fp!.size && cut.mtimeMs === item.fp!.mtimeMs ? cut : undefined,
        });
        if ('skipped' in result) {
          // Finished by another lakeup while this run was going (its journal says so).
          ended = 'skipped';
          outcome.skipped++;
          io.results.skipped(result);
          return;
        }
        ended = 'uploaded';
        outcome.uploaded++;
        io.results.uploaded(result);
        if (journal && entry && !src.ephemeral) {
          // Written with the next batch; a kill before it lands leaves the finalize record, which
          // the next run resolves by looking the item up. A write that fails stops the run.
          journal.markDone(entry, { size: item.fp!.size, mtimeMs: item.fp!.mtimeMs, id: result.id, name: result.name }).catch((e) => failures.stateUnwritable(e));
        }
      } catch (e) {
        // Only a real interruption is reported as one: a finalize that completes after Ctrl-C and
        // fails keeps its own error line.
        const verdict = failures.judge(e);
        if (verdict === 'interrupted') outcome.interrupted = true;
        if (verdict !== 'failed') {
          ended = 'interrupted';
          if (e instanceof UploadInterrupted) addKept(outcome.kept, e.kept);
        } else if (e instanceof FolderFailure) {
          const line = failures.folderLine(e, (under) => items.filter((i) => !i.skip && !i.error && isUnder(i.src, under)).length);
          fail(line ?? e, src, line === undefined);
        } else {
          fail(e, src);
          if (e === item.error && (e as LakeupError).kind === 'input') outcome.failedForGood++;
        }
      } finally {
        progress?.end(tracker, item.fp?.size ?? 0, ended);
        io.view.untrack(tracker);
        await spool?.cleanup();
      }
    };

    let next = 0;
    const workers = Array.from({ length: Math.min(plan.jobs, items.length) }, async () => {
      while (next < items.length && !signal.aborted) await one(items[next++]);
    });
    await Promise.all(workers);
    outcome.stopped = failures.stoppedLine(items.length, items.length - outcome.uploaded - outcome.skipped - outcome.existing);
    if (outcome.stopped) outcome.exitCode = outcome.stopped.exitCode;
    else if (io.signal.aborted && settled(outcome) < outcome.total) outcome.interrupted = true;
  } finally {
    io.signal.removeEventListener('abort', onInterrupt);
    await dispatcher.close().catch(() => undefined);
    if (journal) {
      // Done when every file is in the drive, left out, or failed for good (a rerun would fail it
      // again): a missing or unreadable file does not keep the run pending for ever.
      const complete = !outcome.interrupted && !outcome.stopped && outcome.failed === outcome.failedForGood && settled(outcome) === outcome.total;
      try {
        if (complete) await journal.remove();
        else await journal.close();
      } catch {
        /* the files are in the drive either way */
      }
    }
    await runLock?.releaseAsync();
  }
  return outcome;
}

/** The run's journal (resumed, or new), under the run's lock: one process drives a run at a time. */
async function openJournal(plan: PutPlan, notice: (line: string) => void, signal: AbortSignal): Promise<{ journal: RunJournal; lock: Lock }> {
  const identity: RunIdentity = {
    provider: plan.provider,
    endpoint: plan.endpoint,
    parent: plan.parent,
    sources: plan.files.filter((f) => f !== '-').map((f) => path.resolve(f)),
    shard: plan.shard ? `${plan.shard.index}/${plan.shard.count}` : undefined,
    account: createHash('sha256').update(plan.token).digest('hex').slice(0, 12),
    cwd: process.cwd(),
    options: {
      recursive: plan.recursive || undefined,
      skipExisting: plan.skipExisting || undefined,
      onConflict: plan.onConflict,
      mimeType: plan.mimeType,
      partSize: plan.partSize,
      filters: plan.filters.length ? plan.filters : undefined,
      noFollowSymlinks: !plan.followSymlinks || undefined,
    },
  };
  const fresh = RunJournal.create(plan.stateDir, identity);
  let lock: Lock;
  try {
    lock = await acquireLock(plan.stateDir, `${fresh.key}-run`, notice, signal);
  } catch (e) {
    const err = e as LakeupError;
    if (err.code !== 'LOCKED') throw e;
    throw new LakeupError('state', err.message.replace('uploading this file', 'running this upload'), { code: 'LOCKED' });
  }
  try {
    if (!plan.resume) {
      await removeFile(fresh.file);
      return { journal: fresh, lock };
    }
    const loaded = await RunJournal.load(plan.stateDir, identity);
    if (loaded.status === 'ok') {
      if (loaded.damaged > 0) notice(`${loaded.damaged} unreadable line(s) of the run journal ${loaded.journal.file} were skipped`);
      return { journal: loaded.journal, lock };
    }
    if (loaded.status === 'invalid') {
      const aside = await setJournalAside(loaded.file);
      notice(`ignoring the journal of an earlier run because ${loaded.reason} (moved to ${aside}); files it recorded are uploaded again`);
    }
    return { journal: fresh, lock };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * Takes every file's fingerprint and judges it against the journal, before any file moves. The
 * stats are synchronous on purpose: ~2 µs each where an async one costs ~50 µs of CPU in thread
 * hand-offs (measured), and nothing is in flight yet for them to hold up.
 */
function scan(sources: Source[], journal: RunJournal | undefined): Item[] {
  const items: Item[] = sources.map((src) => ({ src }));
  for (const item of items) {
    if (item.src.file === '-') continue;
    try {
      item.fp = inspectFile(item.src.file);
    } catch (e) {
      // An empty file inside a folder (a .gitkeep) is skipped; one named on the command line fails.
      if (item.src.root !== undefined && (e as LakeupError).code === 'EMPTY') item.empty = true;
      else item.error = e;
      continue;
    }
    const done = journal?.finished.get(entryKey({ file: item.fp.path, to: shardKey(item.src) }));
    if (done && done.size === item.fp.size && done.mtimeMs === item.fp.mtimeMs) {
      item.skip = {
        ok: true,
        skipped: true,
        reason: 'already-uploaded',
        provider: journal!.identity.provider,
        file: item.src.display,
        name: done.name,
        id: done.id,
        size: item.fp.size,
      };
    }
  }
  return items;
}

/** Copera's MIME type for a file: --mime-type, else from the extension. MemoryLake takes none. */
function mimeTypeFor(plan: PutPlan, name: string): string | undefined {
  return plan.provider === 'copera' ? (plan.mimeType ?? lookupMimeType(name)) : undefined;
}

/** Whether a file is in the drive folder at `segments` or below it. */
function isUnder(src: Source, segments: string[]): boolean {
  return src.folder !== undefined && src.folder.length >= segments.length && segments.every((s, i) => src.folder![i] === s);
}

function prefixError(e: unknown, file: string): unknown {
  const err = e as LakeupError;
  if (err instanceof LakeupError && !err.message.startsWith(`${file}:`)) {
    return new LakeupError(err.kind, `${file}: ${err.message}`, { status: err.status, code: err.code, cause: err });
  }
  return e;
}

function addKept(to: KeptParts, k: KeptParts): void {
  to.parts += k.parts;
  to.of += k.of;
  to.bytes += k.bytes;
  to.total += k.total;
}
