// What `put` was asked to send, expanded into files: plain paths, "-" (standard input spooled to a
// temporary file, since both APIs need the size up front), and folders with --recursive.
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LakeupError } from '../errors.js';
import type { PutPlan } from './plan.js';

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

/** Every regular file under `root`, depth first, sorted, with its folder path. Symlinks are not followed. */
export async function walkFolder(root: string): Promise<Source[]> {
  const out: Source[] = [];
  const visit = async (dir: string, rel: string[]) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new LakeupError('input', `${dir}: cannot list it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await visit(p, [...rel, e.name]);
      else if (e.isFile()) out.push({ file: p, display: p, name: e.name, folder: rel, root });
    }
  };
  await visit(root, [path.basename(path.resolve(root))]);
  return out;
}

/** Expands "-" and, with --recursive, folders into the files to send. */
export async function expandSources(plan: Pick<PutPlan, 'files' | 'name' | 'recursive'>): Promise<Source[]> {
  const out: Source[] = [];
  for (const f of plan.files) {
    if (f === '-') {
      out.push({ file: '-', display: '-', name: plan.name!, ephemeral: true });
      continue;
    }
    let isDir = false;
    try {
      isDir = (await fs.stat(f)).isDirectory();
    } catch {
      /* a missing file is reported by the upload itself, with the others still sent */
    }
    if (isDir && plan.recursive) {
      if (plan.name !== undefined) throw new LakeupError('usage', '--name cannot rename the files of a folder');
      const files = await walkFolder(f);
      if (files.length === 0) throw new LakeupError('input', `${f}: the folder has no files`);
      for (const file of files) out.push(file); // spreading 150,000 arguments overflows the stack
    } else out.push({ file: f, display: f, name: plan.name ?? path.basename(f) });
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
