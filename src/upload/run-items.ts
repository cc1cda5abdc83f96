// The scan of a run, file by file as the walk finds them: each file's fingerprint (size, mtime),
// judged against the journal (finished by an earlier attempt: skipped), what is left out told and
// counted. Runs ahead of the uploads through a bounded queue (scan-queue.ts); what it counts is the
// run's total, known once the walk is done.
import type { LakeupError } from '../errors.js';
import { entryKey, type RunJournal } from '../state/journal.js';
import type { FileFingerprint, SkippedResult } from '../types.js';
import type { LeftOutTally } from './left-out.js';
import { checkReadable, inspectFile } from './local-file.js';
import { shardKey, type Source } from './sources.js';

/** A file of the run after the scan: what to send, and what is known of it already. */
export interface Item {
  src: Source;
  fp?: FileFingerprint;
  /** Why it cannot be sent (missing, unreadable): reported when its turn comes. */
  error?: unknown;
  skip?: SkippedResult;
}

/** What the scan found so far; `done` once the walk is through (the totals are then the run's). */
export interface ScanCounts {
  /** Every file named or found, left out or not. */
  total: number;
  /** Files to send (or skip as sent), and their bytes. */
  files: number;
  bytes: number;
  done: boolean;
}

/**
 * The files of `sources` to send, each stat'ed and judged against the journal; what is left out
 * (an --exclude, a link, a loop, a FIFO, an empty file in a folder) goes to `tally` instead. The
 * stats are synchronous on purpose: ~2 µs each where an async one costs ~50 µs of CPU in thread
 * hand-offs (measured).
 */
export async function* scanItems(sources: AsyncIterable<Source>, journal: RunJournal | undefined, tally: LeftOutTally, counts: ScanCounts): AsyncGenerator<Item> {
  for await (const src of sources) {
    counts.total++;
    if (src.leftOut) {
      tally.add({ src, ...src.leftOut });
      continue;
    }
    const item: Item = { src };
    if (src.file !== '-') {
      try {
        // With a journal, whether it can be read is asked only of a file to send: one system call
        // less for each of the 50,000 files a rerun of a cut-off run skips before its first new one.
        item.fp = inspectFile(src.file, { checkReadable: !journal });
      } catch (e) {
        // An empty file inside a folder (a .gitkeep) is skipped; one named on the command line fails.
        if (src.root !== undefined && (e as LakeupError).code === 'EMPTY') {
          tally.add({ src, reason: 'empty' });
          continue;
        }
        item.error = e;
      }
    }
    if (item.fp && journal) {
      const done = journal.finished.take(entryKey({ file: item.fp.path, to: shardKey(src) }));
      if (done && done.size === item.fp.size && done.mtimeMs === item.fp.mtimeMs) {
        item.skip = {
          ok: true,
          skipped: true,
          reason: 'already-uploaded',
          provider: journal.identity.provider,
          file: src.display,
          name: done.name,
          id: done.id,
          size: item.fp.size,
        };
      }
      if (!item.skip) {
        try {
          checkReadable(src.file, item.fp.path);
        } catch (e) {
          item.error = e;
          item.fp = undefined;
        }
      }
    }
    counts.files++;
    counts.bytes += item.fp?.size ?? 0;
    yield item;
  }
  counts.done = true;
  tally.finish();
}
