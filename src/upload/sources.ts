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
import { walkFolder } from './walk.js';

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

/** Expands "-" and, with --recursive, folders into the files to send; what is left out stays, marked. */
export async function expandSources(plan: Pick<PutPlan, 'files' | 'name' | 'recursive' | 'filters' | 'followSymlinks'>): Promise<Source[]> {
  const out: Source[] = [];
  const filter = new FileFilter(plan.filters ?? []);
  for (const f of plan.files) {
    if (f === '-') {
      out.push({ file: '-', display: '-', name: plan.name!, ephemeral: true });
      continue;
    }
    let st: import('node:fs').Stats | undefined;
    try {
      st = await fs.stat(f);
    } catch {
      /* a missing file is reported by the upload itself, with the others still sent */
    }
    // Refused before anything is sent: reading a FIFO or a device would never end, or block.
    if (st && !st.isFile() && !st.isDirectory()) {
      throw new LakeupError('input', `${f}: ${specialKind(st)}; to send what it carries, pipe it in: lakeup put - --name NAME`);
    }
    if (st?.isDirectory() && plan.recursive) {
      if (plan.name !== undefined) throw new LakeupError('usage', '--name cannot rename the files of a folder');
      const files = await walkFolder(f, { followSymlinks: plan.followSymlinks ?? true, filter });
      if (files.length === 0) throw new LakeupError('input', `${f}: the folder has no files`);
      for (const file of files) out.push(file); // spreading 150,000 arguments overflows the stack
    } else {
      const src: Source = { file: f, display: f, name: plan.name ?? path.basename(f) };
      out.push(filter.active && !filter.sends(filterPath(f)) ? { ...src, leftOut: { reason: 'excluded' } } : src);
    }
  }
  // The same file to the same place twice (`put a.txt ./a.txt`, `put -r A/sub A`) is one upload.
  const seen = new Set<string>();
  return out.filter((s) => {
    if (s.file === '-') return true;
    const key = `${path.resolve(s.file)}\n${shardKey(s)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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

/** With --shard K/N, the files of shard K only. */
export function selectShard(sources: Source[], shard: { index: number; count: number } | undefined): Source[] {
  return shard ? sources.filter((s) => shardOf(s, shard.count) === shard.index) : sources;
}
