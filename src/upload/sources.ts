// What `put` was asked to send, expanded into files: plain paths, "-" (standard input spooled to a
// temporary file, since both APIs need the size up front), and folders with --recursive (walk.ts).
// --include/--exclude apply to every path (filters.ts); what they leave out is kept, marked.
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LakeupError } from '../errors.js';
import { FileFilter, filterPath } from './filters.js';
import { specialKind } from './local-file.js';
import type { LeftOutReason } from './left-out.js';
import type { PutPlan } from './plan.js';
import { walkSources } from './walk.js';

export interface Source {
  /** The path to read. */
  file: string;
  /** What the user called it (for messages and --json). */
  display: string;
  /** Name in the drive. */
  name: string;
  /** Folder path relative to the uploaded folder ('' for its top), for --recursive. */
  folder?: string[];
  /** The folder given on the command line that this file was found under (--recursive). */
  root?: string;
  /** Spooled stdin: removed after the upload, never resumed. */
  ephemeral?: boolean;
  /** Not sent, and why (an --exclude, a link not followed, a loop, a FIFO): counted and said by the run. */
  leftOut?: { reason: LeftOutReason; why?: string };
}

/**
 * Spools standard input to a private temp file; `cleanup` removes it. Ctrl-C stops the spooling,
 * and the spool is removed even when the process exits at once (a second Ctrl-C).
 */
export async function spoolStdin(
  input: NodeJS.ReadableStream,
  name: string,
  signal?: AbortSignal,
): Promise<{ file: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakeup-stdin-'));
  const file = path.join(dir, name);
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', onExit);
  const cleanup = async () => {
    process.off('exit', onExit);
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await pipeline(input, createWriteStream(file, { mode: 0o600 }), { signal });
  } catch (err) {
    await cleanup();
    if (signal?.aborted) throw signal.reason;
    throw new LakeupError('input', `could not read standard input: ${(err as Error).message}`);
  }
  // Said here, of what the user named: the spool's own path means nothing to them.
  if ((await fs.stat(file)).size === 0) {
    await cleanup();
    throw new LakeupError('input', '-: standard input is empty; neither provider stores empty files');
  }
  return { file, cleanup };
}

/**
 * Expands "-" and, with --recursive, folders into the files to send, as they are found (a folder's
 * walk goes on while its first files are sent); what is left out comes too, marked. With --shard,
 * only that shard's files.
 */
export async function streamSources(
  plan: Pick<PutPlan, 'files' | 'name' | 'recursive' | 'filters' | 'followSymlinks' | 'shard'>,
): Promise<AsyncGenerator<Source>> {
  // What was named is checked before anything is sent: a FIFO, --name with a folder.
  const stats: Array<import('node:fs').Stats | undefined> = [];
  for (const f of plan.files) {
    let st: import('node:fs').Stats | undefined;
    try {
      if (f !== '-') st = await fs.stat(f);
    } catch {
      /* a missing file is reported by the upload itself, with the others still sent */
    }
    // Refused before anything is sent: reading a FIFO or a device would never end, or block.
    if (st && !st.isFile() && !st.isDirectory()) {
      throw new LakeupError('input', `${f}: ${specialKind(st)}; to send what it carries, pipe it in: lakeup put - --name NAME`);
    }
    if (st?.isDirectory() && plan.recursive && plan.name !== undefined) throw new LakeupError('usage', '--name cannot rename the files of a folder');
    stats.push(st);
  }
  return found(plan, stats);
}

async function* found(plan: Pick<PutPlan, 'files' | 'name' | 'recursive' | 'filters' | 'followSymlinks' | 'shard'>, stats: Array<import('node:fs').Stats | undefined>): AsyncGenerator<Source> {
  const filter = new FileFilter(plan.filters ?? []);
  const inShard = (s: Source) => !plan.shard || shardOf(s, plan.shard.count) === plan.shard.index;
  // The same file to the same place twice (`put a.txt ./a.txt`, `put -r A ./A`) is one upload. A
  // walk never finds one file twice under one name, so a folder is told by its path: only the
  // paths named, never every file found, are held for this.
  const seen = new Set<string>();
  const once = (key: string) => !seen.has(key) && Boolean(seen.add(key));
  for (const [i, f] of plan.files.entries()) {
    if (f === '-') {
      const src: Source = { file: '-', display: '-', name: plan.name!, ephemeral: true };
      if (inShard(src)) yield src;
      continue;
    }
    if (stats[i]?.isDirectory() && plan.recursive) {
      if (!once(`dir\n${path.resolve(f)}`)) continue;
      let found = 0;
      for await (const src of walkSources(f, { followSymlinks: plan.followSymlinks ?? true, filter })) {
        found++;
        if (inShard(src)) yield src;
      }
      if (found === 0) throw new LakeupError('input', `${f}: the folder has no files`);
    } else {
      const src: Source = { file: f, display: f, name: plan.name ?? path.basename(f) };
      if (!once(`${path.resolve(f)}\n${shardKey(src)}`) || !inShard(src)) continue;
      yield filter.active && !filter.sends(filterPath(f)) ? { ...src, leftOut: { reason: 'excluded' } } : src;
    }
  }
}

/**
 * The path that decides a file's shard: relative to what was named on the command line (the
 * folder's own name first for --recursive), '/'-separated, so every machine of a CI matrix agrees.
 */
export function shardKey(src: Source): string {
  return src.folder ? [...src.folder, src.name].join('/') : src.name;
}

/** The shard (1-based) of `count` a file falls into. */
export function shardOf(src: Source, count: number): number {
  const h = createHash('sha256').update(shardKey(src)).digest();
  return (h.readUInt32BE(0) % count) + 1;
}
