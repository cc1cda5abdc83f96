// A run: the files of one `put` (several paths, a --recursive folder, standard input), uploaded a
// few at a time. The run owns what its files share: the journal of finished files, the pacer for
// API calls, the pool of part slots, the drive folders. Each file's upload owns its own state.
import { LakeupError } from '../errors.js';
import { createDispatcher } from '../http/dispatcher.js';
import { ApiPacer } from '../http/pacer.js';
import { createProvider, type Provider } from '../providers/index.js';
import { entryKey, type JournalEntry, type RunJournal } from '../state/journal.js';
import type { Lock } from '../state/lock/index.js';
import { listStateFolder, stateId } from '../state/state-file.js';
import { UploadEvents } from '../events.js';
import { limiterFor } from '../transfer/limiter.js';
import { RateLimiter } from '../transfer/rate-limit.js';
import { loadMimeLookup, type MimeLookup } from '../util/mime.js';
import type { PutResult, SkippedResult } from '../types.js';
import { RerunCheck } from './rerun-check.js';
import type { LocalDigest } from './same-content.js';
import { FolderFailure, FolderTree } from './folders.js';
import { drivenElsewhere, RunFailures } from './run-failures.js';
import type { PutPlan } from './plan.js';
import { putFile, UploadInterrupted, type KeptParts, type TransferSettings } from './put-file.js';
import { deleteLeftState } from './upload-state.js';
import { openJournal } from './run-journal.js';
import { shardKey, spoolStdin, type Source } from './sources.js';
import { LeftOutTally, settled, type LeftOutCounts } from './left-out.js';
import { scanItems, type Item, type ScanCounts } from './run-items.js';
import { BoundedQueue, pump, type Lookahead } from './scan-queue.js';
import type { FileEnd, RunObserver } from './run-observer.js';

export interface RunIO {
  /** Progress, result lines, notices: whoever watches the run (the CLI's views). */
  watch: RunObserver;
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
  /** Found in the drive (same content; --skip-existing: same name and size). */
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
  /** Files cut off by an interruption with parts of theirs kept (the rest of the unsettled ones never started). */
  cutOff: number;
  /** The API refused the token, or the state folder cannot be written: the run stopped. Its one line, saying what was left unsent. */
  stopped?: LakeupError;
}

/** Files found and stat'ed ahead of the uploads, at most: the walk waits when the uploads are behind. */
export const SCAN_AHEAD = 1000;

const SEVERITY = [0, 2, 1, 3];

/**
 * Sends the files of `named` as they are found: a scan (run-items.ts) stats each and judges it
 * against the journal, a bounded queue (scan-queue.ts) holds at most SCAN_AHEAD of them, and
 * `--jobs` workers take from it. The run's totals are known once the walk is done.
 */
