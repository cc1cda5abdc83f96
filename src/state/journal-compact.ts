// A run's journal rewritten from its own file with only the records that still count (journal.ts
// calls it when superseded lines pile up). Two passes over the file, neither holding it whole nor
// anything per finished file:
// 1. which `fin` records are still open at the end (no later `done`, `nofin` or `fin` of the same file);
// 2. the file again, keeping the header, every `done`, `dir` and `acct` record, and the open `fin`s,
//    in their order.
// A replay of what is kept makes the same journal as a replay of the whole file: a `fin` closed or
// replaced by a later record of its file, and a `nofin` (which only closes a `fin`), change nothing
// in it. A line a replay cannot use (damaged) is left out. Only what is in the file counts: a record
// this process has yet to write is appended after the rewrite, as it would have been before it.
import fs from 'node:fs/promises';
import { entryKey, finishedOf, isCount, isEntry, type JournalRecord } from './journal-format.js';
import { readLines, rewriteJournal } from './journal-store.js';

/** Bytes read at a time: strings of a chunk stay small (a megabyte's would each go to V8's large-object space until a full collection). */
const CHUNK = 64 << 10;

export interface Compacted {
  /** Record lines kept (the header not counted), and of them the `done` ones. */
  lines: number;
  done: number;
}

/** Rewrites `file` (atomically) with the records that still count; what is appended meanwhile is kept. */
export async function compactJournal(file: string): Promise<Compacted> {
  // What is there now, whole lines only; another process's later appends are carried over as they are.
  const { size } = await fs.stat(file);
  const covered = { bytes: 0 };
  const open = new Map<string, number>();
  let n = 0;
  for await (const rows of readLines(file, covered, CHUNK, size)) {
    for (const row of rows) {
      const r = n === 0 ? undefined : recordOf(row);
      if (r?.t === 'fin') open.set(r.key, n);
      else if (r?.t === 'done' || r?.t === 'nofin') open.delete(r.key);
      n++;
    }
  }
  const kept: Compacted = { lines: 0, done: 0 };
  async function* live(): AsyncGenerator<string> {
    let i = 0;
    for await (const rows of readLines(file, { bytes: 0 }, CHUNK, covered.bytes)) {
      for (const row of rows) {
        const at = i++;
        if (at === 0) {
          yield row; // the header
          continue;
        }
        const r = recordOf(row);
        if (!r || r.t === 'nofin' || (r.t === 'fin' && open.get(r.key) !== at)) continue;
        if (r.t === 'done') kept.done++;
        kept.lines++;
        yield row;
      }
    }
  }
  await rewriteJournal(file, live(), covered.bytes);
  return kept;
}

/** A line's record kind, and its file's entry key for the records of a file; undefined when a replay would skip it. */
function recordOf(line: string): { t: JournalRecord['t']; key: string } | undefined {
  let r: JournalRecord;
  try {
    r = JSON.parse(line) as JournalRecord;
  } catch {
    return undefined;
  }
  if (!r || typeof r !== 'object') return undefined;
  switch (r.t) {
    case 'fin':
      return isEntry(r) && isCount(r.size) && isCount(r.mtimeMs) && isCount(r.at) ? { t: r.t, key: entryKey({ file: r.f, to: r.to }) } : undefined;
    case 'nofin':
      return isEntry(r) ? { t: r.t, key: entryKey({ file: r.f, to: r.to }) } : undefined;
    case 'done': {
      const done = finishedOf(r);
      return done ? { t: r.t, key: done.key } : undefined;
    }
    case 'dir':
      return Array.isArray(r.path) && typeof r.id === 'string' && r.id ? { t: r.t, key: '' } : undefined;
    case 'acct':
      return typeof r.a === 'string' && r.a ? { t: r.t, key: '' } : undefined;
    default:
      return undefined;
  }
}
