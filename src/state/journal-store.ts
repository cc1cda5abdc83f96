// How a run's journal (journal.ts) is kept at scale: the finished files of earlier attempts in a
// compact index (one string per file, no object), its file read line by line (never whole into
// memory), and rewritten from the file itself with only what still counts when superseded lines
// pile up (a file's `fin` record once its `done` is written): a million-file run replays its journal
// in one pass over as many lines as files, and holds nothing per file it finished.
import fs from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { appendInBatches, writeAtomicWith } from './atomic-write.js';

export interface FinishedFile {
  size: number;
  mtimeMs: number;
  id: string;
  name: string;
}

const SEP = '\u0000';

/**
 * The files an earlier attempt of a run finished, by entry key: each one string
 * (`size␀mtime␀id␀name`), read into an object on demand, and let go of once the scan has judged its
 * file (`take`).
 */
export class FinishedIndex {
  private readonly m = new Map<string, string>();

  get size(): number {
    return this.m.size;
  }

  set(key: string, f: FinishedFile): this {
    this.m.set(key, `${f.size}${SEP}${f.mtimeMs}${SEP}${f.id}${SEP}${f.name}`);
    return this;
  }

  get(key: string): FinishedFile | undefined {
    const v = this.m.get(key);
    return v === undefined ? undefined : unpack(v);
  }

  /** The entry, removed: the walk finds a file once, so the scan asks once and the memory goes. */
  take(key: string): FinishedFile | undefined {
    const v = this.m.get(key);
    if (v === undefined) return undefined;
    this.m.delete(key);
    return unpack(v);
  }

  has(key: string): boolean {
    return this.m.has(key);
  }

  delete(key: string): boolean {
    return this.m.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.m.keys();
  }

  *values(): IterableIterator<FinishedFile> {
    for (const v of this.m.values()) yield unpack(v);
  }

  *entries(): IterableIterator<[string, FinishedFile]> {
    for (const [k, v] of this.m) yield [k, unpack(v)];
  }
}

function unpack(v: string): FinishedFile {
  const a = v.indexOf(SEP);
  const b = v.indexOf(SEP, a + 1);
  const c = v.indexOf(SEP, b + 1);
  return { size: Number(v.slice(0, a)), mtimeMs: Number(v.slice(a + 1, b)), id: v.slice(b + 1, c), name: v.slice(c + 1) };
}

/**
 * The whole lines of a file, read a chunk at a time and given a chunk's lines at a time (one await
 * per chunk, not per line: a replay of 100,000 lines costs no 100,000 generator hops); a last line
 * without its newline (torn by a crash mid-write) is left out. `read.bytes`: how far the lines went
 * (what a rewrite covers). `upTo`: read no further than this byte (what was there when a rewrite began).
 * `file`: a path, or a handle open for reading (read from its start, left open).
 */
export async function* readLines(file: string | fs.FileHandle, read: { bytes: number } = { bytes: 0 }, chunk = 1 << 20, upTo = Infinity): AsyncGenerator<string[]> {
  // A handle given is read, not closed: its owner may still need it (ledger-spill.ts).
  const h = typeof file === 'string' ? await fs.open(file, 'r') : file;
  try {
    const buf = Buffer.allocUnsafe(chunk);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let pos = 0;
    for (;;) {
      const { bytesRead } = await h.read(buf, 0, Math.min(chunk, upTo - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const text = rest + decoder.write(buf.subarray(0, bytesRead));
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        rest = text;
        continue;
      }
      const lines = text.slice(0, end).split('\n');
      read.bytes += Buffer.byteLength(text.slice(0, end)) + 1;
      rest = text.slice(end + 1);
      yield lines;
    }
  } finally {
    if (typeof file === 'string') await h.close();
  }
}

/**
 * Rewrites `file` as `lines` (the header, then every record that still counts), atomically: a kill
 * at any point leaves the old file or the new one, whole. `covered`: the bytes of the old file that
 * `lines` stand for; whatever another process appended after them meanwhile (recordDoneInRun) is
 * carried over.
 */
export async function rewriteJournal(file: string, lines: Iterable<string> | AsyncIterable<string>, covered: number): Promise<void> {
  await writeAtomicWith(file, async (h) => {
    await appendInBatches(h, withNewlines(lines));
    // Appended by another process since the old file was read: kept, after what it followed.
    const old = await fs.open(file, 'r');
    try {
      const { size: now } = await old.stat();
      if (now > covered) {
        const tail = Buffer.alloc(now - covered);
        await old.read(tail, 0, tail.length, covered);
        await h.appendFile(tail);
      }
    } finally {
      await old.close();
    }
  });
}

async function* withNewlines(lines: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  for await (const line of lines) yield `${line}\n`;
}