export async function runUploads(plan: PutPlan, named: Lookahead<Source>, io: RunIO): Promise<RunOutcome> {
  const outcome: RunOutcome = { total: 0, uploaded: 0, skipped: 0, existing: 0, failed: 0, failedForGood: 0, leftOut: {}, exitCode: 0, interrupted: false, kept: { parts: 0, of: 0, bytes: 0, total: 0 }, cutOff: 0 };
  // One file or many? Read ahead until two are to be sent, or a walked folder shows it is a run.
  const head = (await named.fill((h) => h.filter((s) => !s.leftOut).length > 1)).filter((s) => !s.leftOut);
  const many = head.length > 1;
  const isRun = many || head.some((s) => s.root !== undefined);
  const notice = (line: string) => io.watch.notice(`lakeup: ${line}`);
  const failures = new RunFailures(io.signal, many, io.abortNow, plan.stateDir, io.graceMs);
  const signal = failures.signal;
  const fail = (e: unknown, src: Source | undefined, said = false) => {
    outcome.failed++;
    // A folder's failure names the folder, not the file.
    const named = many && src && !(e instanceof FolderFailure) ? prefixError(e, src.display) : e;
    const code = io.reportFailure(named, src?.display, said);
    // The code that says most about what to do: a refused token (3), then a failure a rerun
    // resumes (1), then bad input (2).
    if (SEVERITY.indexOf(code) > SEVERITY.indexOf(outcome.exitCode)) outcome.exitCode = code;
  };

  const limiter = limiterFor(plan.concurrency, plan.limitRate);
  const dispatcher = createDispatcher({ connections: Math.max(8, limiter.max + plan.jobs + 2) });
  const pacer = new ApiPacer();
  const providerFor = (events?: UploadEvents): Provider =>
    createProvider(plan.provider, { endpoint: plan.endpoint, token: plan.token, dispatcher, signal, events, pacer });

  let runLock: Lock | undefined;
  let journal: RunJournal | undefined;
  if (isRun) {
    try {
      // A journal another token started is this run's if this token sees an item it recorded.
      ({ journal, lock: runLock } = await openJournal(plan, notice, () => providerFor(), signal));
    } catch (e) {
      await dispatcher.close().catch(() => undefined);
      // Ctrl-C while waiting for the run's lock (another host's lease): nothing was started.
      if ((e as LakeupError).kind === 'interrupted') {
        outcome.interrupted = true;
        return outcome;
      }
      // A state folder that cannot be written: the same one line as when it turns so mid-run; a run
      // another lakeup drives: one line too, as none of its files failed.
      // Nothing was sent: every file the walk finds is counted as not sent.
      const counts = await countRest(named);
      outcome.total = counts.total;
      outcome.stopped = failures.stateUnwritable(e) ? failures.stoppedLine(counts.files, counts.files) : drivenElsewhere(e, counts.files);
      if (outcome.stopped) outcome.exitCode = outcome.stopped.exitCode;
      else fail(e, undefined);
      outcome.failed = counts.files;
      return outcome;
    }
  }

  const onInterrupt = () => {
    const n = limiter.active;
    notice(n > 0 ? `stopping: finishing ${n} part${n === 1 ? '' : 's'} in flight — Ctrl-C again to stop now` : 'stopping: saving state');
  };
  io.signal.addEventListener('abort', onInterrupt, { once: true });
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
  const index = RerunCheck.indexFor(lookups, isRun, signal);
  const rerun = new RerunCheck(plan, index, notice, signal);
  const folders = new FolderTree(lookups, index, plan.parent, journal, notice);

  try {
    // Which files have a state or a lock of their own (a big file cut off earlier): one listing,
    // not a failed open per file.
    const known = await listStateFolder(plan.stateDir);
    // Copera's MIME types from the extensions (mime-db loads only here: MemoryLake takes none).
    const mimeOf = plan.provider === 'copera' && plan.mimeType === undefined ? await loadMimeLookup() : undefined;
    const tally = new LeftOutTally(plan.provider, io.watch, notice);
    outcome.leftOut = tally.counts;
    const counts: ScanCounts = { total: 0, files: 0, bytes: 0, done: false };
    const items = new BoundedQueue<Item>(SCAN_AHEAD);
    const scanning = pump(scanItems(named, journal, tally, counts), items);
    if (isRun) io.watch.runBegins(counts);

    /** Already uploaded (the ledger), or already in the drive (rerun-check.ts): what to say instead of sending it. */
    const alreadyThere = async (item: Item, parent: string | undefined, cut: boolean, digest: LocalDigest | undefined): Promise<SkippedResult | undefined> => {
      const { src, fp } = item;
      if (!fp || !digest || src.ephemeral) return undefined;
      const id = stateId(plan.provider, plan.endpoint, fp.path, { name: src.name, parent });
      const there = await rerun.find(src, fp, parent, digest, known.states.has(id) || cut);
      // What an earlier attempt left of this file (a big file cut off, even mid-finalize) has
      // nothing left to do: without this, its state would stay pending for good.
      if (there && (known.states.has(id) || known.locks.has(id))) await deleteLeftState(plan.stateDir, id);
      return there;
    };

    /** One file's upload (put-file.ts), with what the run shares. */
    const send = (item: Item, file: string, parent: string | undefined, entry: JournalEntry | undefined, events: UploadEvents, digest: LocalDigest | undefined) => {
      const { src } = item;
      const cut = entry && journal?.finalizing.get(entryKey(entry));
      return putFile({
        provider: providerFor(events),
        endpoint: plan.endpoint,
        file,
        fingerprint: item.fp,
        displayFile: src.display,
        dest: { name: src.name, parent, onConflict: plan.onConflict, mimeType: mimeTypeFor(plan, src.name, mimeOf) },
        partSize: plan.partSize,
        transfer,
        resume: plan.resume && !src.ephemeral,
        ephemeral: src.ephemeral,
        stateDir: plan.stateDir,
        limitRate: plan.limitRate,
        events,
        notice,
        signal,
        abortNow: failures.abortNow,
        onStateUnwritable: (e) => failures.stateUnwritable(e),
        run: journal && entry && !src.ephemeral ? { journal, entry } : undefined,
        known,
        attrs: plan.provider === 'memorylake' && digest ? () => digest.attrs(item.fp!) : undefined,
        cutOff: cut && cut.size === item.fp!.size && cut.mtimeMs === item.fp!.mtimeMs ? cut : undefined,
      });
    };

    /** A file in the drive: counted, said, remembered (the ledger) and recorded in the journal. */
    const uploaded = (item: Item, parent: string | undefined, entry: JournalEntry | undefined, result: PutResult, digest: LocalDigest | undefined) => {
      const { src } = item;
      outcome.uploaded++;
      io.watch.uploaded(result);
      if (item.fp && !src.ephemeral) rerun.record(src, item.fp, parent, result, digest);
      if (journal && entry && !src.ephemeral) {
        // Written with the next batch; a kill before it lands leaves the finalize record, which
        // the next run resolves by looking the item up. A write that fails stops the run.
        journal.markDone(entry, { size: item.fp!.size, mtimeMs: item.fp!.mtimeMs, id: result.id, name: result.name }).catch((e) => failures.stateUnwritable(e));
      }
    };

    /** What a file's failure means for it and the run; how the file ended. */
    const failed = (item: Item, error: unknown): FileEnd => {
      const { src } = item;
      const e = failures.asRunFailure(error, src);
      // Only a real interruption is reported as one: a finalize that completes after Ctrl-C and
      // fails keeps its own error line.
      const verdict = failures.judge(e);
      if (verdict === 'interrupted') outcome.interrupted = true;
      if (verdict !== 'failed') {
        if (e instanceof UploadInterrupted) {
          addKept(outcome.kept, e.kept);
          if (e.kept.parts > 0) outcome.cutOff++;
        }
        return 'interrupted';
      }
      if (e instanceof FolderFailure) {
        // Every file under it fails with it, said once: its line waits for the count.
        if (!failures.holdBack(e, src)) fail(e, src, true);
      } else {
        fail(e, src);
        if (e === item.error && (e as LakeupError).kind === 'input') outcome.failedForGood++;
      }
      return 'failed';
    };

    const one = async (item: Item): Promise<void> => {
      const { src } = item;
      if (item.skip) {
        outcome.skipped++;
        io.watch.fileSkipped(item.skip.size);
        io.watch.skipped(item.skip);
        return;
      }
      const events = new UploadEvents();
      const fileEnds = io.watch.fileBegins(src.folder ? [...src.folder, src.name].join('/') : src.name, src.display, events);
      let spool: { file: string; cleanup: () => Promise<void> } | undefined;
      let ended: FileEnd = 'failed';
      try {
        if (item.error) throw item.error;
        let file = src.file;
        if (file === '-') {
          spool = await spoolStdin(io.stdin, src.name, signal);
          file = spool.file;
        }
        const parent = src.folder ? await folders.id(src.folder) : plan.parent;
        const entry: JournalEntry | undefined = item.fp ? { file: item.fp.path, to: shardKey(src) } : undefined;
        const digest = item.fp && rerun.digestOf(item.fp);
        const there = await alreadyThere(item, parent, entry !== undefined && journal?.finalizing.get(entryKey(entry)) !== undefined, digest);
        if (there) {
          ended = 'skipped';
          if (there.reason === 'exists') outcome.existing++;
          else outcome.skipped++;
          io.watch.skipped(there);
          return;
        }
        const result = await send(item, file, parent, entry, events, digest);
        if ('skipped' in result) {
          // Finished by another lakeup while this run was going (its journal says so).
          ended = 'skipped';
          outcome.skipped++;
          io.watch.skipped(result);
          return;
        }
        ended = 'uploaded';
        uploaded(item, parent, entry, result, digest);
      } catch (e) {
        ended = failed(item, e);
      } finally {
        fileEnds(item.fp?.size ?? 0, ended);
        await spool?.cleanup();
      }
    };

    let walkFailure: { e: unknown } | undefined;
    const workers = Array.from({ length: Math.max(1, plan.jobs) }, async () => {
      while (!signal.aborted) {
        let next: IteratorResult<Item>;
        try {
          next = await items.next();
        } catch (e) {
          // The walk failed midway (a folder that cannot be listed): nothing more is started.
          walkFailure ??= { e };
          return;
        }
        if (next.done) return;
        await one(next.value);
      }
    });
    await Promise.all(workers);
    for (const { line, src } of failures.heldBackLines()) fail(line, src);
    if (walkFailure) {
      fail(walkFailure.e, undefined);
      items.cancel();
    } else if (failures.signal.aborted && !io.signal.aborted) {
      // The run stopped (a refused token, a state folder that cannot be written): the rest of the
      // walk is counted, to say how many files were not sent.
      for (;;) {
        const r = await items.next().catch(() => ({ done: true as const, value: undefined }));
        if (r.done) break;
      }
    } else if (io.signal.aborted) items.cancel(); // Ctrl-C: the total is what was found so far
    await scanning;
    outcome.total = counts.total;
    outcome.stopped = failures.stoppedLine(counts.files, counts.files - outcome.uploaded - outcome.skipped - outcome.existing);
    if (outcome.stopped) outcome.exitCode = outcome.stopped.exitCode;
    else if (io.signal.aborted && settled(outcome) < outcome.total) outcome.interrupted = true;
  } finally {
    io.signal.removeEventListener('abort', onInterrupt);
    await dispatcher.close().catch(() => undefined);
    // The ledger is a cache: a write that fails costs the next run a look in the drive, nothing more.
    await rerun.flush().catch(() => undefined);
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

/** The files of what is left of a stream, counted (a run that cannot start says how many it did not send). */
async function countRest(named: AsyncIterable<Source>): Promise<{ total: number; files: number }> {
  const c = { total: 0, files: 0 };
  try {
    for await (const s of named) {
      c.total++;
      if (!s.leftOut) c.files++;
    }
  } catch {
    /* counted as far as the walk went */
  }
  return c;
}

/** Copera's MIME type for a file: --mime-type, else from the extension. MemoryLake takes none. */
function mimeTypeFor(plan: PutPlan, name: string, mimeOf: MimeLookup | undefined): string | undefined {
  return plan.provider === 'copera' ? (plan.mimeType ?? mimeOf?.(name)) : undefined;
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
